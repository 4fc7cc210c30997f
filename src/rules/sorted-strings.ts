// A sorted set of strings (code-unit order) with range queries, for "which
// prefixes start with this one" in O(log n + matches). Insertion and removal
// shift the array, which is fast enough for tens of thousands of entries.

export class SortedStrings {
  #items: string[] = [];

  /** A set of these values, sorted once (cheaper than inserting them one by one). */
  static from(values: Iterable<string>): SortedStrings {
    const set = new SortedStrings();
    set.#items = [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return set;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The index of the first item >= value. */
  #lowerBound(value: string): number {
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#items[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(value: string): boolean {
    return this.#items[this.#lowerBound(value)] === value;
  }

  insert(value: string): void {
    const i = this.#lowerBound(value);
    if (this.#items[i] !== value) this.#items.splice(i, 0, value);
  }

  remove(value: string): void {
    const i = this.#lowerBound(value);
    if (this.#items[i] === value) this.#items.splice(i, 1);
  }

  /** The items that start with `prefix` (itself included), in order. */
  *startingWith(prefix: string): Generator<string> {
    for (let i = this.#lowerBound(prefix); i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (!item.startsWith(prefix)) return;
      yield item;
    }
  }
}
