// The one implementation of "do these two configs conflict, and why", used by
// the webhook (through ConfigIndex) and by the reconciler's merge alike.
//
// A config is reduced to facts: its backends' names, the SHA-256 of each
// effective (decrypted) endpoint, and a canonical string per routing
// selector. Two configs conflict when they share a key of one of these maps:
//   - a backend name (cluster-wide: every target Secret);
//   - an endpoint hash, a position, or a canonical selector (per target).
// Every check is therefore a map lookup, never a scan over all configs.
import { createHash } from 'node:crypto';
import type { NamespacedName } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { FieldError } from './field-errors.ts';
import { duplicate } from './field-errors.ts';
import { SortedStrings } from './sorted-strings.ts';

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
  /** prefix selector: the etcd key prefix. */
  prefix?: string;
  /** namespace selector: the namespace and its sorted, de-duplicated kinds (empty = every kind). */
  namespace?: string;
  kinds?: string[];
  /** customresource selector: group, and kind ('' = the whole group). */
  group?: string;
  kind?: string;
}

export interface BackendFacts {
  index: number;
  name: string | undefined;
  /** SHA-256 (hex) of the effective endpoint; undefined when it could not be decrypted. */
  endpointHash: string | undefined;
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
  backends: BackendFacts[];
}

export type ConflictKind = 'name' | 'endpoint' | 'position' | 'selector';

export interface Conflict {
  kind: ConflictKind;
  /** Field path in the judged config. */
  field: string;
  other: ConfigFacts;
  /** Field path in the other config. */
  otherField: string;
  /** The shared backend name (name conflicts only). */
  name?: string;
}

