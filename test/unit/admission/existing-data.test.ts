// The existing-data check: which resources a new or changed route takes
// (from the key-space model and discovery), counts from limit=1 lists, the
// cluster's own default objects named but not counted, and a refusal when
// the time budget runs out or the API server fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cachedDiscovery,
  checkExistingData,
  countTargets,
  sharedReads,
  type Served,
} from '../../../src/admission/existing-data.ts';
import { type RestClient } from '../../../src/kube/rest.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import type { Backend } from '../../../src/resource/types.ts';
import { config } from '../rules/fixtures.ts';

const served: Served[] = [
  { group: '', resource: 'configmaps', version: 'v1', namespaced: true },
  { group: '', resource: 'serviceaccounts', version: 'v1', namespaced: true },
  { group: '', resource: 'secrets', version: 'v1', namespaced: true },
  { group: 'apps', resource: 'deployments', version: 'v1', namespaced: true },
  { group: 'stable.example.com', resource: 'shirts', version: 'v1', namespaced: true },
  { group: 'stable.example.com', resource: 'hats', version: 'v1beta1', namespaced: false },
];

const withBackends = (...backends: Backend[]) => config({ name: 'routes', backends });
const nsRoute = (namespace: string, kinds?: string[]): Backend => ({
  name: `ns-${namespace}`,
  endpoint: 'mysql://u:p@tcp(db:3306)/kine',
  namespace: { namespace, ...(kinds ? { kinds } : {}) },
});
const crRoute = (group: string, kind?: string): Backend => ({
  name: `cr-${group}`,
  endpoint: 'mysql://u:p@tcp(db2:3306)/kine',
  customresource: { group, ...(kind ? { kind } : {}) },
});

const names = (targets: ReturnType<typeof countTargets>) =>
  targets
    .map((t) => `${t.field} ${t.served.group}/${t.served.resource}@${t.touched.namespace ?? '*'}`)
    .sort();

test('a namespace route with kinds takes those kinds in that namespace', () => {
  assert.deepEqual(
    names(countTargets(withBackends(nsRoute('team-x', ['configmaps'])), undefined, served)),
    ['spec.backends[0].namespace /configmaps@team-x'],
  );
});

test('a namespace route without kinds takes every namespaced built-in kind that is served', () => {
  const all = names(countTargets(withBackends(nsRoute('team-x')), undefined, served));
  assert.ok(all.includes('spec.backends[0].namespace /configmaps@team-x'));
  assert.ok(all.includes('spec.backends[0].namespace apps/deployments@team-x'));
  assert.ok(all.includes('spec.backends[0].namespace /secrets@team-x'));
});

test('a whole-group customresource route takes every served resource of the group (discovery)', () => {
  assert.deepEqual(
    names(countTargets(withBackends(crRoute('stable.example.com')), undefined, served)),
    [
      'spec.backends[0].customresource stable.example.com/hats@*',
      'spec.backends[0].customresource stable.example.com/shirts@*',
    ],
  );
  assert.deepEqual(
    names(countTargets(withBackends(crRoute('stable.example.com', 'shirts')), undefined, served)),
    ['spec.backends[0].customresource stable.example.com/shirts@*'],
  );
});

test('on an UPDATE only new or changed routes are counted', () => {
  const old = withBackends(nsRoute('team-x', ['configmaps']));
  const appended = withBackends(
    nsRoute('team-x', ['configmaps']),
    crRoute('stable.example.com', 'shirts'),
  );
  assert.deepEqual(names(countTargets(appended, old, served)), [
    'spec.backends[1].customresource stable.example.com/shirts@*',
  ]);
  const widened = withBackends(nsRoute('team-x', ['configmaps', 'secrets']));
  assert.equal(countTargets(widened, old, served).length, 2);
});

/** A REST client answering lists from a table of path prefix → items and remaining count. */
function lists(
  table: Record<string, { items: string[]; remaining?: number }>,
  delayMs = 0,
): RestClient & { paths: string[] } {
  const paths: string[] = [];
  const get = async <T>(path: string): Promise<T> => {
    paths.push(path);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const [base, query = ''] = path.split('?');
    const entry = table[base!];
    if (!entry) throw new ApiError(403, 'Forbidden', `GET ${base}: 403 forbidden`);
    const selected = /fieldSelector=metadata.name%3D([^&]+)/.exec(query);
    const items = selected
      ? entry.items.filter((n) => n === decodeURIComponent(selected[1]!))
      : entry.items.slice(0, 1);
    const remaining = selected
      ? undefined
      : Math.max(0, entry.items.length - 1 + (entry.remaining ?? 0));
    return {
      items: items.map((name) => ({ metadata: { name } })),
      metadata: remaining ? { remainingItemCount: remaining, continue: 'x' } : {},
    } as T;
  };
  const fail = () => Promise.reject(new Error('not used'));
  return { get, create: fail, replace: fail, patch: fail, delete: fail, paths };
}

