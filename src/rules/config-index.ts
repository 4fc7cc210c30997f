// In-memory index of the TopologyConfigs (and of the endpoint-key Secrets),
// fed by informer events in the webhook and by files in the offline command.
// Every question the rules ask is answered by map lookups, so admission stays
// fast with tens of thousands of configs.
//
// Configs being deleted (deletionTimestamp set) are kept for get() and
// configsOfTarget() but take no part in conflicts, sizes or positions: the
// merge leaves them out too.
import { isDeepStrictEqual } from 'node:util';
import type { PositionBand } from './view.ts';
import type { EndpointKey } from '../crypto/aes-gcm.ts';
import type { NamespacedName } from '../resource/names.ts';
import { formatNamespacedName, parseNamespacedName } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { ConflictMaps } from './conflict-maps.ts';
import { KeySecretPoints } from './deny-list.ts';
import type { Conflict, Overlap } from './conflicts.ts';
import type { ConfigFacts } from './facts.ts';
import { factsAfter, factsOf } from './facts.ts';
import { resolveEndpoints } from './encryption.ts';
import { renderedSize } from '../secret-format/size.ts';
import type { ConfigView, KeySet } from './view.ts';

interface Indexed {
  config: TopologyConfig;
  facts: ConfigFacts;
  bytes: number;
  live: boolean;
  /** `namespace/name` of its endpointDecryptSecret, if any. */
  keySecret: string | undefined;
}

const NOT_FOUND: KeySet = Object.freeze({ found: false, keys: [] });

