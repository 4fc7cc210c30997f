// Taking over a target Secret that the seed's HariKube operator wrote. Its
// keys are `<order>-<name>.yaml` (order unpadded, no namespace) and the
// middleware reads them in lexical order, so `10-a.yaml` routes before
// `2-b.yaml` whatever the configs' positions say. That order is the truth for
// the data already stored, so adoption must route exactly as before:
//
// - each entry is matched to the TopologyConfig that wrote it (same name among
//   the configs naming the Secret; several of that name: the one whose
//   backends begin with the entry's backend names), and becomes that config's
//   incumbent entry under this product's key at its position, its value kept
//   as written; the merge then renews it under the append-only rules, as for
//   any incumbent (a change that could strand data keeps the seed's entry);
// - the new key order may differ from the lexical one only between entries
//   whose routes cannot share a key (first match is then the same); where two
//   entries that share keys would swap, or an entry matches no config, nothing
//   is adopted and the reason says what to change.
//
// Pure: the Secret's data (decoded), the configs, no I/O.
import { isRecord } from '../resource/json.ts';
import { ADOPT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { describeKeySet, intersects, keySetOfBackend, type KeySet } from '../rules/key-space.ts';
import { POSITION_DIGITS, secretKeyFor } from '../secret-format/entry.ts';
import { parse } from 'yaml';
import type { WrittenEntry, WrittenSecret } from './incumbents.ts';

/** A data key as the seed operator wrote it: its order and the config's name. */
export interface SeedKey {
  order: number;
  name: string;
}

const SEED_KEY = /^(\d+)-(.+)\.yaml$/;

export function parseSeedKey(key: string): SeedKey | undefined {
  const match = SEED_KEY.exec(key);
  return match ? { order: Number(match[1]), name: match[2]! } : undefined;
}

/** Keys in the order the middleware reads them: byte order (keys are ASCII). */
const lexical = (keys: Iterable<string>) => [...keys].sort();

/** One backend as a route: its name, the entry it sits in, the keys it takes. */
export interface Route {
  backend: string;
  /** The data key of the entry holding it. */
  entry: string;
  keys: KeySet;
}

/** The backends an entry's YAML lists (none when it is not the expected shape). */
export function backendsOfValue(value: string): unknown[] {
  try {
    const doc: unknown = parse(value);
    return isRecord(doc) && Array.isArray(doc.backends) ? doc.backends : [];
  } catch {
    return [];
  }
}

const nameOf = (backend: unknown): string =>
  isRecord(backend) && typeof backend.name === 'string' ? backend.name : '';

/** The middleware's route list: entries in key order, each entry's backends in list order. */
export function routesOf(data: Readonly<Record<string, string>>): Route[] {
  return lexical(Object.keys(data)).flatMap((entry) =>
    backendsOfValue(data[entry]!).map((b) => ({
      backend: nameOf(b),
      entry,
      keys: keySetOfBackend(b),
    })),
  );
}

/** Keys of a route that another route now receives (first match), or may. */
export interface RouteChange {
  /** The backend (and its entry, before) that received them. */
  from: { backend: string; entry: string };
  /** The backend (and its entry, after) that would receive them; undefined: no route (the main database). */
  to?: { backend: string; entry: string };
  /** An example key, or a description of the keys. */
  example: string;
  /** 'unknown': a regular expression this check cannot decide. */
  verdict: 'yes' | 'unknown';
}

/**
 * Where `after` routes some key differently from `before` (first match over
 * each list). Backends are identified by name (unique cluster-wide). A route
 * of `before` loses keys when a route now ahead of it, new or moved from
 * behind it, shares keys with it, or when it is gone. Conservative: a shared
 * key that an earlier route of both lists takes anyway is still reported.
 */
export function routingChanges(before: readonly Route[], after: readonly Route[]): RouteChange[] {
  const was = new Map(before.map((r, i) => [r.backend, i]));
  const now = new Map(after.map((r, i) => [r.backend, i]));
  const changes: RouteChange[] = [];
  before.forEach((old, b) => {
    const at = now.get(old.backend);
    if (at === undefined) {
      changes.push({
        from: { backend: old.backend, entry: old.entry },
        example: describeKeySet(old.keys),
        verdict: 'yes',
      });
      return;
    }
    const keys = after[at]!.keys;
    for (let r = 0; r < at; r++) {
      const ahead = after[r]!;
      const previously = was.get(ahead.backend);
      if (previously !== undefined && previously < b) continue; // ahead of it before too
      const answer = intersects(ahead.keys, keys);
      if (answer.verdict === 'no') continue;
      changes.push({
        from: { backend: old.backend, entry: old.entry },
        to: { backend: ahead.backend, entry: ahead.entry },
        example: answer.shown ?? describeKeySet(ahead.keys),
        verdict: answer.verdict,
      });
    }
  });
  return changes;
}

/** One sentence per change, for reasons and the dry run. */
export function describeChange(change: RouteChange): string {
  const from = `backend ${JSON.stringify(change.from.backend)} (${change.from.entry})`;
  if (!change.to)
    return `${from} would be gone: keys such as ${change.example} would go to the main database`;
  const to = `backend ${JSON.stringify(change.to.backend)} (${change.to.entry})`;
  return change.verdict === 'yes'
    ? `keys such as ${change.example} that ${from} receives would go to ${to}`
    : `keys that ${from} receives may go to ${to} (a regular expression this check cannot decide)`;
}

/** An entry of the seed's Secret and the config it is adopted for. */
export interface AdoptedEntry {
  /** The seed's data key. */
  from: string;
  /** This product's key for the config, at its position. */
  to: string;
  /** `namespace/name` of the config. */
  config: string;
}

export type AdoptionPlan =
  | {
      ok: true;
      /** The incumbents the merge starts from: this product's keys, the seed's values. */
      written: WrittenSecret;
      entries: AdoptedEntry[];
      /** Entries that change places without changing any route (their routes share no key). */
      reordered: string[];
    }
  | { ok: false; problems: string[] };

const refOf = (c: TopologyConfig) => `${c.metadata?.namespace ?? ''}/${c.metadata?.name ?? ''}`;

function backendNames(config: TopologyConfig): string[] {
  const backends: unknown = config.spec?.backends;
  return Array.isArray(backends) ? backends.map(nameOf) : [];
}

/** The config that wrote an entry, or why there is none. */
function matchEntry(
  key: string,
  seed: SeedKey,
  names: readonly string[],
  configs: readonly TopologyConfig[],
): TopologyConfig | string {
  const named = configs.filter((c) => c.metadata?.name === seed.name);
  if (named.length === 0) {
    return `data key ${key}: no TopologyConfig named ${JSON.stringify(seed.name)} names this Secret, so its routes would be dropped: create the config that wrote it (same name and backends), or remove the key from the Secret`;
  }
  if (named.length === 1) return named[0]!;
  const same = named.filter((c) => {
    const own = backendNames(c);
    return names.length > 0 && names.every((n, i) => own[i] === n);
  });
  if (same.length === 1) return same[0]!;
  return `data key ${key}: ${same.length === 0 ? 'none' : 'more than one'} of the configs named ${JSON.stringify(seed.name)} (${named.map(refOf).sort().join(', ')}) begins with its backends (${names.map((n) => JSON.stringify(n)).join(', ')}), so the config that wrote it is not known`;
}

/**
 * The adoption of a seed Secret's data (values decoded) by the configs that
 * name it (live ones), or every reason it cannot be adopted as it is.
 */
export function planAdoption(
  data: Readonly<Record<string, string>>,
  configs: readonly TopologyConfig[],
): AdoptionPlan {
  const problems: string[] = [];
  const entries: AdoptedEntry[] = [];
  const written = new Map<string, WrittenEntry>();
  const claimed = new Map<string, string>();
  for (const key of lexical(Object.keys(data))) {
    const seed = parseSeedKey(key);
    if (!seed) {
      problems.push(
        `data key ${key} is not in the seed operator's format <order>-<name>.yaml, so the config that wrote it is not known: remove it from the Secret, or choose another targetSecret`,
      );
      continue;
    }
    const value = data[key]!;
    const names = backendsOfValue(value).map(nameOf);
    const config = matchEntry(key, seed, names, configs);
    if (typeof config === 'string') {
      problems.push(config);
      continue;
    }
    const ref = refOf(config);
    const position: unknown = config.spec?.position;
    const uid = config.metadata?.uid;
    if (claimed.has(ref)) {
      problems.push(
        `data keys ${claimed.get(ref)} and ${key} are both entries of ${ref}; one config has one entry: remove the one the middleware should no longer read`,
      );
      continue;
    }
    claimed.set(ref, key);
    if (typeof position !== 'number' || !Number.isInteger(position) || position < 1 || !uid) {
      problems.push(`data key ${key}: ${ref} has no valid spec.position yet`);
      continue;
    }
    const to = secretKeyFor(config);
    entries.push({ from: key, to, config: ref });
    written.set(to, { uid, generation: config.metadata.generation ?? 0, value });
  }
  if (problems.length > 0) return { ok: false, problems };

  // The same entries under the new keys: any key routed elsewhere refuses the whole adoption.
  const adopted = Object.fromEntries(entries.map((e) => [e.to, data[e.from]!]));
  const fromOf = new Map(entries.map((e) => [e.to, e.from]));
  const changes = routingChanges(routesOf(data), routesOf(adopted));
  for (const change of changes) {
    if (!change.to) {
      problems.push(describeChange(change));
      continue;
    }
    const moved = fromOf.get(change.to.entry)!;
    const mine = entries.find((e) => e.from === change.from.entry)!;
    const ahead = entries.find((e) => e.from === moved)!;
    problems.push(
      `${describeChange({ ...change, to: { ...change.to, entry: moved } })}: the middleware reads ${mine.from} before ${ahead.from} (lexical order), but at their positions (${mine.config}: ${positionOfKey(mine.to)}, ${ahead.config}: ${positionOfKey(ahead.to)}) ${ahead.config} would come first; give ${mine.config} a position below ${positionOfKey(ahead.to)}, or ${ahead.config} one above ${positionOfKey(mine.to)}, so that the order the middleware follows today is kept`,
    );
  }
  if (problems.length > 0) return { ok: false, problems: [...new Set(problems)] };
  const newOrder = lexical(entries.map((e) => e.to)).map((to) => fromOf.get(to)!);
  const oldOrder = lexical(entries.map((e) => e.from));
  const reordered = oldOrder.filter((from, i) => newOrder[i] !== from);
  return { ok: true, written, entries, reordered };
}

const positionOfKey = (key: string) => Number(key.slice(0, POSITION_DIGITS));

/** Whether every data key is in the seed operator's format (an empty Secret is too). */
export function looksLikeSeed(data: Readonly<Record<string, unknown>> | undefined): boolean {
  return Object.keys(data ?? {}).every((key) => parseSeedKey(key) !== undefined);
}

/** Whether the Secret asks to be adopted (the label, set by hand or by `topology adopt`). */
export function adoptionRequested(secret: {
  metadata?: { labels?: Record<string, string> };
}): boolean {
  return secret.metadata?.labels?.[ADOPT_LABEL] === 'true';
}

/**
 * Why configs naming an unmanaged Secret are in Error: for one the seed's
 * operator may have written, how to adopt it.
 */
export function notManagedReason(
  target: string,
  data: Readonly<Record<string, unknown>> | undefined,
): string {
  const base = `Secret ${target} exists and is not managed by ${MANAGED_BY_VALUE} (label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} is missing), so it is never overwritten`;
  if (!looksLikeSeed(data)) return `${base}: choose another targetSecret or remove that Secret`;
  return `${base}; its keys are in the seed HariKube operator's format, so it can be adopted with the order the middleware reads today: preview with "topology adopt --dry-run ${target}", then run "topology adopt ${target}" (or label the Secret ${ADOPT_LABEL}=true); otherwise choose another targetSecret`;
}

/** Why a Secret labelled for adoption is not adopted. */
export function notAdoptedReason(target: string, problems: readonly string[]): string {
  return `Secret ${target} is labelled ${ADOPT_LABEL}=true but is not adopted (nothing is written until it can be, with every key routed as today): ${problems.join('; ')}`;
}
