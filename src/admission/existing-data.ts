// Data that already exists: a route that starts matching objects stored so
// far by the main database (or a later route) strands them, since the
// middleware then looks for them in the new backend. Before a new or changed
// route is admitted (and again before the reconciler first merges it), the
// objects it would take are counted at the API server and, unless the change
// is authorised, the route is refused with the counts per kind.
//
// Which (group, resource, namespace) a route takes comes from the one model
// of the key space (rules/key-space.ts); the API server serves the versions
// (aggregated discovery, cached). Counts come from `limit=1` lists of object
// metadata: the item plus `remainingItemCount`. Objects the cluster's own
// controllers create in every namespace and recreate (the `default`
// ServiceAccount, the `kube-root-ca.crt` ConfigMap) are named, not counted.
// Every call shares one time budget below the webhook's timeout; running out
// of it, or any error, refuses (fails closed) with that reason.
import { ALLOW_ROUTING_CHANGE_ANNOTATION } from '../resource/names.ts';
import { forbidden, type FieldError } from '../rules/field-errors.ts';
import { isRecord } from '../resource/json.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { SELECTOR_FIELDS } from '../rules/facts.ts';
import {
  BUILTIN_RESOURCES,
  customResourceKeys,
  keySetOfSelector,
  resourcesTouched,
  type ResourceKeys,
  type Touched,
} from '../rules/key-space.ts';

/** What the check needs of the API server: GETs, in a chosen representation (kube/rest.ts's client is one). */
export interface RestClient {
  get<T>(path: string, accept?: string): Promise<T>;
}

/** A served resource: its preferred version and whether it can be listed. */
export interface Served {
  group: string;
  resource: string;
  version: string;
  namespaced: boolean;
}

/** Objects the cluster recreates in every namespace: named in reasons, never counted. */
export const CLUSTER_DEFAULTS: ReadonlyArray<{ group: string; resource: string; name: string }> = [
  { group: '', resource: 'serviceaccounts', name: 'default' },
  { group: '', resource: 'configmaps', name: 'kube-root-ca.crt' },
];

/** One thing to count: the objects of a resource (in one namespace, or all) a backend would take. */
export interface CountTarget {
  /** `spec.backends[i]`. */
  field: string;
  touched: Touched;
  served: Served;
}

const selectorsOf = (backend: unknown): Map<string, string> => {
  const out = new Map<string, string>();
  if (!isRecord(backend)) return out;
  for (const field of SELECTOR_FIELDS)
    if (backend[field] !== undefined) out.set(field, JSON.stringify(backend[field]));
  return out;
};

/**
 * The backends of `config` whose routes are new or changed against `old`
 * (every backend on a CREATE), with the resources each would take. A backend
 * is matched to its old self by name; an unchanged selector was checked when
 * it was admitted.
 */
export function countTargets(
  config: TopologyConfig,
  old: TopologyConfig | undefined,
  served: readonly Served[],
): CountTarget[] {
  const catalog: ResourceKeys[] = [...BUILTIN_RESOURCES];
  for (const s of served) {
    if (
      s.group !== '' &&
      !BUILTIN_RESOURCES.some((b) => b.group === s.group && b.resource === s.resource)
    )
      catalog.push(customResourceKeys(s.group, s.resource, s.namespaced));
  }
  const byResource = new Map(served.map((s) => [`${s.group}/${s.resource}`, s]));
  const before = new Map<string, Map<string, string>>();
  for (const b of Array.isArray(old?.spec?.backends) ? old.spec.backends : []) {
    if (isRecord(b) && typeof b.name === 'string') before.set(b.name, selectorsOf(b));
  }
  const out: CountTarget[] = [];
  const backends: unknown[] = Array.isArray(config.spec?.backends) ? config.spec.backends : [];
  backends.forEach((backend, i) => {
    if (!isRecord(backend)) return;
    const was = typeof backend.name === 'string' ? before.get(backend.name) : undefined;
    for (const [field, value] of selectorsOf(backend)) {
      if (was?.get(field) === value) continue;
      const { touched } = resourcesTouched(keySetOfSelector(field, backend[field]), catalog);
      for (const t of touched) {
        const s = byResource.get(`${t.group}/${t.resource}`);
        if (s) out.push({ field: `spec.backends[${i}].${field}`, touched: t, served: s });
      }
    }
  });
  return out;
}

// --- discovery -------------------------------------------------------------