/** Positions of one target: a count per position and the cached maximum. */
class PositionCounts {
  #counts = new Map<number, number>();
  #max = 0;
  add(p: number): void {
    this.#counts.set(p, (this.#counts.get(p) ?? 0) + 1);
    if (p > this.#max) this.#max = p;
  }
  remove(p: number): void {
    const n = (this.#counts.get(p) ?? 0) - 1;
    if (n > 0) return void this.#counts.set(p, n);
    this.#counts.delete(p);
    // Only removing the last holder of the maximum costs a pass over the distinct positions.
    if (p === this.#max) this.#max = Math.max(0, ...this.#counts.keys());
  }
  get max(): number {
    return this.#max;
  }
  /** The highest position within [min, max]; 0 when none (a pass over the distinct positions). */
  maxIn(min: number, max: number): number {
    if (this.#max <= max) return this.#max >= min ? this.#max : 0;
    let found = 0;
    for (const p of this.#counts.keys()) if (p >= min && p <= max && p > found) found = p;
    return found;
  }
  get empty(): boolean {
    return this.#counts.size === 0;
  }
}

/** Same effective endpoints (compared by their hashes; an undecrypted one renders as written). */
const sameEndpoints = (a: ConfigFacts, b: ConfigFacts): boolean =>
  a.backends.length === b.backends.length &&
  a.backends.every((backend, i) => backend.endpointHash === b.backends[i]!.endpointHash);

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = create()));
  return value;
}

export class ConfigIndex implements ConfigView {
  #records = new Map<string, Indexed>();
  #maps = new ConflictMaps();
  #byTarget = new Map<string, Set<string>>();
  #bytes = new Map<string, number>();
  #positions = new Map<string, PositionCounts>();
  #keys = new Map<string, KeySet>();
  #keyUsers = new Map<string, Set<string>>();
  #keyPoints = new KeySecretPoints();

  /** Adds or replaces a config (keyed by namespace/name); one without a name is ignored. */
  upsert(config: TopologyConfig): void {
    const namespace = config.metadata?.namespace ?? '';
    const name = config.metadata?.name;
    if (!name) return;
    const key = `${namespace}/${name}`;
    const before = this.#records.get(key);
    const { endpoints } = resolveEndpoints(config, this);
    const facts = before
      ? factsAfter(before.config, config, endpoints)
      : factsOf(config, endpoints);
    // The same facts (a finalizer or a status write that leaves it as Active
    // as it was): every map holds what it held, only the object is new.
    if (before?.facts === facts && before.live === !config.metadata?.deletionTimestamp) {
      this.#records.set(key, { ...before, config });
      return;
    }
    this.remove(namespace, name);
    this.#add(config, facts, endpoints, before);
  }

  remove(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const record = this.#records.get(key);
    if (!record) return;
    this.#records.delete(key);
    const { facts, live, keySecret } = record;
    const target = facts.target;
    if (keySecret) this.#keyUsers.get(keySecret)?.delete(key);
    if (keySecret && this.#keyUsers.get(keySecret)?.size === 0) {
      this.#keyUsers.delete(keySecret);
      this.#keyPoints.remove(keySecret);
    }
    if (target === undefined) return;
    const members = this.#byTarget.get(target)!;
    members.delete(key);
    if (members.size === 0) this.#byTarget.delete(target);
    if (!live) return;
    this.#maps.remove(facts);
    this.#bytes.set(target, (this.#bytes.get(target) ?? 0) - record.bytes);
    if (this.#bytes.get(target) === 0) this.#bytes.delete(target);
    if (facts.position === undefined) return;
    const positions = this.#positions.get(target)!;
    positions.remove(facts.position);
    if (positions.empty) this.#positions.delete(target);
  }

  /**
   * Records the keys of an endpoint-key Secret (undefined: it does not exist;
   * labeled false: it exists without ENDPOINT_KEYS_LABEL) and re-indexes the
   * configs that use it, whose endpoints are compared decrypted. overLimit:
   * it exists, but the cache keeps no more key Secrets (its keys are unknown).
   */
  setKeys(
    ref: NamespacedName,
    keys: EndpointKey[] | undefined,
    labeled = true,
    overLimit = false,
  ): void {
    const secret = formatNamespacedName(ref);
    if (keys === undefined) this.#keys.delete(secret);
    else if (overLimit) this.#keys.set(secret, { found: true, keys: [], labeled, overLimit });
    else this.#keys.set(secret, { found: true, keys: labeled ? keys : [], labeled });
    for (const key of [...(this.#keyUsers.get(secret) ?? [])]) {
      const config = this.#records.get(key)!.config;
      this.upsert(config);
    }
  }

  keysOf(ref: NamespacedName): KeySet {
    return this.#keys.get(formatNamespacedName(ref)) ?? NOT_FOUND;
  }

  #add(
    config: TopologyConfig,
    facts: ConfigFacts,
    endpoints: readonly (string | undefined)[],
    before?: Indexed,
  ): void {
    const secret = config.spec?.endpointDecryptSecret;
    const ref = typeof secret === 'string' ? parseNamespacedName(secret) : undefined;
    // Most updates are the reconciler's status writes and finalizers: the
    // entry (key and YAML, from the spec, name and endpoints) is the one
    // already measured, and rendering it again is most of an update's cost.
    const sameEntry =
      before !== undefined &&
      sameEndpoints(before.facts, facts) &&
      isDeepStrictEqual(before.config.spec, config.spec);
    const record: Indexed = {
      config,
      facts,
      bytes: sameEntry ? before.bytes : (renderedSize(config, endpoints) ?? 0),
      live: !config.metadata?.deletionTimestamp,
      keySecret: ref ? formatNamespacedName(ref) : undefined,
    };
    this.#records.set(facts.key, record);
    if (record.keySecret) {
      getOrCreate(this.#keyUsers, record.keySecret, () => new Set()).add(facts.key);
      this.#keyPoints.add(record.keySecret);
    }
    const target = facts.target;
    if (target === undefined) return;
    getOrCreate(this.#byTarget, target, () => new Set()).add(facts.key);
    if (!record.live) return;
    this.#maps.add(facts);
    this.#bytes.set(target, (this.#bytes.get(target) ?? 0) + record.bytes);
    if (facts.position === undefined) return;
    getOrCreate(this.#positions, target, () => new PositionCounts()).add(facts.position);
  }

  get(namespace: string, name: string): TopologyConfig | undefined {
    return this.#records.get(`${namespace}/${name}`)?.config;
  }

  /** Every target some config names (deleting ones too). */
  targets(): Iterable<string> {
    return this.#byTarget.keys();
  }

  /** Every config naming `target` (deleting ones too), sorted by namespace/name. */
  configsOfTarget(target: string): TopologyConfig[] {
    return [...(this.#byTarget.get(target) ?? [])]
      .sort()
      .map((key) => this.#records.get(key)!.config);
  }

  /** The number of configs held. */
  get size(): number {
    return this.#records.size;
  }

  findConflicts(facts: ConfigFacts): Conflict[] {
    return this.#maps.conflicts(facts);
  }

  findOverlaps(facts: ConfigFacts): Overlap[] {
    return this.#maps.overlaps(facts);
  }

  targetBytes(target: string): number {
    return this.#bytes.get(target) ?? 0;
  }

  entryBytes(namespace: string, name: string): number {
    const record = this.#records.get(`${namespace}/${name}`);
    return record?.live ? record.bytes : 0;
  }

  factsOfVersion(config: TopologyConfig): ConfigFacts | undefined {
    const { namespace, name, uid, resourceVersion } = config.metadata ?? {};
    if (typeof uid !== 'string' || typeof resourceVersion !== 'string') return undefined;
    const record = this.#records.get(`${namespace ?? ''}/${name ?? ''}`);
    const held = record?.config.metadata;
    if (held?.uid !== uid || held.resourceVersion !== resourceVersion) return undefined;
    // The index decrypts without the policy; only a key Secret in another
    // namespace is something the policy can refuse, and then facts differ.
    const reference: unknown = config.spec?.endpointDecryptSecret;
    const secret = typeof reference === 'string' ? parseNamespacedName(reference) : undefined;
    if (secret && secret.namespace !== namespace) return undefined;
    return record!.facts;
  }

  keySecretPoints(): KeySecretPoints {
    return this.#keyPoints;
  }

  maxPosition(target: string, band?: PositionBand): number {
    const positions = this.#positions.get(target);
    if (!positions) return 0;
    return band ? positions.maxIn(band.min, band.max) : positions.max;
  }
}
