// Maps of configs' facts, keyed so that every conflict check is a lookup:
//   - a backend name (cluster-wide: every target Secret);
//   - a database hash (the endpoint without credentials), a position, or a canonical selector (per target).
// Overlap warnings use per-target buckets (namespace, group) and a sorted
// list of prefixes, so they too avoid scanning all configs.
import type { Conflict, Overlap } from './conflicts.ts';
import { backendPath } from './conflicts.ts';
import type { ConfigFacts, SelectorFacts } from './facts.ts';
import { compareFacts, selectorFacts } from './facts.ts';
import { SortedStrings } from './sorted-strings.ts';

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

const NONE: readonly Entry[] = Object.freeze([]);
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
      if (b.databaseHash) push(this.#endpoints, k(t, b.databaseHash), entry);
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
      if (b.databaseHash) pull(this.#endpoints, k(t, b.databaseHash), facts.key);
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
    // Most lookups find nothing, or only the config itself: no copy then.
    const others = (entries: readonly Entry[] | undefined): readonly Entry[] => {
      if (!entries || (entries.length === 1 && entries[0]!.config.key === facts.key)) return NONE;
      return entries
        .filter((e) => e.config.key !== facts.key)
        .sort((a, b) => compareFacts(a.config, b.config) || a.backend - b.backend);
    };
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
      if (b.databaseHash) {
        for (const e of others(this.#endpoints.get(k(t, b.databaseHash)))) {
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