interface DiscoveryList {
  items?: Array<{
    metadata?: { name?: string };
    versions?: Array<{
      version?: string;
      resources?: Array<{ resource?: string; scope?: string; verbs?: string[] }>;
    }>;
  }>;
}

const AGGREGATED =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

function servedOf(list: DiscoveryList): Served[] {
  const out: Served[] = [];
  for (const group of list.items ?? []) {
    // Versions come in preference order: the first one that serves a resource is used.
    const seen = new Set<string>();
    for (const version of group.versions ?? []) {
      for (const r of version.resources ?? []) {
        if (!r.resource || seen.has(r.resource) || !(r.verbs ?? []).includes('list')) continue;
        seen.add(r.resource);
        out.push({
          group: group.metadata?.name ?? '',
          resource: r.resource,
          version: version.version ?? 'v1',
          namespaced: r.scope === 'Namespaced',
        });
      }
    }
  }
  return out;
}

/**
 * Aggregated discovery of /api and /apis, remembered for `ttlMs` of monotonic
 * time (as sharedReads' window is): a wall clock stepped back would keep it,
 * and so miss a newly served resource, for as long as the step.
 */
export function cachedDiscovery(
  rest: RestClient,
  ttlMs = 30_000,
  elapsed: () => number = () => performance.now(),
): () => Promise<Served[]> {
  let cached: { at: number; value: Promise<Served[]> } | undefined;
  return () => {
    const now = elapsed();
    if (!cached || now - cached.at > ttlMs) {
      const value = Promise.all([
        rest.get<DiscoveryList>('/api', AGGREGATED),
        rest.get<DiscoveryList>('/apis', AGGREGATED),
      ]).then(([core, groups]) => [...servedOf(core), ...servedOf(groups)]);
      cached = { at: now, value };
      // A failure is not remembered: the next review asks again.
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  };
}

// --- sharing counts between reviews ----------------------------------------

/**
 * Reads shared between reviews: a GET identical to one still in flight joins
 * it, and its answer serves identical GETs for `windowMs` from when it was
 * sent; a failure is shared only by those already waiting for it, never kept.
 * Only numbers and names of a `limit=1` list are held, for a window, so the
 * memory is that of the routes being admitted.
 *
 * For admission only: a create whose count is shared can miss an object
 * created up to `windowMs` before it; the reconciler counts afresh (no
 * sharing) before the config's first merge, which is where the never-strand
 * guarantee holds, so such a config stays out of its Secret, in Error.
 */
export function sharedReads(
  rest: RestClient,
  windowMs: number,
  now: () => number = () => performance.now(),
): RestClient {
  const kept = new Map<string, { sentAt: number; answer: Promise<unknown> }>();
  const forgetOld = (at: number) => {
    for (const [key, entry] of kept) if (at - entry.sentAt > windowMs) kept.delete(key);
  };
  return {
    get<T>(path: string, accept?: string): Promise<T> {
      const key = `${accept ?? ''} ${path}`;
      const at = now();
      const entry = kept.get(key);
      if (entry && at - entry.sentAt <= windowMs) return entry.answer as Promise<T>;
      // One pass over what the window left behind, only when something is added.
      forgetOld(at);
      const answer = rest.get<T>(path, accept);
      const mine = { sentAt: at, answer };
      kept.set(key, mine);
      answer.catch(() => {
        if (kept.get(key) === mine) kept.delete(key);
      });
      return answer;
    },
  };
}

// --- counting --------------------------------------------------------------

const METADATA_ONLY =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

interface ListMeta {
  items?: Array<{ metadata?: { name?: string } }>;
  metadata?: { remainingItemCount?: number; continue?: string };
}

function listPath(s: Served, namespace: string | undefined, query: string): string {
  const base = s.group === '' ? `/api/${s.version}` : `/apis/${s.group}/${s.version}`;
  const ns =
    namespace !== undefined && s.namespaced ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${s.resource}?${query}`;
}

export interface Count {
  target: CountTarget;
  /** Objects that would be stranded (the cluster's defaults not counted). */
  count: number;
  /** True when the API server did not say how many remain (at least `count`). */
  atLeast: boolean;
  /** The cluster's default objects found among them. */
  defaults: string[];
}

async function countOne(rest: RestClient, target: CountTarget): Promise<Count> {
  const { served, touched } = target;
  const list = await rest.get<ListMeta>(
    listPath(served, touched.namespace, 'limit=1'),
    METADATA_ONLY,
  );
  const seen = list.items?.length ?? 0;
  const remaining = list.metadata?.remainingItemCount;
  let count = seen + (remaining ?? 0);
  const atLeast = remaining === undefined && Boolean(list.metadata?.continue);
  const defaults: string[] = [];
  for (const d of CLUSTER_DEFAULTS) {
    if (d.group !== served.group || d.resource !== served.resource || count === 0) continue;
    // Whether the default object is among them (a namespace's, or each namespace's).
    const query = `fieldSelector=${encodeURIComponent(`metadata.name=${d.name}`)}&limit=500`;
    const found = await rest.get<ListMeta>(
      listPath(served, touched.namespace, query),
      METADATA_ONLY,
    );
    const n = found.items?.length ?? 0;
    if (n > 0) {
      count -= n;
      defaults.push(`${d.name}${touched.namespace === undefined ? ` (in ${n} namespaces)` : ''}`);
    }
  }
  return { target, count: Math.max(0, count), atLeast, defaults };
}

export type ExistingDataVerdict =
  { state: 'clear'; notes: string[] } | { state: 'refused'; errors: FieldError[] };

const STRANDS = `routing them now would make them unreachable (the middleware would look for them in the new backend): migrate them first, or set the annotation ${ALLOW_ROUTING_CHANGE_ANNOTATION}: "true" to do it anyway`;

const where = (t: CountTarget) =>
  t.touched.namespace !== undefined ? `namespace ${t.touched.namespace}` : 'the cluster';

/**
 * Counts what the new or changed routes would take, within `budgetMs`.
 * `refused` names every backend field that would strand objects, with counts
 * per kind; a timeout or an API error refuses too (the check cannot vouch).
 */
export async function checkExistingData(
  rest: RestClient,
  discovery: () => Promise<Served[]>,
  config: TopologyConfig,
  old: TopologyConfig | undefined,
  budgetMs: number,
): Promise<ExistingDataVerdict> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), budgetMs);
  });
  const work = (async () => {
    const targets = countTargets(config, old, await discovery());
    return Promise.all(targets.map((t) => countOne(rest, t)));
  })();
  work.catch(() => {}); // a late failure after the deadline is not an unhandled rejection
  try {
    const counts = await Promise.race([work, deadline]);
    if (counts === 'timeout') {
      return {
        state: 'refused',
        errors: [
          forbidden(
            'spec.backends',
            `cannot tell within ${budgetMs} ms whether the new routes would take objects that already exist (the API server, or this webhook, was too busy to count them in time), so they are refused: try again`,
          ),
        ],
      };
    }
    return verdictOf(counts);
  } catch (error) {
    return {
      state: 'refused',
      errors: [
        forbidden(
          'spec.backends',
          `cannot tell whether the new routes would take objects that already exist, so they are refused: ${(error as Error).message}`,
        ),
      ],
    };
  } finally {
    clearTimeout(timer);
  }
}

function verdictOf(counts: readonly Count[]): ExistingDataVerdict {
  // Per backend field and place: the kinds with objects, and the defaults named.
  const groups = new Map<string, { kinds: string[]; defaults: string[] }>();
  for (const c of counts) {
    if (c.count === 0 && c.defaults.length === 0) continue;
    const key = `${c.target.field}\u0000${where(c.target)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kinds: [], defaults: [] }));
    const kind = c.target.served.group
      ? `${c.target.served.resource}.${c.target.served.group}`
      : c.target.served.resource;
    if (c.count > 0) g.kinds.push(`${c.atLeast ? 'at least ' : ''}${c.count} ${kind}`);
    for (const d of c.defaults) g.defaults.push(`${kind.replace(/s$/, '')} ${d}`);
  }
  const errors: FieldError[] = [];
  const notes: string[] = [];
  for (const [key, g] of groups) {
    const [field, place] = key.split('\u0000') as [string, string];
    const defaults = g.defaults.length
      ? ` (not counted: ${g.defaults.join(', ')}, which the cluster creates in every namespace and recreates)`
      : '';
    if (g.kinds.length > 0)
      errors.push(
        forbidden(field, `${place} already holds ${g.kinds.join(', ')}${defaults}: ${STRANDS}`),
      );
    else if (defaults)
      notes.push(`${field}: ${place} holds only what the cluster creates itself${defaults}`);
  }
  return errors.length > 0 ? { state: 'refused', errors } : { state: 'clear', notes };
}