const discovery = () => Promise.resolve(served);

test('objects of the routed kinds refuse the route, with counts per kind; the cluster defaults are named, not counted', async () => {
  const rest = lists({
    '/api/v1/namespaces/team-x/configmaps': { items: ['kube-root-ca.crt', 'a', 'b', 'c'] },
    '/api/v1/namespaces/team-x/secrets': { items: ['s'] },
  });
  const c = withBackends(nsRoute('team-x', ['configmaps', 'secrets']));
  const verdict = await checkExistingData(rest, discovery, c, undefined, 1000);
  assert.equal(verdict.state, 'refused');
  assert.equal(verdict.state === 'refused' && verdict.errors.length, 1);
  const error = verdict.state === 'refused' ? verdict.errors[0]! : undefined;
  assert.equal(error?.field, 'spec.backends[0].namespace');
  assert.match(
    error!.detail,
    /^namespace team-x already holds 3 configmaps, 1 secrets \(not counted: configmap kube-root-ca\.crt, which the cluster creates in every namespace and recreates\): routing them now would make them unreachable .*: migrate them first, or set the annotation harikube\.info\/allow-unsafe-routing-change: "true" to do it anyway$/,
  );
  // Metadata only, one item per list.
  assert.ok(rest.paths.every((p) => p.includes('limit=')));
});

test('a fresh namespace holding only what the controllers put there is admitted, with a note', async () => {
  const rest = lists({
    '/api/v1/namespaces/fresh/configmaps': { items: ['kube-root-ca.crt'] },
    '/api/v1/namespaces/fresh/serviceaccounts': { items: ['default'] },
  });
  const c = withBackends(nsRoute('fresh', ['configmaps', 'serviceaccounts']));
  const verdict = await checkExistingData(rest, discovery, c, undefined, 1000);
  assert.equal(verdict.state, 'clear');
  assert.match(
    verdict.state === 'clear' ? verdict.notes.join() : '',
    /holds only what the cluster creates itself/,
  );
});

test('the time budget running out refuses, saying so', async () => {
  const rest = lists({ '/api/v1/namespaces/slow/configmaps': { items: [] } }, 200);
  const verdict = await checkExistingData(
    rest,
    discovery,
    withBackends(nsRoute('slow', ['configmaps'])),
    undefined,
    50,
  );
  assert.equal(verdict.state, 'refused');
  assert.match(
    verdict.state === 'refused' ? verdict.errors[0]!.detail : '',
    /^cannot tell within 50 ms whether the new routes would take objects that already exist/,
  );
});

test('an API error refuses (fails closed), with the API server message', async () => {
  const rest = lists({});
  const verdict = await checkExistingData(
    rest,
    discovery,
    withBackends(crRoute('stable.example.com', 'shirts')),
    undefined,
    1000,
  );
  assert.equal(verdict.state, 'refused');
  assert.match(
    verdict.state === 'refused' ? verdict.errors[0]!.detail : '',
    /so they are refused: GET \/apis\/stable\.example\.com\/v1\/shirts: 403/,
  );
});

// --- counts shared between reviews (admission's sharedReads) ----------------

/** A REST client whose GETs wait until released; what was asked, in order. */
function held() {
  const asked: string[] = [];
  const waiting: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  const fail = () => Promise.reject(new Error('not used'));
  const rest: RestClient = {
    get: <T>(path: string, accept?: string) => {
      asked.push(`${accept ?? ''} ${path}`);
      return new Promise<T>((resolve, reject) =>
        waiting.push({ resolve: resolve as (v: unknown) => void, reject }),
      );
    },
    create: fail,
    replace: fail,
    patch: fail,
    delete: fail,
  };
  return { rest, asked, waiting };
}

