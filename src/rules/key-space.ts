// One model of the storage keys a route takes. Every safety question of this
// product (do two routes overlap, does a grant contain a route, would a route
// take keys that must stay in the main database, which resources does it
// touch) is asked here, so all of them agree.
//
// The keys (kube-apiserver, `--etcd-prefix=/registry`, the default; a key is any string,
// so an absolute prefix outside /registry/ is taken as written):
//   built-in:  /registry/<resource>/<namespace>/<name>, /registry/<resource>/<name>,
//              with the apiserver's exceptions (BUILTIN_RESOURCES: nodes at `minions`,
//              services at `services/specs`, endpoints at `services/endpoints`, ...);
//   custom:    /registry/<group>/<resource>/[<namespace>/]<name>.
// What each selector takes (HariKube publishes examples, not rules; this is the model assumed):
//   prefix {prefix}           every key that starts with it, as a string. The relative form
//                             (`pods`, as HariKube's docs write it) means `/registry/pods`, so it
//                             also takes `/registry/pods.example.com/…`; write `pods/` for the
//                             pods resource alone. The absolute form is used as written.
//   customresource {group, kind}  /registry/<group>/<kind>/ (kind is the plural), or the
//                             whole /registry/<group>/ when kind is empty.
//   namespace {namespace, kinds}  /registry/<key prefix of kind>/<namespace>/ for each kind
//                             (a resource name such as `pods`, or its Kind, `Pod`); no kinds:
//                             every namespaced built-in resource. Custom resources are not
//                             included (HariKube: "only built-in core resource types").
//   regexp {prefix, key}      every key either expression finds a match in (Go's unanchored
//                             MatchString). Decidable only when anchored (`^/registry/…`) with a
//                             literal start: that start bounds it, and `^L` alone or `^L$` is
//                             exactly a prefix or a key. Otherwise answers may be `unknown`.
//   several selectors on one backend take the union of their keys.
//
// Exported API:
//   keySetOfSelector(field, value)  the keys one selector (raw object from the spec) takes
//   keySetOfBackend(backend)        the union over a backend's selectors
//   prefixKeys(p) / exactKey(k) / union(...)  building blocks (deny lists, grants)
//   regexpKeys(source) / analyseRegexp(source)  one regexp's keys; what its program shows
//   normalizePrefix(p)              `pods` → `/registry/pods`; absolute unchanged
//   matchesKey(set, key)            whether a concrete key is taken (always decidable)
//   intersects(a, b)                yes/no/unknown, with an example key both take
//   contains(a, b)                  whether every key of b is in a (yes/no/unknown), with a witness
//   firstMatch(routes, key)         index of the route that receives the key (first match), -1: main database
//   decidable(set)                  false when a regexp makes answers about it possibly unknown
//   resourcesTouched(set, catalog)  the (group, resource, namespace) a set can touch
//   customResourceKeys(group, resource, namespaced)  a catalog entry for a custom resource
//   builtinResource(name)           a built-in resource by resource name or Kind
//   describeKeySet(set)             short text for reasons
import { RE2JS } from 're2js';
import { isRecord } from '../resource/json.ts';
import { flatString } from '../runtime/strings.ts';
import { BUILTIN_RESOURCES } from './storage-keys.ts';

export { BUILTIN_RESOURCES };

export const REGISTRY_ROOT = '/registry/';

/** Where one resource's objects are stored. */
export interface ResourceKeys {
  group: string;
  /** The resource name (plural, lower case). */
  resource: string;
  kind?: string;
  namespaced: boolean;
  /** Absolute key prefix ending in `/`, e.g. `/registry/minions/`. */
  keyPrefix: string;
}

/** One piece of a key set. */
export type KeyPart =
  | { type: 'prefix'; value: string }
  | { type: 'key'; value: string }
  | {
      type: 'regexp';
      source: string;
      /** Every key it matches starts with this ('' when nothing is known). */
      bound: string;
    };

/** A set of storage keys: the union of its parts. */
export interface KeySet {
  readonly parts: readonly KeyPart[];
}

export type Decision = 'yes' | 'no' | 'unknown';

export interface Answer {
  verdict: Decision;
  /** A concrete key proving the verdict (in both sets for intersects; in b, not in a, for contains 'no'). */
  key?: string;
  /** The example for a reason: a shared prefix ends in `…`. */
  shown?: string;
}

export const EMPTY: KeySet = Object.freeze({ parts: Object.freeze([]) });

