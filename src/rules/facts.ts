// A config reduced to the facts that conflicts are decided on: its backends'
// names, the SHA-256 of each effective (decrypted) endpoint and of the database
// it points at (endpoint-identity.ts), and a canonical
// string per routing selector (equal strings route exactly the same keys).
// Tolerant of any shape: the informer may hold objects that bypassed the webhook.
import { hash } from 'node:crypto';
import { formatNamespacedName, type NamespacedName } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { isRecord } from '../resource/json.ts';
import { flatString } from '../runtime/strings.ts';
import { databaseIdentity } from './endpoint-identity.ts';
import { isDeepStrictEqual } from 'node:util';
import { isActive } from './append-only.ts';
import type { KeySet } from './key-space.ts';
import { keySetOfSelector, normalizePrefix } from './key-space.ts';

export type SelectorField = 'customresource' | 'namespace' | 'prefix' | 'regexp';
export const SELECTOR_FIELDS: readonly SelectorField[] = [
  'customresource',
  'namespace',
  'prefix',
  'regexp',
];

export interface SelectorFacts {
  field: SelectorField;
  /** Equal canonical strings route exactly the same keys (kinds sorted, an absent kind = ''). */
  canonical: string;
  /** prefix selector: the etcd key prefix, absolute (`pods` → `/registry/pods`). */
  prefix?: string;
  /** namespace selector: the namespace and its sorted, de-duplicated kinds (empty = every kind). */
  namespace?: string;
  kinds?: string[];
  /** customresource selector: group, and kind ('' = the whole group). */
  group?: string;
  kind?: string;
  /** The storage keys it routes (key-space.ts). */
  keys: KeySet;
}

export interface BackendFacts {
  index: number;
  name: string | undefined;
  /** SHA-256 (hex) of the effective endpoint; undefined when it could not be decrypted. */
  endpointHash: string | undefined;
  /**
   * SHA-256 (hex) of the database the endpoint points at, credentials stripped:
   * what endpoint conflicts compare. Undefined when unknown or unparseable.
   */
  databaseHash: string | undefined;
  selectors: SelectorFacts[];
}