test('shared reads: identical GETs in flight together make one request, and all get its answer', async () => {
  const { rest, asked, waiting } = held();
  const shared = sharedReads(rest, 1000, () => 0);
  const a = shared.get('/api/v1/namespaces/x/configmaps?limit=1', 'meta');
  const b = shared.get('/api/v1/namespaces/x/configmaps?limit=1', 'meta');
  const other = shared.get('/api/v1/namespaces/y/configmaps?limit=1', 'meta');
  const otherAccept = shared.get('/api/v1/namespaces/x/configmaps?limit=1');
  assert.equal(asked.length, 3);
  for (const [i, w] of waiting.entries()) w.resolve({ n: i });
  assert.deepEqual(await Promise.all([a, b, other, otherAccept]), [
    { n: 0 },
    { n: 0 },
    { n: 1 },
    { n: 2 },
  ]);
});

test('shared reads: an answer serves for the window from when it was sent, not after', async () => {
  const { rest, asked, waiting } = held();
  let now = 0;
  const shared = sharedReads(rest, 1000, () => now);
  const path = '/api/v1/namespaces/x/configmaps?limit=1';
  const first = shared.get(path);
  waiting[0]!.resolve({ count: 1 });
  await first;
  now = 1000;
  assert.deepEqual(await shared.get(path), { count: 1 }, 'within the window');
  assert.equal(asked.length, 1);
  now = 1001;
  const fresh = shared.get(path);
  assert.equal(asked.length, 2, 'older than the window: asked again');
  waiting[1]!.resolve({ count: 2 });
  assert.deepEqual(await fresh, { count: 2 });
  assert.deepEqual(await shared.get(path), { count: 2 });
  assert.equal(asked.length, 2);
});

test('shared reads: a failure reaches those waiting for it and is not kept', async () => {
  const { rest, asked, waiting } = held();
  const shared = sharedReads(rest, 1000, () => 0);
  const path = '/api/v1/namespaces/x/configmaps?limit=1';
  const a = shared.get(path);
  const b = shared.get(path);
  waiting[0]!.reject(new ApiError(500, 'InternalError', 'etcd is gone'));
  await assert.rejects(a, /etcd is gone/);
  await assert.rejects(b, /etcd is gone/);
  const again = shared.get(path);
  assert.equal(asked.length, 2, 'the next review asks again');
  waiting[1]!.resolve({ ok: true });
  assert.deepEqual(await again, { ok: true });
});

test('shared reads: two reviews counting the same place in one window ask the API server once, and both are refused', async () => {
  const rest = lists({ '/api/v1/namespaces/team-x/configmaps': { items: ['a', 'b'] } });
  const shared = sharedReads(rest, 1000);
  const one = withBackends(nsRoute('team-x', ['configmaps']));
  const verdicts = await Promise.all([
    checkExistingData(shared, discovery, one, undefined, 1000),
    checkExistingData(shared, discovery, one, undefined, 1000),
  ]);
  assert.deepEqual(
    verdicts.map((v) => v.state),
    ['refused', 'refused'],
  );
  assert.equal(rest.paths.filter((p) => p.includes('limit=1')).length, 1);
});

test('discovery is remembered for its time to live on monotonic time, and a failure is not kept', async () => {
  const { rest, asked, waiting } = held();
  let now = 0;
  const discover = cachedDiscovery(rest, 30_000, () => now);
  const group = (name: string) => ({
    items: [
      {
        metadata: { name },
        versions: [
          {
            version: 'v1',
            resources: [{ resource: 'shirts', scope: 'Namespaced', verbs: ['list'] }],
          },
        ],
      },
    ],
  });
  const first = discover();
  assert.equal(asked.length, 2, '/api and /apis');
  waiting[0]!.resolve({ items: [] });
  waiting[1]!.resolve(group('stable.example.com'));
  const shirts = {
    group: 'stable.example.com',
    resource: 'shirts',
    version: 'v1',
    namespaced: true,
  };
  assert.deepEqual(await first, [shirts]);
  now = 30_000;
  assert.deepEqual(await discover(), [shirts], 'within the time to live');
  assert.equal(asked.length, 2);
  now = 30_001;
  const failing = discover();
  assert.equal(asked.length, 4, 'older: asked again');
  waiting[2]!.reject(new ApiError(503, 'ServiceUnavailable', 'not ready'));
  waiting[3]!.resolve({ items: [] });
  await assert.rejects(failing, /not ready/);
  const again = discover();
  assert.equal(asked.length, 6, 'the failure is not remembered');
  waiting[4]!.resolve({ items: [] });
  waiting[5]!.resolve({ items: [] });
  assert.deepEqual(await again, []);
});
