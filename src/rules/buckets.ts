// Values grouped by key, for the conflict maps and the route index: a key
// holding one value (most do: names, database hashes and selectors are
// rarely shared) holds it as itself, not in an array of its own. Those
// arrays were a third of the index's memory at 10,000 configs.

const NONE: readonly never[] = Object.freeze([]);

/** Values (objects, never arrays) by key. */
export class Buckets<K, V extends object> {
  #map = new Map<K, V | V[]>();

  add(key: K, value: V): void {
    const held = this.#map.get(key);
    if (held === undefined) this.#map.set(key, value);
    else if (Array.isArray(held)) held.push(value);
    else this.#map.set(key, [held, value]);
  }

  /** The values at `key`, in the order added (not to be modified). */
  get(key: K): readonly V[] {
    const held = this.#map.get(key);
    return held === undefined ? NONE : Array.isArray(held) ? held : [held];
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /**
   * Removes the values at `key` that `drop` selects. 'emptied': the key held
   * some and holds none now; 'kept': some remain; 'none': nothing was removed.
   */
  remove(key: K, drop: (value: V) => boolean): 'emptied' | 'kept' | 'none' {
    const held = this.#map.get(key);
    if (held === undefined) return 'none';
    const values = Array.isArray(held) ? held : [held];
    const kept = values.filter((v) => !drop(v));
    if (kept.length === values.length) return 'none';
    if (kept.length === 0) {
      this.#map.delete(key);
      return 'emptied';
    }
    this.#map.set(key, kept.length === 1 ? kept[0]! : kept);
    return 'kept';
  }

  /** Every key's values. */
  *groups(): Generator<readonly V[]> {
    for (const held of this.#map.values()) yield Array.isArray(held) ? held : [held];
  }

  get size(): number {
    return this.#map.size;
  }
}

/** Buckets per target Secret, so that keys need not spell the target (one string fewer per entry). */
export class TargetBuckets<K, V extends object> {
  #targets = new Map<string, Buckets<K, V>>();

  add(target: string, key: K, value: V): void {
    let buckets = this.#targets.get(target);
    if (!buckets) this.#targets.set(target, (buckets = new Buckets()));
    buckets.add(key, value);
  }

  get(target: string, key: K): readonly V[] {
    return this.#targets.get(target)?.get(key) ?? NONE;
  }

  remove(target: string, key: K, drop: (value: V) => boolean): void {
    const buckets = this.#targets.get(target);
    if (buckets?.remove(key, drop) === 'emptied' && buckets.size === 0)
      this.#targets.delete(target);
  }
}
