// The deterministic merge: from the configs and the entries already written
// to the data of each target Secret and the outcome of every config. The
// webhook is the fast path, this is the truth: a config that bypassed the
// webhook is judged here by the same rules (validateStatic, decryption, the
// deny list, the append-only rules, the shared conflict maps, the size limit).
//
// The invariant: an entry leaves a Secret only when its config is deleted (or
// changed under an authorised override). An incumbent, the config whose entry
// the Secret holds, is first given its written entry; its current generation
// replaces that entry only if it passes every rule against everything else the
// Secrets hold, and otherwise the written entry stays and the config is in
// Error saying what is kept and why (a key-Secret failure, a policy change, a
// size overflow, a conflict, a stale cache). So an incumbent wins every
// conflict against a newcomer, whatever the positions. Two incumbents never
// conflict: each change is checked against the other's entry. Newcomers come
// after: in one target the lower position wins, then the older, then
// namespace/name; a backend name claimed in two targets goes to the older
// config (positions of different Secrets are not comparable).
//
// Determinism: the same configs and the same written entries, in any order,
// give byte-identical data and the same outcomes.
import type { TopologyConfig } from '../resource/types.ts';
import { objectKey, parseNamespacedName } from '../resource/names.ts';
import { isRecord, stringifyJson } from '../resource/json.ts';
import { isActive, requestsOverride, validateActiveUpdate } from '../rules/append-only.ts';
import { ConflictMaps } from '../rules/conflict-maps.ts';
import { conflictError, type Conflict } from '../rules/conflicts.ts';
import type { ConfigFacts } from '../rules/facts.ts';
import { compareFacts, factsOf } from '../rules/facts.ts';
import { formatFieldError } from '../rules/field-errors.ts';
import { namespacedNameProblem } from '../rules/formats.ts';
import type { FieldError } from '../rules/field-errors.ts';
import type { Resolved } from '../rules/index.ts';
import { resolveConfig, validateStatic } from '../rules/index.ts';
import type { Policy } from '../rules/policy.ts';
import { targetAllowed, targetOf } from '../rules/policy.ts';
import { sizeError } from '../rules/size.ts';
import { deniedKeySecrets, KeySecretPoints } from '../rules/deny-list.ts';
import { writtenEndpoints } from '../rules/encryption.ts';
import {
  POSITION_DIGITS,
  parseSecretKey,
  entryBackends,
  renderEntry,
  secretKeyFor,
} from '../secret-format/entry.ts';
import { entrySize } from '../secret-format/size.ts';
import type { KeyLookup } from '../rules/view.ts';
import { parse } from 'yaml';
import { hash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  ownerBytes,
  type EntryOwner,
  type WrittenEntries,
  type WrittenEntry,
} from './incumbents.ts';
import type { ConditionReason } from './conditions.ts';

export interface MergeOutcome {
  state: 'Active' | 'Error';
  /** Why it is in Error, or where it was merged; never an endpoint or a key. */
  reason: string;
  /** The CamelCase reason its conditions carry. */
  cause: ConditionReason;
  /** Its data key in the Secret (Active, or kept). */
  key?: string;
  /** In Error, but its last written entry stays in the Secret. */
  kept?: boolean;
}

export interface MergeResult {
  /** Data key → YAML of the configs the Secret holds, keys sorted. */
  data: Record<string, string>;
  /** Data key → the config each entry is written for (the Secret's incumbency annotation). */
  owners: Map<string, EntryOwner>;
  /** Per config (`namespace/name`) of this target; configs being deleted have none. */
  outcomes: Map<string, MergeOutcome>;
  /** Whether the target is a well-formed namespace/name that the policy allows; if not, nothing may be written. */
  targetAllowed: boolean;
}

export interface MergeState {
  /** What each target Secret holds now, with the owner of each entry (incumbents.ts). */
  written?: WrittenEntries;
  /**
   * Whether an incumbent's change that could strand data (a backend renamed,
   * re-pointed, removed or moved, a selector or the position changed) is
   * authorised. Default: the override annotation is set.
   */
  authorised?: (config: TopologyConfig) => boolean;
  /**
   * Uids of configs that exist though the configs given do not show them (a
   * cache behind the API server, checked by the caller): their entries stay
   * as written.
   */
  present?: ReadonlySet<string>;
  /**
   * Newcomers (`namespace/name`) that must not be merged yet, with the reason:
   * their routes would take objects that already exist (the caller counted).
   */
  blocked?: ReadonlyMap<string, string>;
  /**
   * Every config of the cluster, when the configs given are only those of
   * the targets linked to one (linked.ts): the key Secrets they all name
   * stay unroutable, and what is remembered of the others' configs and
   * entries is kept.
   */
  cluster?: readonly TopologyConfig[];
}

