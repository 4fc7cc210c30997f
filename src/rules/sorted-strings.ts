// A sorted set of strings (code-unit order) with range queries, for "which
// prefixes start with this one" in O(log n + matches). Insertions are
// gathered and merged in at the next query, so that building a large set (an
// informer's first list, a merge) costs one sort instead of a shift per item.

const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The index of the first item of `sorted` (ascending) that is >= value. */
export function lowerBound<T extends string | number>(sorted: readonly T[], value: T): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedStrings {
  #items: string[] = [];
  #pending: string[] = [];

  /** A set of these values, sorted once. */
  static from(values: Iterable<string>): SortedStrings {
    const set = new SortedStrings();
    set.#items = [...new Set(values)].sort(order);
    return set;
  }

  get size(): number {
    this.#flush();
    return this.#items.length;
  }

  /** Merges the pending insertions into the sorted items. */
  #flush(): void {
    if (this.#pending.length === 0) return;
    const added = [...new Set(this.#pending)].sort(order);
    this.#pending = [];
    const items = this.#items;
    const merged: string[] = [];
    let i = 0;
    let j = 0;
    while (i < items.length || j < added.length) {
      const next =
        j >= added.length || (i < items.length && items[i]! <= added[j]!)
          ? items[i++]!
          : added[j++]!;
      if (merged[merged.length - 1] !== next) merged.push(next);
    }
    this.#items = merged;
  }

  /** The index of the first item >= value. */
  #lowerBound(value: string): number {
    return lowerBound(this.#items, value);
  }

  has(value: string): boolean {
    this.#flush();
    return this.#items[this.#lowerBound(value)] === value;
  }

  insert(value: string): void {
    this.#pending.push(value);
  }

  remove(value: string): void {
    this.#flush();
    const i = this.#lowerBound(value);
    if (this.#items[i] === value) this.#items.splice(i, 1);
  }

  /** The items that start with `prefix` (itself included), in order. */
  *startingWith(prefix: string): Generator<string> {
    this.#flush();
    for (let i = this.#lowerBound(prefix); i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (!item.startsWith(prefix)) return;
      yield item;
    }
  }
}
