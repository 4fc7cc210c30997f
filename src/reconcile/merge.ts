// The deterministic merge: from the set of configs to the data of each target
// Secret and the outcome of every config. The webhook is the fast path, this
// is the truth: a config that bypassed the webhook is judged here by the same
// rules (validateStatic, decryption, the shared conflict maps, the size limit).
//
// Determinism: configs are visited in one total order (lower position, then
// older creationTimestamp, then namespace/name), so the same set of configs in
// any order gives byte-identical data and the same outcomes.
import type { TopologyConfig } from '../resource/types.ts';
import { parseNamespacedName } from '../resource/names.ts';
import { ConflictMaps } from '../rules/conflict-maps.ts';
import { conflictError } from '../rules/conflicts.ts';
import type { ConfigFacts } from '../rules/facts.ts';
import { compareFacts } from '../rules/facts.ts';
import { formatFieldError } from '../rules/field-errors.ts';
import { namespacedNameProblem } from '../rules/formats.ts';
import type { FieldError } from '../rules/field-errors.ts';
import type { Resolved } from '../rules/index.ts';
import { resolveConfig, validateStatic } from '../rules/index.ts';
import type { Policy } from '../rules/policy.ts';
import { targetAllowed } from '../rules/policy.ts';
import { sizeError } from '../rules/size.ts';
import { renderEntryOnce, secretKeyFor } from '../secret-format/entry.ts';
import { entrySize } from '../secret-format/size.ts';
import type { KeyLookup } from '../rules/view.ts';

export interface MergeOutcome {
  state: 'Active' | 'Error';
  /** Why it is in Error, or where it was merged; never an endpoint or a key. */
  reason: string;
  /** Its data key in the Secret (Active, or kept). */
  key?: string;
  /** In Error, but its last entry stays in the Secret (see RetainedEntries). */
  kept?: boolean;
}

export interface MergeResult {
  /** Data key → YAML of the accepted configs only, keys sorted. */
  data: Record<string, string>;
  /** Per config (`namespace/name`) of this target; configs being deleted have none. */
  outcomes: Map<string, MergeOutcome>;
  /** Whether the target is a well-formed namespace/name that the policy allows; if not, nothing may be written. */
  targetAllowed: boolean;
}

interface Candidate {
  config: TopologyConfig;
  facts: ConfigFacts;
  target: string;
  endpoints: string[];
  /** The entry kept from the current Secret for a config that no longer decrypts, and why. */
  kept?: { value: string; reason: string };
}

/**
 * Entries of the current Secret that were written for the configs' current
 * generation (`namespace/name` → value). When such a config can no longer be
 * decrypted (its key Secret changed or vanished), its entry is kept instead of
 * dropped: data already written through that route must stay reachable.
 */
export type RetainedEntries = ReadonlyMap<string, string>;

const keyOf = (config: TopologyConfig) =>
  `${config.metadata?.namespace ?? ''}/${config.metadata?.name ?? ''}`;
const joined = (errors: readonly FieldError[]) => errors.map(formatFieldError).join('; ');

/** The group a config belongs to: an omitted targetSecret is the CRD's default, as the API server would set it. */
function targetOf(config: TopologyConfig, policy: Policy): string {
  const target: unknown = config.spec?.targetSecret;
  if (target === undefined) return policy.defaultTargetSecret;
  return typeof target === 'string' ? target : '';
}

/** One object per namespace/name; should the caller pass two, the choice must not depend on their order. */
function distinct(configs: readonly TopologyConfig[]): TopologyConfig[] {
  const chosen = new Map<string, TopologyConfig>();
  for (const config of configs) {
    const seen = chosen.get(keyOf(config));
    // Only a collision pays for serialising: the larger JSON wins, whatever the input order.
    if (!seen || JSON.stringify(config) > JSON.stringify(seen)) chosen.set(keyOf(config), config);
  }
  return [...chosen.values()];
}

// A reconcile of one target prepares every config of the cluster (backend
// names are unique cluster-wide), and the static rules cost more than the
// rest. Informer objects are replaced on change, never mutated, so an object
// and the policy determine its static verdict, and, when its endpoints are
// plain, its facts too: remember them per object, like its rendering.
// Encrypted endpoints depend on the key Secrets and are resolved each time.
interface Prepared {
  policy: Policy;
  checked: ReturnType<typeof validateStatic>;
  resolved?: Resolved;
}
const prepared = new WeakMap<TopologyConfig, Prepared>();

function preparedOnce(raw: TopologyConfig, policy: Policy): Prepared {
  let seen = prepared.get(raw);
  if (seen?.policy !== policy)
    prepared.set(raw, (seen = { policy, checked: validateStatic(raw, policy) }));
  return seen;
}

function resolvedOnce(
  entry: Prepared,
  config: TopologyConfig,
  keys: KeyLookup,
  policy: Policy,
): Resolved {
  if (config.spec.endpointDecryptSecret) return resolveConfig(config, keys, policy);
  return (entry.resolved ??= resolveConfig(config, keys, policy));
}