/** Why a config cannot be merged, and the CamelCase reason of its conditions. */
interface Refused {
  reason: string;
  cause: ConditionReason;
}

interface Candidate {
  config: TopologyConfig;
  facts: ConfigFacts;
  target: string;
  endpoints: string[];
  /** What is remembered of its content (its rendering). */
  entry: Prepared;
}

/** A config whose entry a Secret holds, with that entry's own facts. */
interface Incumbent {
  raw: TopologyConfig;
  target: string;
  key: string;
  entry: WrittenEntry;
  facts: ConfigFacts;
  /** Its config exists but is not among the configs given: the entry is only held. */
  unseen?: boolean;
}

const joined = (errors: readonly FieldError[]) => errors.map(formatFieldError).join('; ');

/** One object per namespace/name; should the caller pass two, the choice must not depend on their order. */
function distinct(configs: readonly TopologyConfig[]): TopologyConfig[] {
  const chosen = new Map<string, TopologyConfig>();
  for (const config of configs) {
    const seen = chosen.get(objectKey(config));
    // Only a collision pays for serialising: the larger JSON wins, whatever the input order.
    if (!seen || stringifyJson(config) > stringifyJson(seen)) chosen.set(objectKey(config), config);
  }
  return [...chosen.values()];
}

// A reconcile of one target prepares the configs of every target linked to
// it by a backend name (linked.ts), and the static rules and the rendering
// cost more than the rest. Informer objects are replaced on change, never mutated,
// so an object's content and the policy determine its static verdict and its
// rendering (for given endpoints): remember them per object and, since a
// relist or a restarted watch brings new objects of the same content, per uid
// and content. What is remembered holds no object: a relist's old objects go
// (the rendering and the refusal are all it keeps of them). The facts are
// derived again for each new object (cheap, and factsOf hands back the ones
// the index derived, so one copy is held); encrypted endpoints depend on the
// key Secrets and are resolved each time.
interface Prepared {
  policy: Policy;
  /** Why the static rules refuse it; undefined when they pass. */
  refused: Refused | undefined;
  /** Plain endpoints only: the errors of its resolution (a function of content and policy). */
  resolvedErrors: FieldError[] | undefined;
  /**
   * The last rendering, the endpoints it was rendered with, and whether its
   * YAML reads back as the objects it was written from (checked when first needed).
   */
  rendered: Rendering | undefined;
}
interface PreparedObject {
  entry: Prepared;
  /** Plain endpoints only: this object's resolution. */
  resolved?: Resolved;
}
// A rendering is remembered by its digest, not its YAML: the Secret, read
// each reconcile, holds the YAML of every entry already written, and the
// merge takes it from there (the YAML held for every config was 4 MB of a
// 10,000-config server's heap). Only a changed or new entry is rendered.
interface Rendering {
  endpoints: readonly string[];
  length: number;
  digest: string;
  readsBack: boolean | undefined;
}
// An entry is compared several times in one merge (read back, its facts,
// renewed): its digest is worked out once per merge (V8 keeps a string's
// own hash, so the lookup does not hash it again). Emptied by each merge.
const digests = new Map<string, string>();
function digestOf(value: string): string {
  let digest = digests.get(value);
  if (digest === undefined) digests.set(value, (digest = hash('sha1', value, 'base64')));
  return digest;
}
/** Whether `value` is the YAML `rendering` was made of. */
const isRendering = (rendering: Rendering | undefined, value: string): boolean =>
  rendering !== undefined &&
  rendering.length === value.length &&
  rendering.digest === digestOf(value);

// Held per config, and read only: most configs have none, so all share these.
const NO_ERRORS = Object.freeze([]) as unknown as FieldError[];
const NO_WARNINGS = Object.freeze([]) as unknown as string[];
const prepared = new WeakMap<TopologyConfig, PreparedObject>();
/** uid → the latest content seen under it (a digest of its JSON) and what it prepared. */
const preparedByUid = new Map<string, { digest: string; entry: Prepared }>();