/** `pods` → `/registry/pods`; an absolute prefix is kept as written. */
export function normalizePrefix(prefix: string): string {
  return prefix.startsWith('/') ? prefix : REGISTRY_ROOT + prefix;
}

/** Keys starting with `prefix` (either form). */
export function prefixKeys(prefix: string): KeySet {
  // Held as long as the route: flat (a namespace route's prefixes are built by joining).
  return { parts: [{ type: 'prefix', value: flatString(normalizePrefix(prefix)) }] };
}

/** Exactly one key (absolute). */
export function exactKey(key: string): KeySet {
  return { parts: [{ type: 'key', value: key }] };
}

export function union(...sets: readonly KeySet[]): KeySet {
  const seen = new Set<string>();
  const parts: KeyPart[] = [];
  for (const set of sets) {
    for (const part of set.parts) {
      const id = `${part.type}:${part.type === 'regexp' ? part.source : part.value}`;
      if (seen.has(id)) continue;
      seen.add(id);
      parts.push(part);
    }
  }
  return { parts };
}

const byName = new Map<string, ResourceKeys>();
for (const r of BUILTIN_RESOURCES) {
  // The core group's resource comes first: events are stored at one prefix for both groups.
  if (!byName.has(r.resource)) byName.set(r.resource, r);
  if (r.kind && !byName.has(r.kind)) byName.set(r.kind, r);
}

/** A built-in resource by resource name (`pods`) or Kind (`Pod`). */
export function builtinResource(name: string): ResourceKeys | undefined {
  return byName.get(name) ?? byName.get(name.toLowerCase());
}

const NAMESPACED_PREFIXES = [
  ...new Set(BUILTIN_RESOURCES.filter((r) => r.namespaced).map((r) => r.keyPrefix)),
];

export function customResourceKeys(
  group: string,
  resource: string,
  namespaced = true,
): ResourceKeys {
  return { group, resource, namespaced, keyPrefix: `${REGISTRY_ROOT}${group}/${resource}/` };
}

// --- regular expressions -------------------------------------------------

interface ProgInst {
  op: number;
  out: number;
  arg: number;
  runes: Int32Array;
}
// re2js's compiled program (the op codes of its Inst class, as in Go's regexp/syntax).
const OP = { CAPTURE: 3, EMPTY_WIDTH: 4, MATCH: 6, NOP: 7, RUNE: 8, RUNE1: 9 } as const;
const EMPTY_BEGIN_TEXT = 4;
const EMPTY_END_TEXT = 8;
const FOLD_CASE = 1;

// Compiled programs, the most recently used first to stay. Each weighs ~10–20
// KB (the heap profile of a 1,000-config index: half of it re2js programs),
// so the memo is small: at 4,096 they took ~60 MB of a 10,000-config server's
// heap, at 256 still 3.4 MB, and compiling again costs ~10–30 µs.
const COMPILED_KEPT = 64;
const compiled = new Map<string, RE2JS | null>();
function regexpOf(source: string): RE2JS | null {
  let re = compiled.get(source);
  if (re !== undefined) {
    compiled.delete(source);
    compiled.set(source, re);
    return re;
  }
  try {
    re = RE2JS.compile(source);
  } catch {
    re = null;
  }
  if (compiled.size >= COMPILED_KEPT) compiled.delete(compiled.keys().next().value as string);
  compiled.set(source, re);
  return re;
}

/**
 * What can be decided of a regular expression from its compiled program:
 * whether it is anchored at the start of the key, the literal every match
 * then starts with, and whether that literal is all of it (`^L`, or `^L$`).
 */
