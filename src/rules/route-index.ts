// An index of routes (selectors, as key sets) that finds the ones a key set
// may overlap without scanning them all: a route's literal parts go into a
// sorted list (a part overlaps another when one starts with the other), the
// per-namespace prefixes of namespace routes into a bucket per namespace, and
// the few regular expressions that cannot be reduced are tried one by one.
// The candidates are then judged exactly by key-space.ts.
import type { KeyPart, KeySet } from './key-space.ts';
import { BUILTIN_RESOURCES } from './key-space.ts';
import { SortedStrings } from './sorted-strings.ts';

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

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const bucket = map.get(key);
  if (bucket) bucket.push(value);
  else map.set(key, [value]);
}

export class RouteIndex<E> {
  #byValue = new Map<string, Held<E>[]>();
  #sorted = new SortedStrings();
  #lengths = new Map<number, number>();
  #byNamespace = new Map<string, Held<E>[]>();
  #regexps = new Map<string, Held<E>[]>();
  /** Per owner, where its entries were put (to remove them). */
  #placed = new Map<
    string,
    { values: Set<string>; namespaces: Set<string>; regexps: Set<string> }
  >();

  /** Adds `entry`, routing `keys`, for `owner` (a config's namespace/name). */
  add(owner: string, entry: E, keys: KeySet): void {
    let placed = this.#placed.get(owner);
    if (!placed)
      this.#placed.set(
        owner,
        (placed = { values: new Set(), namespaces: new Set(), regexps: new Set() }),
      );
    const held = { entry, owner };
    // A namespace route's prefixes all lie in its namespace: one bucket entry is enough.
    const namespaces = new Set<string>();
    for (const part of keys.parts) {
      if (part.type === 'regexp') {
        push(this.#regexps, part.source, held);
        placed.regexps.add(part.source);
        continue;
      }
      const ns = part.type === 'prefix' ? namespaceOf(part.value) : undefined;
      if (ns !== undefined && part.value.endsWith(`/${ns}/`)) {
        if (!namespaces.has(ns)) push(this.#byNamespace, ns, held);
        namespaces.add(ns);
        placed.namespaces.add(ns);
        continue;
      }
      if (!this.#byValue.has(part.value)) {
        this.#sorted.insert(part.value);
        this.#lengths.set(part.value.length, (this.#lengths.get(part.value.length) ?? 0) + 1);
      }
      push(this.#byValue, part.value, held);
      placed.values.add(part.value);
    }
  }

  /** Removes every entry of `owner`. */
  remove(owner: string): void {
    const placed = this.#placed.get(owner);
    if (!placed) return;
    this.#placed.delete(owner);
    const pull = (map: Map<string, Held<E>[]>, key: string): boolean => {
      const kept = (map.get(key) ?? []).filter((h) => h.owner !== owner);
      if (kept.length > 0) map.set(key, kept);
      else map.delete(key);
      return kept.length === 0;
    };
    for (const value of placed.values) {
      if (!pull(this.#byValue, value)) continue;
      this.#sorted.remove(value);
      const n = (this.#lengths.get(value.length) ?? 0) - 1;
      if (n > 0) this.#lengths.set(value.length, n);
      else this.#lengths.delete(value.length);
    }
    for (const ns of placed.namespaces) pull(this.#byNamespace, ns);
    for (const source of placed.regexps) pull(this.#regexps, source);
  }

  /** Entries that may share keys with `keys` (a superset; each at most once). */
  candidates(keys: KeySet): E[] {
    const seen = new Set<E>();
    const out: E[] = [];
    const take = (bucket: readonly Held<E>[] | undefined) => {
      for (const h of bucket ?? []) {
        if (seen.has(h.entry)) continue;
        seen.add(h.entry);
        out.push(h.entry);
      }
    };
    for (const part of keys.parts) this.#candidatesOf(part, take);
    return out;
  }

  #candidatesOf(part: KeyPart, take: (bucket: readonly Held<E>[] | undefined) => void): void {
    // A regexp is bounded by its literal start ('' when none: every route is a candidate).
    const value = part.type === 'regexp' ? part.bound : part.value;
    for (const length of this.#lengths.keys()) {
      if (length <= value.length) take(this.#byValue.get(value.slice(0, length)));
    }
    for (const longer of this.#sorted.startingWith(value)) take(this.#byValue.get(longer));
    const ns = namespaceOf(value);
    if (ns !== undefined) take(this.#byNamespace.get(ns));
    else if (spansNamespaces(value)) for (const bucket of this.#byNamespace.values()) take(bucket);
    for (const bucket of this.#regexps.values()) take(bucket);
  }
}