/**
 * What the merge judges and renders, as a short digest: the object without
 * managedFields (bookkeeping), resourceVersion and status. The reconciler's
 * own status writes change only those two, and with them in the digest each
 * one made the next merge judge, render and read back that config's entry
 * again (at 10,000 configs, 5 MB of entries read back were held). A status
 * cannot fail the static rules: the API server checks it against the same
 * schema when it is written.
 */
function contentDigest(raw: TopologyConfig): string {
  const {
    managedFields: _,
    resourceVersion: _version,
    ...metadata
  } = raw.metadata as typeof raw.metadata & { managedFields?: unknown };
  const { status: _status, ...content } = raw;
  return hash('sha1', stringifyJson({ ...content, metadata }), 'base64');
}

function refusalOf(raw: TopologyConfig, policy: Policy): Refused | undefined {
  const { config, verdict } = validateStatic(raw, policy);
  if (config && verdict.errors.length === 0) return undefined;
  // Forbidden field errors are the cluster policy's; the rest are the config's own.
  const denied = verdict.errors.some((e) => e.type === 'Forbidden');
  return { reason: joined(verdict.errors), cause: denied ? 'PolicyDenied' : 'Invalid' };
}

function preparedOnce(raw: TopologyConfig, policy: Policy): PreparedObject {
  const seen = prepared.get(raw);
  if (seen?.entry.policy === policy) return seen;
  const uid = raw.metadata?.uid;
  const digest = uid ? contentDigest(raw) : '';
  const same = uid ? preparedByUid.get(uid) : undefined;
  const entry =
    same?.digest === digest && same.entry.policy === policy
      ? same.entry
      : // Every field in the literal: one added later goes to a property array (0.4 MB at 10,000).
        {
          policy,
          refused: refusalOf(raw, policy),
          resolvedErrors: undefined,
          rendered: undefined,
        };
  const object: PreparedObject = { entry };
  prepared.set(raw, object);
  if (uid) preparedByUid.set(uid, { digest, entry });
  return object;
}

/** Forgets the uids of deleted configs once they outnumber the cluster's configs. */
function forgetDeleted(cluster: readonly TopologyConfig[]): void {
  if (preparedByUid.size <= 2 * cluster.length + 64) return;
  const live = new Set(cluster.map((c) => c.metadata?.uid));
  for (const uid of preparedByUid.keys()) if (!live.has(uid)) preparedByUid.delete(uid);
}

function resolvedOnce(
  object: PreparedObject,
  config: TopologyConfig,
  keys: KeyLookup,
  policy: Policy,
): Resolved {
  if (config.spec.endpointDecryptSecret) return resolveConfig(config, keys, policy);
  if (object.resolved) return object.resolved;
  const errors = object.entry.resolvedErrors;
  if (errors) {
    // A new object of content already resolved (a relist): its own endpoints and facts, the errors as judged.
    const endpoints = writtenEndpoints(config);
    const facts = factsOf(config, endpoints);
    return (object.resolved = { facts, endpoints, errors, warnings: NO_WARNINGS });
  }
  const resolved = resolveConfig(config, keys, policy);
  // Most resolve without an error: one shared empty list, not one each.
  object.entry.resolvedErrors = resolved.errors.length === 0 ? NO_ERRORS : resolved.errors;
  return (object.resolved = resolved);
}

/**
 * The entry's YAML: `written` (the entry the Secret holds for it now) when
 * that is its rendering, else rendered again; what is remembered changes only
 * when its content, the policy or the endpoints did.
 */
function renderedOnce(candidate: Candidate, written?: string): string {
  const { entry, config, endpoints } = candidate;
  const seen = entry.rendered;
  const same =
    seen !== undefined &&
    seen.endpoints.length === endpoints.length &&
    seen.endpoints.every((e, i) => e === endpoints[i]);
  if (same && written !== undefined && isRendering(seen, written)) return written;
  const value = renderEntry(config, endpoints);
  if (!same) {
    entry.rendered = {
      endpoints: [...endpoints],
      length: value.length,
      digest: digestOf(value),
      readsBack: undefined,
    };
  }
  return value;
}

