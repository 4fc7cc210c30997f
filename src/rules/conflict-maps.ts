// Maps of configs' facts, keyed so that every conflict check is a lookup:
//   - a backend name (cluster-wide: every target Secret);
//   - a database hash (the endpoint without credentials), a position, or a canonical selector (per target).
// Overlaps (any selector types: a prefix over a group, a namespace over a
// prefix inside it, ...) come from a RouteIndex per target, judged by the key
// space model, so they too avoid scanning all configs.
import type { Conflict, Overlap } from './conflicts.ts';
import { backendPath } from './conflicts.ts';
import type { ConfigFacts, SelectorFacts } from './facts.ts';
import { compareFacts } from './facts.ts';
import { intersects } from './key-space.ts';
import { RouteIndex } from './route-index.ts';
import { Buckets, TargetBuckets } from './buckets.ts';

interface Entry {
  config: ConfigFacts;
  backend: number;
  selector: SelectorFacts | undefined;
}

const NONE: readonly Entry[] = Object.freeze([]);
/** Stops the overlap search: warnings past this many help nobody. */
export const MAX_OVERLAPS = 5;

/**
 * Maps of the configs added so far, answering "what does this config conflict
 * with" by lookups. ConfigIndex keeps one for the live cluster; the merge
 * builds one of the configs it has accepted.
 */
export class ConflictMaps {
  #names = new Buckets<string, Entry>();
  // Per target: by database hash, position and canonical selector.
  #endpoints = new TargetBuckets<string, Entry>();
  #positions = new TargetBuckets<number, ConfigFacts>();
  #selectors = new TargetBuckets<string, Entry>();
  // Per target: every selector by the keys it routes, for overlaps.
  #routes = new Map<string, RouteIndex<Entry & { selector: SelectorFacts }>>();
  readonly #withOverlaps: boolean;

  /** `overlaps: false` when only conflicts are asked (the merge): no route index is kept. */
  constructor(options: { overlaps?: boolean } = {}) {
    this.#withOverlaps = options.overlaps ?? true;
  }

  add(facts: ConfigFacts): void {
    const t = facts.target;
    if (t !== undefined && facts.position !== undefined)
      this.#positions.add(t, facts.position, facts);
    for (const b of facts.backends) {
      // One shape for every entry, each built whole: a spread copy with
      // `selector` added held it out of the object (0.8 MB at 10,000 configs).
      const entry: Entry = { config: facts, backend: b.index, selector: undefined };
      if (b.name) this.#names.add(b.name, entry);
      if (t === undefined) continue;
      if (b.databaseHash) this.#endpoints.add(t, b.databaseHash, entry);
      for (const s of b.selectors)
        this.#addSelector(t, { config: facts, backend: b.index, selector: s });
    }
  }

  remove(facts: ConfigFacts): void {
    const t = facts.target;
    const mine = (e: Entry) => e.config.key === facts.key;
    if (t !== undefined && facts.position !== undefined)
      this.#positions.remove(t, facts.position, (c) => c.key === facts.key);
    for (const b of facts.backends) {
      if (b.name) this.#names.remove(b.name, mine);
      if (t === undefined) continue;
      if (b.databaseHash) this.#endpoints.remove(t, b.databaseHash, mine);
      for (const s of b.selectors) {
        this.#selectors.remove(t, s.canonical, mine);
        this.#routes.get(t)?.remove(facts.key, s.keys);
      }
    }
  }

  #addSelector(t: string, entry: Entry & { selector: SelectorFacts }): void {
    this.#selectors.add(t, entry.selector.canonical, entry);
    if (!this.#withOverlaps) return;
    let routes = this.#routes.get(t);
    if (!routes) this.#routes.set(t, (routes = new RouteIndex()));
    routes.add(entry.config.key, entry, entry.selector.keys);
  }

  /** Every conflict of `facts` with the configs held here, other than itself, in merge order. */
  conflicts(facts: ConfigFacts): Conflict[] {
    const out: Conflict[] = [];
    const t = facts.target;
    // Most lookups find nothing, or only the config itself: no copy then.
    const others = (entries: readonly Entry[]): readonly Entry[] => {
      if (entries.length === 0 || (entries.length === 1 && entries[0]!.config.key === facts.key))
        return NONE;
      return entries
        .filter((e) => e.config.key !== facts.key)
        .sort((a, b) => compareFacts(a.config, b.config) || a.backend - b.backend);
    };
    if (t !== undefined && facts.position !== undefined) {
      const at = this.#positions
        .get(t, facts.position)
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
        for (const e of others(this.#endpoints.get(t, b.databaseHash))) {
          out.push({
            kind: 'endpoint',
            field: `${path}.endpoint`,
            other: e.config,
            otherField: backendPath(e.backend),
          });
        }
      }
      for (const s of b.selectors) {
        for (const e of others(this.#selectors.get(t, s.canonical))) {
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

  /**
   * Every overlap of `facts`' selectors with other configs' selectors of its
   * target (identical selectors are conflicts, not overlaps), in merge order.
   */
  overlaps(facts: ConfigFacts): Overlap[] {
    const t = facts.target;
    const routes = t === undefined ? undefined : this.#routes.get(t);
    if (!routes) return [];
    const out: Overlap[] = [];
    for (const b of facts.backends) {
      for (const s of b.selectors) {
        for (const e of routes.candidates(s.keys)) {
          if (e.config.key === facts.key || e.selector.canonical === s.canonical) continue;
          const shared = intersects(s.keys, e.selector.keys);
          if (shared.verdict === 'no') continue;
          out.push({
            field: `${backendPath(b.index)}.${s.field}`,
            backend: b.index,
            other: e.config,
            otherField: `${backendPath(e.backend)}.${e.selector.field}`,
            otherWins: compareFacts(e.config, facts) < 0,
            verdict: shared.verdict,
            ...(shared.shown === undefined ? {} : { shown: shared.shown }),
          });
        }
      }
    }
    const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return out.sort(
      (x, y) =>
        compareFacts(x.other, y.other) ||
        x.backend - y.backend ||
        text(x.field, y.field) ||
        text(x.otherField, y.otherField),
    );
  }
}