export function analyseRegexp(
  source: string,
): { anchored: boolean; literal: string; whole?: 'prefix' | 'key' } | undefined {
  const re = regexpOf(source);
  if (!re) return undefined;
  const prog = (re as unknown as { re2Input: { prog: { inst: ProgInst[]; start: number } } })
    .re2Input.prog;
  let pc = prog.start;
  const skip = () => {
    while (prog.inst[pc]!.op === OP.NOP || prog.inst[pc]!.op === OP.CAPTURE)
      pc = prog.inst[pc]!.out;
  };
  skip();
  let anchored = false;
  while (prog.inst[pc]!.op === OP.EMPTY_WIDTH) {
    if ((prog.inst[pc]!.arg & EMPTY_BEGIN_TEXT) !== 0) anchored = true;
    else if (!anchored) break;
    pc = prog.inst[pc]!.out;
    skip();
  }
  if (!anchored) return { anchored: false, literal: '' };
  let literal = '';
  for (;;) {
    const i = prog.inst[pc]!;
    const single = (i.op === OP.RUNE || i.op === OP.RUNE1) && i.runes.length === 1;
    if (!single || (i.arg & FOLD_CASE) !== 0) break;
    literal += String.fromCodePoint(i.runes[0]!);
    pc = i.out;
    skip();
  }
  const next = prog.inst[pc]!;
  if (next.op === OP.MATCH) return { anchored, literal, whole: 'prefix' };
  if (next.op === OP.EMPTY_WIDTH && next.arg === EMPTY_END_TEXT) {
    pc = next.out;
    skip();
    if (prog.inst[pc]!.op === OP.MATCH) return { anchored, literal, whole: 'key' };
  }
  return { anchored, literal };
}

/** The keys one regular expression finds a match in. */
export function regexpKeys(source: string): KeySet {
  const facts = analyseRegexp(source);
  if (!facts) return EMPTY; // does not compile: validation refuses it, it routes nothing
  // A literal that is not absolute may be meant relative to the root: nothing is assumed of it.
  if (facts.anchored && facts.literal.startsWith('/')) {
    if (facts.whole === 'prefix') return prefixKeys(facts.literal);
    if (facts.whole === 'key') return exactKey(facts.literal);
    return { parts: [{ type: 'regexp', source, bound: facts.literal }] };
  }
  return { parts: [{ type: 'regexp', source, bound: '' }] };
}

// --- selectors -------------------------------------------------------------

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The keys a selector takes; `value` is the selector object as written in the spec. */
export function keySetOfSelector(field: string, value: unknown): KeySet {
  if (!isRecord(value)) return EMPTY;
  switch (field) {
    case 'prefix': {
      const prefix = str(value.prefix);
      return prefix === '' ? EMPTY : prefixKeys(prefix);
    }
    case 'customresource': {
      const group = str(value.group);
      if (group === '') return EMPTY;
      const kind = str(value.kind);
      return prefixKeys(`${REGISTRY_ROOT}${group}/${kind === '' ? '' : `${kind}/`}`);
    }
    case 'namespace': {
      const namespace = str(value.namespace);
      if (namespace === '') return EMPTY;
      const kinds = Array.isArray(value.kinds)
        ? value.kinds.filter((k): k is string => typeof k === 'string' && k !== '')
        : [];
      const prefixes =
        kinds.length === 0
          ? NAMESPACED_PREFIXES
          : kinds.map((k) => builtinResource(k)?.keyPrefix ?? `${REGISTRY_ROOT}${k}/`);
      return union(...prefixes.map((p) => prefixKeys(`${p}${namespace}/`)));
    }
    case 'regexp':
      return union(
        ...(['prefix', 'key'] as const)
          .map((part) => str(value[part]))
          .filter((s) => s !== '')
          .map(regexpKeys),
      );
    default:
      return EMPTY;
  }
}

const SELECTORS = ['customresource', 'namespace', 'prefix', 'regexp'] as const;

/** The keys a backend takes: the union over its selectors. */
export function keySetOfBackend(backend: unknown): KeySet {
  if (!isRecord(backend)) return EMPTY;
  return union(...SELECTORS.map((field) => keySetOfSelector(field, backend[field])));
}

// --- questions -------------------------------------------------------------

function partMatches(part: KeyPart, key: string): boolean {
  switch (part.type) {
    case 'prefix':
      return key.startsWith(part.value);
    case 'key':
      return key === part.value;
    case 'regexp':
      return key.startsWith(part.bound) && (regexpOf(part.source)?.matcher(key).find() ?? false);
  }
}

/** Whether the set takes this concrete key. Always decidable. */
export function matchesKey(set: KeySet, key: string): boolean {
  return set.parts.some((p) => partMatches(p, key));
}

/** The index of the route that receives `key` (first match, top to bottom), -1: the main database. */
export function firstMatch(routes: readonly KeySet[], key: string): number {
  return routes.findIndex((r) => matchesKey(r, key));
}

/** False when a regular expression makes some answers about this set `unknown`. */
export function decidable(set: KeySet): boolean {
  return set.parts.every((p) => p.type !== 'regexp');
}

const shownPrefix = (p: string) => `${p}…`;