// The facts of a written entry: its YAML read back (the endpoints in it are
// the effective ones), at the position its key carries. An entry that is its
// config's current rendering holds what that rendering was made of (checked
// once per rendering: read back, it gives the same objects), so nothing is
// remembered for it; the readings of other entries are remembered per target
// and value while the merges of their target still meet them (the last one
// and the one before). Every entry's reading, held, was a quarter of the heap
// per config.
interface Readings {
  now: Map<string, unknown[]>;
  before: Map<string, unknown[]>;
}
const readings = new Map<string, Readings>();
/** How many entries have been read back (tests count what is not). */
export const entryReads = { count: 0 };

/** The backends an entry's YAML holds (none when it is not YAML: it is still kept). */
function parseBackends(value: string): unknown[] {
  entryReads.count++;
  try {
    const doc: unknown = parse(value);
    if (isRecord(doc) && Array.isArray(doc.backends)) return doc.backends;
  } catch {
    // Not YAML: an entry with no routes the merge can see.
  }
  return [];
}

function readBack(target: string, value: string): unknown[] {
  let read = readings.get(target);
  if (!read) readings.set(target, (read = { now: new Map(), before: new Map() }));
  const backends = read.now.get(value) ?? read.before.get(value) ?? parseBackends(value);
  read.now.set(value, backends);
  return backends;
}

/**
 * A new generation of remembered readings for each target whose Secret this
 * merge reads: the ones no merge of it met since its last one go. Targets no
 * config names any more (in the cluster, or in the configs merged when they
 * are all of it) are forgotten.
 */
function forgetUnreadEntries(
  written: Iterable<string>,
  cluster: readonly TopologyConfig[],
  policy: Policy,
): void {
  const merged = new Set(written);
  for (const target of merged) {
    const read = readings.get(target);
    if (read) readings.set(target, { now: new Map(), before: read.now });
  }
  if ([...readings.keys()].every((t) => merged.has(t))) return;
  const named = new Set(cluster.map((c) => targetOf(c, policy)));
  for (const target of readings.keys())
    if (!merged.has(target) && !named.has(target)) readings.delete(target);
}

/**
 * What was prepared for this object, or for an earlier object of the same
 * uid and content (then held for this one too). The reconciler's own status
 * writes bring a new object of every config it merged, and the links are
 * read before the merge prepares them: by identity alone, each of their
 * entries was read back from its YAML, most of a burst's link reading.
 */
function preparedFor(raw: TopologyConfig): Prepared | undefined {
  const seen = prepared.get(raw);
  if (seen) return seen.entry;
  const uid = raw.metadata?.uid;
  const same = uid ? preparedByUid.get(uid) : undefined;
  if (!same || same.digest !== contentDigest(raw)) return undefined;
  prepared.set(raw, { entry: same.entry });
  return same.entry;
}

/** The rendering an entry is, if its YAML reads back as the objects it was rendered from. */
function renderingOf(raw: TopologyConfig, value: string): Prepared['rendered'] {
  const rendered = preparedFor(raw)?.rendered;
  if (!rendered || !isRendering(rendered, value)) return undefined;
  rendered.readsBack ??= isDeepStrictEqual(
    parseBackends(value),
    entryBackends(raw, rendered.endpoints),
  );
  return rendered.readsBack ? rendered : undefined;
}

function backendsOfEntry(raw: TopologyConfig, target: string, value: string): unknown[] {
  const rendered = renderingOf(raw, value);
  return rendered ? entryBackends(raw, rendered.endpoints) : readBack(target, value);
}

/** The backend names of backends as their facts hold them (a non-empty string). */
export function namesOf(backends: readonly unknown[]): string[] {
  // A loop, not flatMap: a list per backend, for every config of the cluster each reconcile (linked.ts).
  const names: string[] = [];
  for (const b of backends)
    if (isRecord(b) && typeof b.name === 'string' && b.name) names.push(b.name);
  return names;
}

/**
 * The backend names an entry holds, as the merge reads them: its config's,
 * when it is that config's current rendering (read back the same), else its
 * YAML's. `owner`: the config its uid names, if the cache holds it.
 */