export interface Overlap {
  field: string;
  other: ConfigFacts;
  otherField: string;
  /** Whether the other config is matched first (lower in the ordering). */
  otherWins: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function hashEndpoint(endpoint: string): string {
  return createHash('sha256').update(endpoint, 'utf8').digest('hex');
}

/** Sorted, de-duplicated kinds: the order of `kinds` does not change what is routed. */
export function canonicalKinds(kinds: unknown): string[] {
  if (!Array.isArray(kinds)) return [];
  return [...new Set(kinds.filter((k): k is string => typeof k === 'string'))].sort();
}

/** The facts of one routing selector, or undefined when it is absent. */
export function selectorFacts(field: SelectorField, value: unknown): SelectorFacts | undefined {
  if (!isRecord(value)) return undefined;
  switch (field) {
    case 'customresource': {
      const group = str(value.group) ?? '';
      const kind = str(value.kind) ?? '';
      return { field, canonical: JSON.stringify([field, group, kind]), group, kind };
    }
    case 'namespace': {
      const namespace = str(value.namespace) ?? '';
      const kinds = canonicalKinds(value.kinds);
      return { field, canonical: JSON.stringify([field, namespace, kinds]), namespace, kinds };
    }
    case 'prefix': {
      const prefix = str(value.prefix) ?? '';
      return { field, canonical: JSON.stringify([field, prefix]), prefix };
    }
    case 'regexp':
      return {
        field,
        canonical: JSON.stringify([field, str(value.prefix) ?? '', str(value.key) ?? '']),
      };
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
    selectors,
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
  const meta = isRecord(config.metadata) ? config.metadata : {};
  const spec: Record<string, unknown> = isRecord(config.spec) ? config.spec : {};
  const ref = { namespace: str(meta.namespace) ?? '', name: str(meta.name) ?? '' };
  const backends = Array.isArray(spec.backends) ? (spec.backends as unknown[]) : [];
  const created = Date.parse(str(meta.creationTimestamp) ?? '');
  return {
    key: `${ref.namespace}/${ref.name}`,
    ref,
    target: str(spec.targetSecret),
    position: typeof spec.position === 'number' ? spec.position : undefined,
    created: Number.isNaN(created) ? Number.POSITIVE_INFINITY : created,
    backends: backends.map((b, i) => backendFacts(b, i, endpoints[i])),
  };
}

/** The merge order: lower position, then older, then namespace/name. Lower wins. */
export function compareFacts(a: ConfigFacts, b: ConfigFacts): number {
  const pa = a.position ?? Number.POSITIVE_INFINITY;
  const pb = b.position ?? Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

const backendPath = (i: number) => `spec.backends[${i}]`;

function describe(other: ConfigFacts, selfTarget: string | undefined): string {
  const where = other.target !== selfTarget && other.target ? `, target ${other.target}` : '';
  return `${other.key} (position ${other.position ?? 'unset'}${where})`;
}

/** The field error for a conflict: names the field and the other object, never an endpoint. */
export function conflictError(conflict: Conflict, self: ConfigFacts): FieldError {
  const other = describe(conflict.other, self.target);
  switch (conflict.kind) {
    case 'name':
      return duplicate(
        conflict.field,
        `${JSON.stringify(conflict.name)} is already used by ${other}`,
      );
    case 'endpoint':
      return duplicate(
        conflict.field,
        `the same endpoint as ${conflict.other.key} ${conflict.otherField} (position ${conflict.other.position ?? 'unset'}): every backend of a target Secret needs its own database`,
      );
    case 'position':
      return duplicate(
        conflict.field,
        `${self.position} is already taken by ${other} in ${self.target}: omit spec.position to get the next free one`,
      );
    case 'selector':
      return duplicate(
        conflict.field,
        `the same selector as ${conflict.other.key} ${conflict.otherField} (position ${conflict.other.position ?? 'unset'}): only the first of the two would ever receive data`,
      );
  }
}

/** The warning for an overlap, short enough for kubectl (the API server may cut warnings at 256 characters). */
export function overlapWarning(overlap: Overlap): string {
  const other = `${overlap.other.key} ${overlap.otherField} (position ${overlap.other.position ?? 'unset'})`;
  const winner = overlap.otherWins
    ? `${overlap.other.key} is matched first`
    : 'this config is matched first';
  return `${overlap.field} overlaps ${other}; ${winner} where both match`;
}

/** Conflicts between backends of one config: names and selectors (static), endpoints (once decrypted). */
export function duplicatesWithin(
  facts: ConfigFacts,
  kinds: readonly ('name' | 'selector' | 'endpoint')[],
): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Map<string, string>();
  const note = (key: string, field: string, detail: (first: string) => string) => {
    const first = seen.get(key);
    if (first === undefined) seen.set(key, field);
    else errors.push(duplicate(field, detail(first)));
  };
  for (const b of facts.backends) {
    if (kinds.includes('name') && b.name) {
      note(
        `n${b.name}`,
        `${backendPath(b.index)}.name`,
        (f) => `${JSON.stringify(b.name)} is also the name of ${f.slice(0, -'.name'.length)}`,
      );
    }
    if (kinds.includes('endpoint') && b.endpointHash) {
      note(
        `e${b.endpointHash}`,
        `${backendPath(b.index)}.endpoint`,
        (f) =>
          `the same endpoint as ${f.slice(0, -'.endpoint'.length)}: every backend needs its own database`,
      );
    }
    if (kinds.includes('selector')) {
      for (const s of b.selectors) {
        note(
          `s${s.canonical}`,
          `${backendPath(b.index)}.${s.field}`,
          (f) => `the same selector as ${f}: only the first would ever receive data`,
        );
      }
    }
  }
  return errors;
}

interface Entry {
  config: ConfigFacts;
  backend: number;
  selector?: SelectorFacts;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const bucket = map.get(key);
  if (bucket) bucket.push(value);
  else map.set(key, [value]);
}

/** Removes `key`'s values from a bucket; true when the bucket became empty. */
function pull<T extends { key: string } | { config: { key: string } }>(
  map: Map<string, T[]>,
  bucketKey: string,
  configKey: string,
): boolean {
  const bucket = map.get(bucketKey);
  if (!bucket) return false;
  const kept = bucket.filter((v) => ('config' in v ? v.config.key : v.key) !== configKey);
  if (kept.length > 0) {
    map.set(bucketKey, kept);
    return false;
  }
  map.delete(bucketKey);
  return true;
}

const k = (target: string, part: string | number) => `${target}\u0000${part}`;
/** Stops the overlap search: warnings past this many help nobody. */
export const MAX_OVERLAPS = 5;

/**
 * Maps of the configs added so far, answering "what does this config conflict
 * with" by lookups. ConfigIndex keeps one for the live cluster; the merge
 * builds one of the configs it has accepted.
 */
export class ConflictMaps {
  #names = new Map<string, Entry[]>();
  #endpoints = new Map<string, Entry[]>();
  #positions = new Map<string, ConfigFacts[]>();
  #selectors = new Map<string, Entry[]>();
  // For overlap warnings: per target, the distinct prefixes (sorted) and their lengths.
  #prefixes = new Map<string, SortedStrings>();
  #prefixLengths = new Map<string, Map<number, number>>();
  #namespaces = new Map<string, Entry[]>();
  #groups = new Map<string, Entry[]>();

  add(facts: ConfigFacts): void {
    const t = facts.target;
    if (t !== undefined && facts.position !== undefined)
      push(this.#positions, k(t, facts.position), facts);
    for (const b of facts.backends) {
      const entry = { config: facts, backend: b.index };
      if (b.name) push(this.#names, b.name, entry);
      if (t === undefined) continue;
      if (b.endpointHash) push(this.#endpoints, k(t, b.endpointHash), entry);
      for (const s of b.selectors) this.#addSelector(t, { ...entry, selector: s });
    }
  }

  remove(facts: ConfigFacts): void {
    const t = facts.target;
    if (t !== undefined && facts.position !== undefined)
      pull(this.#positions, k(t, facts.position), facts.key);
    for (const b of facts.backends) {
      if (b.name) pull(this.#names, b.name, facts.key);
      if (t === undefined) continue;
      if (b.endpointHash) pull(this.#endpoints, k(t, b.endpointHash), facts.key);
      for (const s of b.selectors) this.#removeSelector(t, s, facts.key);
    }
  }

  #addSelector(t: string, entry: Entry & { selector: SelectorFacts }): void {
    const s = entry.selector;
    const key = k(t, s.canonical);
    if (s.field === 'prefix' && s.prefix && !this.#selectors.has(key)) {
      let sorted = this.#prefixes.get(t);
      if (!sorted) this.#prefixes.set(t, (sorted = new SortedStrings()));
      sorted.insert(s.prefix);
      let lengths = this.#prefixLengths.get(t);
      if (!lengths) this.#prefixLengths.set(t, (lengths = new Map()));
      lengths.set(s.prefix.length, (lengths.get(s.prefix.length) ?? 0) + 1);
    }
    push(this.#selectors, key, entry);
    if (s.field === 'namespace') push(this.#namespaces, k(t, s.namespace ?? ''), entry);
    if (s.field === 'customresource') push(this.#groups, k(t, s.group ?? ''), entry);
  }

  #removeSelector(t: string, s: SelectorFacts, configKey: string): void {
    const emptied = pull(this.#selectors, k(t, s.canonical), configKey);
    if (s.field === 'prefix' && s.prefix && emptied) {
      this.#prefixes.get(t)?.remove(s.prefix);
      const lengths = this.#prefixLengths.get(t);
      const n = (lengths?.get(s.prefix.length) ?? 0) - 1;
      if (n > 0) lengths?.set(s.prefix.length, n);
      else lengths?.delete(s.prefix.length);
    }
    if (s.field === 'namespace') pull(this.#namespaces, k(t, s.namespace ?? ''), configKey);
    if (s.field === 'customresource') pull(this.#groups, k(t, s.group ?? ''), configKey);
  }

  /** Every conflict of `facts` with the configs held here, other than itself, in merge order. */
  conflicts(facts: ConfigFacts): Conflict[] {
    const out: Conflict[] = [];
    const t = facts.target;
    const others = (entries: readonly Entry[] | undefined) =>
      (entries ?? [])
        .filter((e) => e.config.key !== facts.key)
        .sort((a, b) => compareFacts(a.config, b.config) || a.backend - b.backend);
    if (t !== undefined && facts.position !== undefined) {
      const at = (this.#positions.get(k(t, facts.position)) ?? [])
        .filter((c) => c.key !== facts.key)
        .sort(compareFacts);
      for (const other of at)
        out.push({ kind: 'position', field: 'spec.position', other, otherField: 'spec.position' });
    }
    for (const b of facts.backends) {
      const path = backendPath(b.index);
      if (b.name) {
        for (const e of others(this.#names.get(b.name))) {
          out.push({
            kind: 'name',
            field: `${path}.name`,
            other: e.config,
            otherField: `${backendPath(e.backend)}.name`,
            name: b.name,
          });
        }
      }
      if (t === undefined) continue;
      if (b.endpointHash) {
        for (const e of others(this.#endpoints.get(k(t, b.endpointHash)))) {
          out.push({
            kind: 'endpoint',
            field: `${path}.endpoint`,
            other: e.config,
            otherField: backendPath(e.backend),
          });
        }
      }
      for (const s of b.selectors) {
        for (const e of others(this.#selectors.get(k(t, s.canonical)))) {
          out.push({
            kind: 'selector',
            field: `${path}.${s.field}`,
            other: e.config,
            otherField: `${backendPath(e.backend)}.${s.field}`,
          });
        }
      }
    }
    return out;
  }

  /** Up to MAX_OVERLAPS overlaps that position resolves (prefix inside prefix, kinds inside kinds, kind inside group). */
  overlaps(facts: ConfigFacts): Overlap[] {
    const t = facts.target;
    if (t === undefined) return [];
    const out: Overlap[] = [];
    for (const b of facts.backends) {
      for (const s of b.selectors) {
        for (const e of this.#overlapping(t, s)) {
          if (out.length >= MAX_OVERLAPS) return out;
          if (e.config.key === facts.key) continue;
          out.push({
            field: `${backendPath(b.index)}.${s.field}`,
            other: e.config,
            otherField: `${backendPath(e.backend)}.${s.field}`,
            otherWins: compareFacts(e.config, facts) < 0,
          });
        }
      }
    }
    return out;
  }

  *#overlapping(t: string, s: SelectorFacts): Generator<Entry> {
    if (s.field === 'prefix' && s.prefix) yield* this.#overlappingPrefixes(t, s.prefix);
    if (s.field === 'namespace') {
      for (const e of this.#namespaces.get(k(t, s.namespace ?? '')) ?? []) {
        if (
          e.selector &&
          e.selector.canonical !== s.canonical &&
          kindsOverlap(s.kinds ?? [], e.selector.kinds ?? [])
        )
          yield e;
      }
    }
    if (s.field === 'customresource') {
      for (const e of this.#groups.get(k(t, s.group ?? '')) ?? []) {
        const other = e.selector?.kind ?? '';
        if (other !== (s.kind ?? '') && (other === '' || !s.kind)) yield e;
      }
    }
  }

  *#overlappingPrefixes(t: string, prefix: string): Generator<Entry> {
    // Broader prefixes: only the lengths that exist are tried.
    for (const length of this.#prefixLengths.get(t)?.keys() ?? []) {
      if (length >= prefix.length) continue;
      yield* (
        this.#selectors.get(
          k(t, selectorFacts('prefix', { prefix: prefix.slice(0, length) })!.canonical),
        ) ?? []
      );
    }
    // Narrower prefixes: a range of the sorted list.
    for (const longer of this.#prefixes.get(t)?.startingWith(prefix) ?? []) {
      if (longer === prefix) continue;
      yield* (
        this.#selectors.get(k(t, selectorFacts('prefix', { prefix: longer })!.canonical)) ?? []
      );
    }
  }
}

/** Two kind lists of one namespace overlap when either is empty (every kind) or they share a kind. */
function kindsOverlap(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  const set = new Set(a);
  return b.some((kind) => set.has(kind));
}