/** Concrete keys to try a regular expression on: the part itself and a few below it. */
function samples(part: KeyPart): string[] {
  if (part.type === 'key') return [part.value];
  const p = part.type === 'prefix' ? part.value : part.bound;
  const out = [p, `${p}x`, `${p}0`, `${p}a-1`];
  if (p.endsWith('/')) out.push(`${p}default/x`, `${p}x/x`);
  // One key per built-in resource below a short prefix (`/registry/` takes them all).
  for (const r of BUILTIN_RESOURCES) {
    if (r.keyPrefix.startsWith(p))
      out.push(r.namespaced ? `${r.keyPrefix}default/x` : `${r.keyPrefix}x`);
  }
  return out;
}

function intersectParts(a: KeyPart, b: KeyPart): Answer {
  // A single key is decided by matching it.
  const key = a.type === 'key' ? a.value : b.type === 'key' ? b.value : undefined;
  if (key !== undefined) {
    return partMatches(a, key) && partMatches(b, key)
      ? { verdict: 'yes', key, shown: key }
      : { verdict: 'no' };
  }
  if (a.type === 'prefix' && b.type === 'prefix') {
    const [longer, shorter] = a.value.length >= b.value.length ? [a, b] : [b, a];
    if (!longer.value.startsWith(shorter.value)) return { verdict: 'no' };
    return { verdict: 'yes', key: longer.value, shown: shownPrefix(longer.value) };
  }
  // A regexp: nothing shared when the bounds are apart, else try concrete keys.
  const boundA = a.type === 'regexp' ? a.bound : a.value;
  const boundB = b.type === 'regexp' ? b.bound : b.value;
  if (!boundA.startsWith(boundB) && !boundB.startsWith(boundA)) return { verdict: 'no' };
  // The exact side's keys first: they make the more telling example.
  const tries =
    a.type === 'regexp' ? [...samples(b), ...samples(a)] : [...samples(a), ...samples(b)];
  for (const key of tries) {
    if (partMatches(a, key) && partMatches(b, key)) return { verdict: 'yes', key, shown: key };
  }
  return { verdict: 'unknown' };
}

// Answers involving a regexp try dozens of keys: remember them per pair of
// sets (selector facts share one KeySet object per distinct selector).
const regexpAnswers = new WeakMap<KeySet, WeakMap<KeySet, Answer>>();

/** Whether some key is in both sets; with an example key when yes. */
export function intersects(a: KeySet, b: KeySet): Answer {
  if (decidable(a) && decidable(b)) return intersectSets(a, b);
  let byB = regexpAnswers.get(a);
  if (!byB) regexpAnswers.set(a, (byB = new WeakMap()));
  let answer = byB.get(b);
  if (!answer) byB.set(b, (answer = intersectSets(a, b)));
  return answer;
}

function intersectSets(a: KeySet, b: KeySet): Answer {
  let unknown = false;
  for (const pa of a.parts) {
    for (const pb of b.parts) {
      const answer = intersectParts(pa, pb);
      if (answer.verdict === 'yes') return answer;
      if (answer.verdict === 'unknown') unknown = true;
    }
  }
  return { verdict: unknown ? 'unknown' : 'no' };
}

const WITNESS_CHARS = 'xyzqwj0123456789-._abcdefghiklmnoprstuv';

/** A key under prefix `q` that no exact part of `a` takes, if there is one. */
function keyOutside(a: KeySet, q: string): string | undefined {
  const candidates = [q, ...[...WITNESS_CHARS].map((c) => q + c)];
  return candidates.find((k) => !a.parts.some((p) => p.type !== 'regexp' && partMatches(p, k)));
}

function containsPart(a: KeySet, b: KeyPart): Answer {
  const exact = a.parts.filter((p) => p.type !== 'regexp');
  const covered = (prefixOrKey: KeyPart) =>
    exact.some((p) =>
      p.type === 'prefix'
        ? prefixOrKey.type !== 'regexp' && prefixOrKey.value.startsWith(p.value)
        : prefixOrKey.type === 'key' && prefixOrKey.value === p.value,
    );
  if (b.type === 'key') {
    if (matchesKey(a, b.value)) return { verdict: 'yes' };
    return { verdict: 'no', key: b.value, shown: b.value };
  }
  const bound: KeyPart = b.type === 'regexp' ? { type: 'prefix', value: b.bound } : b;
  if (covered(bound)) return { verdict: 'yes' };
  const regexps = a.parts.some((p) => p.type === 'regexp');
  if (b.type === 'prefix') {
    const witness = keyOutside(a, b.value);
    if (witness !== undefined && !regexps) return { verdict: 'no', key: witness, shown: witness };
    for (const key of samples(b))
      if (!matchesKey(a, key)) return { verdict: 'no', key, shown: key };
    return { verdict: 'unknown' };
  }
  for (const key of samples(b)) {
    if (partMatches(b, key) && !matchesKey(a, key)) return { verdict: 'no', key, shown: key };
  }
  return { verdict: 'unknown' };
}