export function entryNames(owner: TopologyConfig | undefined, value: string): string[] {
  if (owner && renderingOf(owner, value)) return namesOf(owner.spec.backends);
  return namesOf(parseBackends(value));
}

/** The config an entry was written from, as far as conflicts and the append-only rules need it. */
function entryAsConfig(raw: TopologyConfig, target: string, key: string, value: string) {
  const backends = backendsOfEntry(raw, target, value);
  const config = {
    apiVersion: raw.apiVersion,
    kind: raw.kind,
    metadata: raw.metadata,
    spec: { backends, position: Number(key.slice(0, POSITION_DIGITS)), targetSecret: target },
    status: { deployStatus: 'Active' },
  } as TopologyConfig;
  const endpoints = backends.map((b) =>
    isRecord(b) && typeof b.endpoint === 'string' ? b.endpoint : undefined,
  );
  return {
    config,
    facts: heldFacts(raw, target, key, value, endpoints) ?? factsOf(config, endpoints),
  };
}

/**
 * The facts of an Active config whose entry is its current rendering, read
 * back the same, at its own key and target and with the same endpoints: they
 * are the entry's facts too (the selectors, names and endpoints the facts
 * read are what the entry was written from), so every merge need not derive
 * the facts of every entry again (at 10,000 configs, ~10 MiB per merge).
 */
function heldFacts(
  raw: TopologyConfig,
  target: string,
  key: string,
  value: string,
  endpoints: readonly (string | undefined)[],
): ConfigFacts | undefined {
  const object = prepared.get(raw);
  const rendered = object?.entry.rendered;
  const resolved = object?.resolved;
  if (!resolved || rendered?.readsBack !== true || !isRendering(rendered, value)) return undefined;
  if (!isActive(raw) || raw.spec.targetSecret !== target || secretKeyFor(raw) !== key)
    return undefined;
  const same =
    resolved.endpoints.length === endpoints.length &&
    resolved.endpoints.every((e, i) => e === endpoints[i]);
  return same ? resolved.facts : undefined;
}

class Merger {
  readonly results = new Map<string, MergeResult>();
  readonly #policy: Policy;
  readonly #maps = new ConflictMaps({ overlaps: false });
  readonly #totals = new Map<string, number>();
  readonly #incumbentKeys = new Set<string>();
  /** Every key Secret the configs name: nobody may route them. */
  readonly #keySecrets: KeySecretPoints;

  constructor(policy: Policy, keySecrets = KeySecretPoints.EMPTY) {
    this.#policy = policy;
    this.#keySecrets = keySecrets;
  }