class Merger {
  readonly results = new Map<string, MergeResult>();
  readonly #policy: Policy;
  readonly #maps = new ConflictMaps();
  readonly #totals = new Map<string, number>();
  readonly #retained: RetainedEntries;

  constructor(policy: Policy, retained: RetainedEntries = new Map()) {
    this.#policy = policy;
    this.#retained = retained;
  }

  result(target: string): MergeResult {
    let result = this.results.get(target);
    if (!result) {
      const ref = namespacedNameProblem(target) ? undefined : parseNamespacedName(target);
      const allowed = ref !== undefined && targetAllowed(ref, this.#policy);
      this.results.set(
        target,
        (result = { data: {}, outcomes: new Map(), targetAllowed: allowed }),
      );
    }
    return result;
  }

  fail(target: string, key: string, reason: string): void {
    this.result(target).outcomes.set(key, { state: 'Error', reason });
  }

  /** Static rules and decryption; a candidate for the merge, or an Error outcome. */
  prepare(raw: TopologyConfig, keys: KeyLookup): Candidate | undefined {
    const target = targetOf(raw, this.#policy);
    this.result(target);
    const entry = preparedOnce(raw, this.#policy);
    const { config, verdict } = entry.checked;
    if (!config || verdict.errors.length > 0)
      return void this.fail(target, keyOf(raw), joined(verdict.errors));
    const resolved = resolvedOnce(entry, config, keys, this.#policy);
    if (resolved.errors.length > 0) {
      const kept = this.#retained.get(keyOf(raw));
      if (kept === undefined) return void this.fail(target, keyOf(raw), joined(resolved.errors));
      return {
        config,
        facts: resolved.facts,
        target,
        endpoints: [],
        kept: { value: kept, reason: joined(resolved.errors) },
      };
    }
    return { config, facts: resolved.facts, target, endpoints: resolved.endpoints as string[] };
  }

  /** Conflicts with the configs accepted before it, then the size limit. */
  admit(candidate: Candidate): void {
    const { config, facts, target } = candidate;
    const conflicts = this.#maps.conflicts(facts);
    if (conflicts.length > 0) {
      const winner = conflicts[0]!.other.key;
      const reasons = joined(conflicts.map((c) => conflictError(c, facts)));
      return this.fail(
        target,
        facts.key,
        `conflicts with ${winner}, which comes first (lower position, then older, then namespace/name): ${reasons}`,
      );
    }
    const key = secretKeyFor(config);
    const value = candidate.kept?.value ?? renderEntryOnce(config, candidate.endpoints);
    const size = entrySize(key, value);
    const total = (this.#totals.get(target) ?? 0) + size;
    if (total > this.#policy.maxSecretBytes) {
      return this.fail(
        target,
        facts.key,
        formatFieldError(sizeError(target, total, size, this.#policy)),
      );
    }
    this.#maps.add(facts);
    this.#totals.set(target, total);
    const result = this.result(target);
    result.data[key] = value;
    result.outcomes.set(
      facts.key,
      candidate.kept
        ? {
            state: 'Error',
            reason: `${candidate.kept.reason}; the routing last written for this generation stays in ${target} so that data written through it remains reachable: restore the key or fix the config`,
            key,
            kept: true,
          }
        : { state: 'Active', reason: `merged into ${target} as ${key}`, key },
    );
  }
}

function sortedData(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(data)
      .sort()
      .map((key) => [key, data[key]!]),
  );
}

/**
 * Every target's Secret data and every config's outcome. Backend names are
 * unique cluster-wide, so their conflicts are resolved across targets, in the
 * same order.
 */
export function mergeAll(
  configs: readonly TopologyConfig[],
  keys: KeyLookup,
  policy: Policy,
  retained?: RetainedEntries,
): Map<string, MergeResult> {
  const merger = new Merger(policy, retained);
  const candidates: Candidate[] = [];
  for (const config of distinct(configs)) {
    if (config.metadata?.deletionTimestamp) continue;
    const candidate = merger.prepare(config, keys);
    if (candidate) candidates.push(candidate);
  }
  candidates.sort((a, b) => compareFacts(a.facts, b.facts));
  for (const candidate of candidates) merger.admit(candidate);
  for (const result of merger.results.values()) result.data = sortedData(result.data);
  return merger.results;
}

/**
 * One target's Secret data and its configs' outcomes. Configs of other
 * targets may be passed too: they only take part in the cluster-wide
 * backend-name resolution.
 */
export function mergeTarget(
  target: string,
  configs: readonly TopologyConfig[],
  keys: KeyLookup,
  policy: Policy,
  retained?: RetainedEntries,
): MergeResult {
  return mergeAll(configs, keys, policy, retained).get(target) ?? new Merger(policy).result(target);
}