/** Whether every key of `b` is in `a`; when not, a key of `b` outside `a`. */
export function contains(a: KeySet, b: KeySet): Answer {
  let unknown = false;
  for (const pb of b.parts) {
    const answer = containsPart(a, pb);
    if (answer.verdict === 'no') return answer;
    if (answer.verdict === 'unknown') unknown = true;
  }
  return { verdict: unknown ? 'unknown' : 'yes' };
}

/** Short text for reasons, e.g. `/registry/pods/…, /registry/services/specs/…`. */
export function describeKeySet(set: KeySet, max = 3): string {
  const shown = set.parts
    .slice(0, max)
    .map((p) =>
      p.type === 'prefix'
        ? shownPrefix(p.value)
        : p.type === 'key'
          ? p.value
          : `keys matching ${JSON.stringify(p.source)}`,
    );
  const more = set.parts.length > max ? ` and ${set.parts.length - max} more` : '';
  return shown.length === 0 ? 'no keys' : shown.join(', ') + more;
}

// --- resources -------------------------------------------------------------

/** A resource whose objects a key set can take. */
export interface Touched {
  group: string;
  resource: string;
  /** The one namespace it can touch; undefined: every namespace (or a cluster-scoped resource). */
  namespace?: string;
  /** Only some of those objects (a name prefix, a namespace prefix, a regexp). */
  partial: boolean;
}

function touchedBy(part: KeyPart, r: ResourceKeys): Touched | undefined {
  const base = { group: r.group, resource: r.resource };
  const p = part.type === 'regexp' ? part.bound : part.value;
  if (part.type !== 'key' && r.keyPrefix.startsWith(p)) {
    if (part.type === 'prefix') return { ...base, partial: false };
    return intersectParts(part, { type: 'prefix', value: r.keyPrefix }).verdict === 'no'
      ? undefined
      : { ...base, partial: true };
  }
  if (!p.startsWith(r.keyPrefix)) return undefined;
  if (
    part.type === 'regexp' &&
    intersectParts(part, { type: 'prefix', value: r.keyPrefix }).verdict === 'no'
  )
    return undefined;
  // The route is inside this resource: the namespace is the next segment, when complete.
  const rest = p.slice(r.keyPrefix.length);
  const slash = rest.indexOf('/');
  if (!r.namespaced || slash < 0) return { ...base, partial: true };
  const partial = part.type !== 'prefix' || rest.length > slash + 1;
  return { ...base, namespace: rest.slice(0, slash), partial };
}

/**
 * The resources of `catalog` (default: the built-in ones; add custom
 * resources with customResourceKeys) whose objects `set` can take. `decided`
 * is false when a regexp makes the list an over-approximation.
 */
export function resourcesTouched(
  set: KeySet,
  catalog: readonly ResourceKeys[] = BUILTIN_RESOURCES,
): { touched: Touched[]; decided: boolean } {
  const touched: Touched[] = [];
  for (const r of catalog) {
    const all = set.parts.map((p) => touchedBy(p, r)).filter((t): t is Touched => t !== undefined);
    if (all.length === 0) continue;
    const whole = all.find((t) => !t.partial && t.namespace === undefined);
    if (whole) {
      touched.push(whole);
      continue;
    }
    // Per namespace (undefined: some objects of every namespace), whole when any part takes it whole.
    const byNamespace = new Map<string | undefined, boolean>();
    for (const t of all)
      byNamespace.set(t.namespace, (byNamespace.get(t.namespace) ?? true) && t.partial);
    if (byNamespace.has(undefined)) {
      // Some objects of every namespace: that already says all a caller can check.
      touched.push({ group: r.group, resource: r.resource, partial: true });
      continue;
    }
    for (const [namespace, partial] of byNamespace) {
      touched.push({
        group: r.group,
        resource: r.resource,
        ...(namespace === undefined ? {} : { namespace }),
        partial,
      });
    }
  }
  return { touched, decided: decidable(set) };
}