export interface ConfigFacts {
  /** `namespace/name`. */
  key: string;
  ref: NamespacedName;
  target: string | undefined;
  position: number | undefined;
  /** creationTimestamp in ms; +Infinity when unknown (a config being created is the newest). */
  created: number;
  /** Whether data may have been written through its routes (Active, or its entry kept in the Secret). */
  active: boolean;
  backends: BackendFacts[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function hashEndpoint(endpoint: string): string {
  // The one-shot hash: no Hash object per call (a review hashes every endpoint).
  // Only compared in memory, so 128 bits of it do: 22 characters instead of
  // 64 hex ones, two held per backend. Encoded from the first 16 bytes rather
  // than sliced from the whole: a slice would keep its 44-character parent.
  return hash('sha256', endpoint, 'buffer').toString('base64url', 0, 16);
}

function databaseHashOf(endpoint: string | undefined): string | undefined {
  const identity = endpoint ? databaseIdentity(endpoint) : undefined;
  return identity === undefined ? undefined : hashEndpoint(identity);
}

/** Sorted, de-duplicated kinds: the order of `kinds` does not change what is routed. */
export function canonicalKinds(kinds: unknown): string[] {
  if (!Array.isArray(kinds)) return [];
  return [...new Set(kinds.filter((k): k is string => typeof k === 'string'))].sort();
}

// Canonical strings are built with a length before each free-form part, so
// that two different selectors can never spell the same string (cheaper than
// JSON.stringify, which the review paid per selector).
const part = (value: string) => `${value.length}:${value}`;

// Key sets per canonical selector: configs of one team often repeat a selector
// shape, and a namespace route expands to one prefix per resource. Facts hold
// their own key sets, so the memo only saves work: a small one does (at
// 10,000 it was 1 MB of table and keys held for selectors no config repeats).
const KEY_SETS_KEPT = 2_048;
const keySets = new Map<string, KeySet>();
function keysOf(canonical: string, field: SelectorField, value: Record<string, unknown>): KeySet {
  let keys = keySets.get(canonical);
  if (keys === undefined) {
    keys = keySetOfSelector(field, value);
    if (keySets.size >= KEY_SETS_KEPT) keySets.clear();
    keySets.set(canonical, keys);
  }
  return keys;
}

/**
 * The facts of one routing selector, or undefined when it is absent. Each
 * object is built whole, in one literal: adding `keys` to a spread copy put
 * it out of the object, in a property array of its own (0.8 MB at 10,000
 * configs). Canonical strings and prefixes are held for the config's life,
 * so they are flattened (flatString).
 */
export function selectorFacts(field: SelectorField, value: unknown): SelectorFacts | undefined {
  if (!isRecord(value)) return undefined;
  switch (field) {
    case 'customresource': {
      const group = str(value.group) ?? '';
      const kind = str(value.kind) ?? '';
      const canonical = flatString(`customresource:${part(group)}${kind}`);
      return { field, canonical, group, kind, keys: keysOf(canonical, field, value) };
    }
    case 'namespace': {
      const namespace = str(value.namespace) ?? '';
      const kinds = canonicalKinds(value.kinds);
      const canonical = flatString(`namespace:${part(namespace)}${kinds.map(part).join('')}`);
      return { field, canonical, namespace, kinds, keys: keysOf(canonical, field, value) };
    }
    case 'prefix': {
      // Both forms compare alike: `pods` is `/registry/pods`.
      const raw = str(value.prefix) ?? '';
      const prefix = raw === '' ? '' : flatString(normalizePrefix(raw));
      const canonical = flatString(`prefix:${prefix}`);
      return { field, canonical, prefix, keys: keysOf(canonical, field, value) };
    }
    case 'regexp': {
      const canonical = flatString(
        `regexp:${part(str(value.prefix) ?? '')}${str(value.key) ?? ''}`,
      );
      return { field, canonical, keys: keysOf(canonical, field, value) };
    }
  }
}

function backendFacts(backend: unknown, index: number, endpoint: string | undefined): BackendFacts {
  const b = isRecord(backend) ? backend : {};
  const selectors: SelectorFacts[] = [];
  for (const field of SELECTOR_FIELDS) {
    const facts = selectorFacts(field, b[field]);
    if (facts) selectors.push(facts);
  }
  return {
    index,
    name: str(b.name),
    endpointHash: endpoint ? hashEndpoint(endpoint) : undefined,
    databaseHash: databaseHashOf(endpoint),
    // A copy of the exact length: a pushed-to array keeps room for 17 (held for every backend).
    selectors: selectors.slice(),
  };
}

/**
 * Facts of a config, tolerant of any shape (the informer may hold objects that
 * bypassed the webhook). `endpoints[i]` is backend i's effective endpoint
 * (decrypted), undefined when unknown.
 */
export function factsOf(
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
): ConfigFacts {
  // The index and the merge both derive the facts of every informer object
  // (with the same endpoints unless encrypted): one copy held, not two.
  // Objects are replaced on change, never mutated, so the object and its
  // endpoints determine the facts.
  const seen = remembered.get(config);
  if (seen && sameEndpoints(seen.endpoints, endpoints)) return seen.facts;
  const facts = computeFacts(config, endpoints);
  // Facts without endpoints (the static rules') are not the ones held.
  if (endpoints.length > 0 || facts.backends.length === 0)
    remembered.set(config, { endpoints: [...endpoints], facts });
  return facts;
}

/**
 * factsOf for `config`, which replaced `previous`: the previous object's
 * facts when nothing they are derived from changed (the spec, the name, the
 * creation time, whether it is Active, the endpoints), as with most updates:
 * the reconciler's finalizers and status writes. Deriving them again was a
 * new copy of every selector and hash per update.
 */
export function factsAfter(
  previous: TopologyConfig,
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
): ConfigFacts {
  const seen = remembered.get(previous);
  if (!seen || !sameEndpoints(seen.endpoints, endpoints) || !sameSource(previous, config))
    return factsOf(config, endpoints);
  remembered.set(config, seen);
  return seen.facts;
}

function sameSource(a: TopologyConfig, b: TopologyConfig): boolean {
  const ma: Record<string, unknown> = isRecord(a.metadata) ? a.metadata : {};
  const mb: Record<string, unknown> = isRecord(b.metadata) ? b.metadata : {};
  return (
    ma.namespace === mb.namespace &&
    ma.name === mb.name &&
    ma.creationTimestamp === mb.creationTimestamp &&
    isActive(a) === isActive(b) &&
    isDeepStrictEqual(a.spec, b.spec)
  );
}

const remembered = new WeakMap<
  TopologyConfig,
  { endpoints: readonly (string | undefined)[]; facts: ConfigFacts }
>();

const sameEndpoints = (
  a: readonly (string | undefined)[],
  b: readonly (string | undefined)[],
): boolean => a.length === b.length && a.every((e, i) => e === b[i]);

function computeFacts(
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
): ConfigFacts {
  const meta = isRecord(config.metadata) ? config.metadata : {};
  const spec: Record<string, unknown> = isRecord(config.spec) ? config.spec : {};
  const ref = { namespace: str(meta.namespace) ?? '', name: str(meta.name) ?? '' };
  const backends = Array.isArray(spec.backends) ? (spec.backends as unknown[]) : [];
  const created = Date.parse(str(meta.creationTimestamp) ?? '');
  return {
    key: flatString(formatNamespacedName(ref)),
    ref,
    target: str(spec.targetSecret),
    position: typeof spec.position === 'number' ? spec.position : undefined,
    created: Number.isNaN(created) ? Number.POSITIVE_INFINITY : created,
    active: isActive(config),
    backends: backends.map((b, i) => backendFacts(b, i, endpoints[i])),
  };
}

/** What the merge order reads of a config's facts. */
export type MergeOrdered = Pick<ConfigFacts, 'position' | 'created' | 'key'>;

/** The merge order: lower position, then older, then namespace/name. Lower wins. */
export function compareFacts(a: MergeOrdered, b: MergeOrdered): number {
  const pa = a.position ?? Number.POSITIVE_INFINITY;
  const pb = b.position ?? Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
