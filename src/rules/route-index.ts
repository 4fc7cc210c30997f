// An index of routes (selectors, as key sets) that finds the ones a key set
// may overlap without scanning them all: a route's literal parts go into a
// sorted list (a part overlaps another when one starts with the other), the
// per-namespace prefixes of namespace routes into a bucket per namespace, and
// the few regular expressions that cannot be reduced are tried one by one.
// The candidates are then judged exactly by key-space.ts.
import type { KeyPart, KeySet } from './key-space.ts';
import { BUILTIN_RESOURCES } from './key-space.ts';
import { SortedStrings } from './sorted-strings.ts';
import { Buckets } from './buckets.ts';

const NAMESPACED = [
  ...new Set(BUILTIN_RESOURCES.filter((r) => r.namespaced).map((r) => r.keyPrefix)),
];

/** The namespace a part stays within (`/registry/pods/team-a/…` → team-a), if any. */
function namespaceOf(value: string): string | undefined {
  for (const p of NAMESPACED) {
    if (!value.startsWith(p)) continue;
    const slash = value.indexOf('/', p.length);
    if (slash > p.length) return value.slice(p.length, slash);
  }
  return undefined;
}

/** Whether a part can reach built-in namespaced keys of more than one namespace. */
function spansNamespaces(value: string): boolean {
  return NAMESPACED.some(
    (p) => p.startsWith(value) || (value.startsWith(p) && value.indexOf('/', p.length) < 0),
  );
}

interface Held<E> {
  entry: E;
  owner: string;
}

/** Where a part of a route is held: a bucket of one of the maps, by its key. */
type Place = { map: 'value' | 'namespace' | 'regexp'; key: string };

export class RouteIndex<E> {
  #byValue = new Buckets<string, Held<E>>();
  #sorted = new SortedStrings();
  #lengths = new Map<number, number>();
  #byNamespace = new Buckets<string, Held<E>>();
  #regexps = new Buckets<string, Held<E>>();

  // Where a key set's parts go follows from the parts alone, so removing a
  // route recomputes it instead of keeping, per owner, where its entries
  // were put (three Sets per config were a tenth of the index's memory).
  *#places(keys: KeySet): Generator<Place> {
    // A namespace route's prefixes all lie in its namespace: one bucket entry is enough.
    const namespaces = new Set<string>();
    for (const part of keys.parts) {
      if (part.type === 'regexp') {
        yield { map: 'regexp', key: part.source };
        continue;
      }
      const ns = part.type === 'prefix' ? namespaceOf(part.value) : undefined;
      if (ns !== undefined && part.value.endsWith(`/${ns}/`)) {
        if (!namespaces.has(ns)) yield { map: 'namespace', key: ns };
        namespaces.add(ns);
        continue;
      }
      yield { map: 'value', key: part.value };
    }
  }

  #map(place: Place): Buckets<string, Held<E>> {
    return place.map === 'value'
      ? this.#byValue
      : place.map === 'namespace'
        ? this.#byNamespace
        : this.#regexps;
  }

  /** Adds `entry`, routing `keys`, for `owner` (a config's namespace/name). */
  add(owner: string, entry: E, keys: KeySet): void {
    const held = { entry, owner };
    for (const place of this.#places(keys)) {
      if (place.map === 'value' && !this.#byValue.has(place.key)) {
        this.#sorted.insert(place.key);
        this.#lengths.set(place.key.length, (this.#lengths.get(place.key.length) ?? 0) + 1);
      }
      this.#map(place).add(place.key, held);
    }
  }

  /**
   * Removes every entry of `owner` held where `keys` would be placed: called
   * with each key set `owner` was added with, it removes all of its entries.
   */
  remove(owner: string, keys: KeySet): void {
    for (const place of this.#places(keys)) {
      // 'none': already gone (another key set of the same owner shared this bucket).
      const left = this.#map(place).remove(place.key, (h) => h.owner === owner);
      if (left !== 'emptied' || place.map !== 'value') continue;
      this.#sorted.remove(place.key);
      const n = (this.#lengths.get(place.key.length) ?? 0) - 1;
      if (n > 0) this.#lengths.set(place.key.length, n);
      else this.#lengths.delete(place.key.length);
    }
  }

  /** Entries that may share keys with `keys` (a superset; each at most once). */
  candidates(keys: KeySet): E[] {
    const seen = new Set<E>();
    const out: E[] = [];
    const take = (bucket: readonly Held<E>[]) => {
      for (const h of bucket) {
        if (seen.has(h.entry)) continue;
        seen.add(h.entry);
        out.push(h.entry);
      }
    };
    for (const part of keys.parts) this.#candidatesOf(part, take);
    return out;
  }

  #candidatesOf(part: KeyPart, take: (bucket: readonly Held<E>[]) => void): void {
    // A regexp is bounded by its literal start ('' when none: every route is a candidate).
    const value = part.type === 'regexp' ? part.bound : part.value;
    for (const length of this.#lengths.keys()) {
      if (length <= value.length) take(this.#byValue.get(value.slice(0, length)));
    }
    for (const longer of this.#sorted.startingWith(value)) take(this.#byValue.get(longer));
    const ns = namespaceOf(value);
    if (ns !== undefined) take(this.#byNamespace.get(ns));
    else if (spansNamespaces(value)) for (const bucket of this.#byNamespace.groups()) take(bucket);
    for (const bucket of this.#regexps.groups()) take(bucket);
  }
}