  result(target: string): MergeResult {
    let result = this.results.get(target);
    if (!result) {
      const ref = namespacedNameProblem(target) ? undefined : parseNamespacedName(target);
      const allowed = ref !== undefined && targetAllowed(ref, this.#policy);
      this.results.set(
        target,
        (result = { data: {}, owners: new Map(), outcomes: new Map(), targetAllowed: allowed }),
      );
    }
    return result;
  }

  fail(target: string, key: string, reason: string, cause: ConditionReason): void {
    this.result(target).outcomes.set(key, { state: 'Error', reason, cause });
  }

  /** Static rules and decryption: a candidate, or the reason it cannot be merged. */
  prepare(raw: TopologyConfig, keys: KeyLookup): Candidate | Refused {
    const target = targetOf(raw, this.#policy);
    this.result(target);
    const object = preparedOnce(raw, this.#policy);
    if (object.entry.refused) return object.entry.refused;
    // It passed the schema: its types can be trusted.
    const config = raw;
    const resolved = resolvedOnce(object, config, keys, this.#policy);
    // The webhook's rule on other configs' key Secrets (its own is in the static rules).
    const own = config.spec.endpointDecryptSecret;
    const denied = deniedKeySecrets(resolved.facts, [this.#keySecrets], own);
    if (denied.errors.length > 0) return { reason: joined(denied.errors), cause: 'PolicyDenied' };
    if (resolved.errors.length > 0) {
      // Decryption fails with its own errors; a repeated endpoint is a Duplicate.
      const decrypt = resolved.errors.some((e) => e.type !== 'Duplicate');
      const cause = config.spec.endpointDecryptSecret && decrypt ? 'DecryptFailed' : 'Invalid';
      return { reason: joined(resolved.errors), cause };
    }
    return {
      config,
      facts: resolved.facts,
      target,
      endpoints: resolved.endpoints as string[],
      entry: object.entry,
    };
  }

  #place(target: string, key: string, value: string, owner: EntryOwner): void {
    const result = this.result(target);
    result.data[key] = value;
    result.owners.set(key, owner);
  }

  #bytes = (key: string, value: string, owner: EntryOwner) =>
    entrySize(key, value) + ownerBytes(key, owner);

  /** Every incumbent's written entry, as the Secrets hold it now. */
  seat(incumbent: Incumbent): void {
    const { target, key, entry } = incumbent;
    this.#maps.add(incumbent.facts);
    this.#incumbentKeys.add(incumbent.facts.key);
    this.#totals.set(
      target,
      (this.#totals.get(target) ?? 0) + this.#bytes(key, entry.value, entry),
    );
    this.#place(target, key, entry.value, { uid: entry.uid, generation: entry.generation });
    if (incumbent.unseen) return;
    this.result(target).outcomes.set(incumbent.facts.key, {
      state: 'Active',
      reason: `merged into ${target} as ${key}`,
      cause: 'Active',
      key,
    });
  }

  /** The incumbent's current generation in place of its written entry, if it passes every rule. */
  renew(incumbent: Incumbent, keys: KeyLookup, authorised: (c: TopologyConfig) => boolean): void {
    if (incumbent.unseen) return;
    const { raw, target, key, entry } = incumbent;
    const generation = raw.metadata?.generation ?? 0;
    const keep = (why: string): void => {
      this.result(target).outcomes.set(incumbent.facts.key, {
        state: 'Error',
        reason: `${why}; the entry written for generation ${entry.generation} stays in ${target} as ${key} so that data written through its routes remains reachable: fix this, or delete the config to remove the entry`,
        cause: 'KeptInSecret',
        key,
        kept: true,
      });
    };
    if (entry.generation > generation) {
      return keep(
        `the reconciler's cache holds generation ${generation}, older than the one written`,
      );
    }
    const candidate = this.prepare(raw, keys);
    if ('cause' in candidate) return keep(candidate.reason);
    const { config, facts } = candidate;
    if (!authorised(config)) {
      // The append-only rules against what was written (the webhook may have been bypassed).
      const unauthorised = { ...config, metadata: { ...config.metadata, annotations: {} } };
      const old = entryAsConfig(raw, target, key, entry.value);
      const unsafe = validateActiveUpdate(unauthorised, old.config, facts, old.facts);
      if (unsafe.length > 0) return keep(joined(unsafe));
    }
    this.#maps.remove(incumbent.facts);
    const conflicts = this.#maps.conflicts(facts);
    const newKey = secretKeyFor(config);
    const value = renderedOnce(candidate, entry.value);
    const owner = { uid: raw.metadata?.uid ?? '', generation };
    const total =
      (this.#totals.get(target) ?? 0) -
      this.#bytes(key, entry.value, entry) +
      this.#bytes(newKey, value, owner);
    if (conflicts.length > 0 || total > this.#policy.maxSecretBytes) {
      this.#maps.add(incumbent.facts);
      if (conflicts.length > 0) return keep(this.#conflictReason(conflicts, facts));
      return keep(
        formatFieldError(sizeError(target, total, this.#bytes(newKey, value, owner), this.#policy)),
      );
    }
    this.#maps.add(facts);
    this.#totals.set(target, total);
    const result = this.result(target);
    delete result.data[key];
    result.owners.delete(key);
    this.#place(target, newKey, value, owner);
    result.outcomes.set(facts.key, {
      state: 'Active',
      reason: `merged into ${target} as ${newKey}`,
      cause: 'Active',
      key: newKey,
    });
  }

  #conflictReason(conflicts: readonly Conflict[], facts: ConfigFacts): string {
    const other = conflicts[0]!.other;
    const reasons = joined(conflicts.map((c) => conflictError(c, facts)));
    if (this.#incumbentKeys.has(other.key)) {
      return `conflicts with ${other.key}, whose entry ${other.target ?? ''} already holds (the config already in the Secret wins): ${reasons}`;
    }
    return `conflicts with ${other.key}, which comes first (lower position, then older, then namespace/name): ${reasons}`;
  }

  /** A newcomer: conflicts with everything merged so far, then the size limit. */
  admit(candidate: Candidate): void {
    const { config, facts, target } = candidate;
    const conflicts = this.#maps.conflicts(facts);
    if (conflicts.length > 0)
      return this.fail(target, facts.key, this.#conflictReason(conflicts, facts), 'Conflict');
    const key = secretKeyFor(config);
    const value = renderedOnce(candidate);
    const owner = { uid: config.metadata?.uid ?? '', generation: config.metadata?.generation ?? 0 };
    if (key in this.result(target).data) {
      // Held for a config the caller saw at the API server but not in its cache (another uid).
      return this.fail(
        target,
        facts.key,
        `${target} holds ${key} for another object of this name (a newer or older one); retrying`,
        'Conflict',
      );
    }
    const size = this.#bytes(key, value, owner);
    const total = (this.#totals.get(target) ?? 0) + size;
    if (total > this.#policy.maxSecretBytes) {
      return this.fail(
        target,
        facts.key,
        formatFieldError(sizeError(target, total, size, this.#policy)),
        'TooLarge',
      );
    }
    this.#maps.add(facts);
    this.#totals.set(target, total);
    this.#place(target, key, value, owner);
    this.result(target).outcomes.set(facts.key, {
      state: 'Active',
      reason: `merged into ${target} as ${key}`,
      cause: 'Active',
      key,
    });
  }
}

/** Older, then namespace/name: the order between configs of different targets. */
const byAge = (a: ConfigFacts, b: ConfigFacts) =>
  a.created !== b.created
    ? a.created < b.created
      ? -1
      : 1
    : a.key < b.key
      ? -1
      : a.key > b.key
        ? 1
        : 0;

/**
 * Newcomers of different targets that claim one backend name: the older
 * config's target keeps the claim, the others lose (the reason is returned
 * per config key). Within the winning target the usual order decides.
 */
function crossTargetClaims(candidates: readonly Candidate[]): Map<string, string> {
  const claims = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    for (const b of candidate.facts.backends) {
      if (!b.name) continue;
      const list = claims.get(b.name);
      if (list) list.push(candidate);
      else claims.set(b.name, [candidate]);
    }
  }
  // The winning claimant of each name claimed in two targets or more.
  const winners = new Map<string, Candidate>();
  for (const [name, list] of claims) {
    if (new Set(list.map((c) => c.target)).size < 2) continue;
    winners.set(
      name,
      list.reduce((a, b) => (byAge(a.facts, b.facts) <= 0 ? a : b)),
    );
  }
  // Each loser's reason names its first backend (by index) whose name another target wins.
  const losers = new Map<string, string>();
  for (const c of candidates) {
    for (const b of c.facts.backends) {
      const oldest = b.name ? winners.get(b.name) : undefined;
      if (!oldest || oldest.target === c.target) continue;
      losers.set(
        c.facts.key,
        `spec.backends[${b.index}].name: ${JSON.stringify(b.name)} is also claimed by ${oldest.facts.key} in target ${oldest.target}, which wins: between target Secrets the older config wins (then namespace/name)`,
      );
      break;
    }
  }
  return losers;
}

function sortedData(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(data)
      .sort()
      .map((key) => [key, data[key]!]),
  );
}

/** A stand-in for the config a data key names (`<position>-<namespace>.<name>.yaml`). */
function configOfKey(key: string, target: string): TopologyConfig | undefined {
  const parsed = parseSecretKey(key);
  if (!parsed) return undefined;
  const { namespace, name, position } = parsed;
  return {
    metadata: { namespace, name },
    spec: { backends: [], position, targetSecret: target },
  } as unknown as TopologyConfig;
}

/** The incumbents: each live config whose uid owns an entry of its own target's Secret. */
function incumbentsOf(
  live: readonly TopologyConfig[],
  state: MergeState,
  policy: Policy,
): Incumbent[] {
  const written: WrittenEntries = state.written ?? new Map();
  const byUid = new Map<string, TopologyConfig>();
  for (const config of live) {
    const uid = config.metadata?.uid;
    if (uid) byUid.set(uid, config);
  }
  const incumbents: Incumbent[] = [];
  const seated = new Set<string>();
  for (const target of [...written.keys()].sort()) {
    const secret = written.get(target)!;
    for (const key of [...secret.keys()].sort()) {
      const entry = secret.get(key)!;
      const raw = byUid.get(entry.uid);
      const self =
        !raw && state.present?.has(entry.uid) && !seated.has(entry.uid)
          ? configOfKey(key, target)
          : undefined;
      if (self) {
        seated.add(entry.uid);
        const facts = entryAsConfig(self, target, key, entry.value).facts;
        incumbents.push({ raw: self, target, key, entry, facts, unseen: true });
        continue;
      }
      // No live config owns it: its config was deleted (a new one under the same name is a newcomer).
      if (!raw || targetOf(raw, policy) !== target || seated.has(entry.uid)) continue;
      seated.add(entry.uid);
      // What was remembered of its content, so that an object new since the
      // last merge (a status write) finds its rendering before its entry is read.
      preparedOnce(raw, policy);
      incumbents.push({
        raw,
        target,
        key,
        entry,
        facts: entryAsConfig(raw, target, key, entry.value).facts,
      });
    }
  }
  return incumbents;
}

/**
 * Every target's Secret data and every config's outcome. Backend names are
 * unique cluster-wide, so their conflicts are resolved across targets.
 */
export function mergeAll(
  configs: readonly TopologyConfig[],
  keys: KeyLookup,
  policy: Policy,
  state: MergeState = {},
): Map<string, MergeResult> {
  digests.clear();
  try {
    return mergeWith(configs, keys, policy, state);
  } finally {
    digests.clear();
  }
}

function mergeWith(
  configs: readonly TopologyConfig[],
  keys: KeyLookup,
  policy: Policy,
  state: MergeState,
): Map<string, MergeResult> {
  const all = distinct(configs);
  // A loop, not flatMap: a list per config of the cluster, every merge.
  const named: string[] = [];
  for (const c of state.cluster ?? all) {
    const secret: unknown = c.spec?.endpointDecryptSecret;
    if (typeof secret === 'string') named.push(secret);
  }
  const keySecrets = new KeySecretPoints(named);
  forgetDeleted(state.cluster ?? all);
  forgetUnreadEntries(state.written?.keys() ?? [], state.cluster ?? all, policy);
  const merger = new Merger(policy, keySecrets);
  // The reconciler has no user to ask: the annotation stands for the override the
  // webhook authorised (with the webhook bypassed, anyone could set it; README "Tenancy").
  const authorised = state.authorised ?? requestsOverride;
  const live = all.filter((c) => !c.metadata?.deletionTimestamp);
  const incumbents = incumbentsOf(live, state, policy);
  for (const incumbent of incumbents) merger.seat(incumbent);
  for (const incumbent of incumbents) merger.renew(incumbent, keys, authorised);

  const seated = new Set(incumbents.map((i) => i.raw));
  const candidates: Candidate[] = [];
  for (const config of live) {
    if (seated.has(config)) continue;
    const candidate = merger.prepare(config, keys);
    if ('cause' in candidate)
      merger.fail(targetOf(config, policy), objectKey(config), candidate.reason, candidate.cause);
    else candidates.push(candidate);
  }
  const losers = crossTargetClaims(candidates);
  candidates.sort((a, b) => compareFacts(a.facts, b.facts));
  for (const candidate of candidates) {
    const lost = losers.get(candidate.facts.key);
    const blocked = state.blocked?.get(candidate.facts.key);
    if (lost) merger.fail(candidate.target, candidate.facts.key, lost, 'Conflict');
    else if (blocked) merger.fail(candidate.target, candidate.facts.key, blocked, 'ExistingData');
    else merger.admit(candidate);
  }
  for (const result of merger.results.values()) result.data = sortedData(result.data);
  return merger.results;
}

/**
 * One target's Secret data and its configs' outcomes. Configs of other
 * targets may be passed too: they only take part in the cluster-wide
 * backend-name resolution. Those of the targets linked to it (linked.ts)
 * give the same result as every config of the cluster.
 */
export function mergeTarget(
  target: string,
  configs: readonly TopologyConfig[],
  keys: KeyLookup,
  policy: Policy,
  state?: MergeState,
): MergeResult {
  return mergeAll(configs, keys, policy, state).get(target) ?? new Merger(policy).result(target);
}
