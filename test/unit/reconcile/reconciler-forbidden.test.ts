// reconcileTarget when RBAC refuses the target Secret: the configs end in
// Error with a reason that names the Secret and RBAC (no endless retry), and
// a finalizer is released only when the Secret cannot hold the backends.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { type PatchType, type RestClient } from '../../../src/kube/rest.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import { FINALIZER, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { reconcileTarget } from '../../../src/reconcile/reconciler.ts';
import { restStores } from '../../../src/kube/stores.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';

const TARGET = 'team-x/routes';
const SECRET_PATH = '/api/v1/namespaces/team-x/secrets/routes';
const FORBIDDEN = (verb: string) =>
  `secrets${verb === 'create' ? '' : ' "routes"'} is forbidden: User "system:serviceaccount:harikube-system:topology-webhook" cannot ${verb} resource "secrets" in API group "" in the namespace "team-x"`;

function config(extra: Partial<TopologyConfig['metadata']> = {}, status?: object): TopologyConfig {
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      name: 'orders',
      namespace: 'team-x',
      uid: 'u1',
      resourceVersion: '7',
      generation: 2,
      creationTimestamp: '2030-01-01T00:00:00Z',
      finalizers: [FINALIZER],
      ...extra,
    },
    spec: {
      position: 1,
      targetSecret: TARGET,
      backends: [
        {
          name: 'orders-db',
          endpoint: 'mysql://app:pw@tcp(orders.db:3306)/kine',
          customresource: { group: 'orders.example.com', kind: 'orders' },
        },
      ],
    },
    ...(status ? { status } : {}),
  } as TopologyConfig;
}

/** The API server: the target Secret refuses `denied` verbs; config writes are recorded. */
function fakeRest(options: { existing?: object; denied: string[] }) {
  const calls: string[] = [];
  const patches: { path: string; body: unknown }[] = [];
  const deny = (method: string, path: string, verb: string) =>
    new ApiError(403, 'Forbidden', `${method} ${path}: 403 ${FORBIDDEN(verb)}`);
  const rest: RestClient = {
    async get<T>(path: string) {
      calls.push(`GET ${path}`);
      if (path !== SECRET_PATH) throw new Error(`unexpected GET ${path}`);
      if (options.denied.includes('get')) throw deny('GET', path, 'get');
      if (!options.existing) throw new ApiError(404, 'NotFound', `GET ${path}: 404 not found`);
      return structuredClone(options.existing) as T;
    },
    async create<T>(path: string) {
      calls.push(`POST ${path}`);
      if (options.denied.includes('create')) throw deny('POST', path, 'create');
      return {} as T;
    },
    async replace<T>(path: string) {
      calls.push(`PUT ${path}`);
      if (options.denied.includes('update')) throw deny('PUT', path, 'update');
      return {} as T;
    },
    async patch<T>(path: string, _type: PatchType, body: unknown) {
      calls.push(`PATCH ${path}`);
      patches.push({ path, body });
      return {} as T;
    },
    async delete<T>(path: string) {
      throw new Error(`unexpected DELETE ${path}`);
      return undefined as T;
    },
  };
  return { rest, calls, patches };
}

function deps(rest: RestClient, configs: TopologyConfig[]) {
  const events: string[] = [];
  return {
    events,
    deps: {
      ...restStores(rest),
      configsOfTarget: () => configs,
      keys: { keysOf: () => ({ found: false, keys: [] }) },
      policy: () => ({
        ...defaultPolicy,
        allowedTargetSecrets: ['harikube/topology-config', 'team-x/*'],
      }),
      events: {
        record: (_c: TopologyConfig, type: string, reason: string, message: string) =>
          events.push(`${type} ${reason} ${message}`),
      },
      logger: pino({ level: 'silent' }),
      mayWrite: () => true,
    },
  };
}

interface StatusBody {
  deployStatus: string;
  deployStatusReason: string;
  observedGeneration: number;
  conditions: { type: string; status: string; reason: string }[];
}
const statusBodies = (patches: { path: string; body: unknown }[]) =>
  patches
    .filter((p) => p.path.endsWith('/status'))
    .map((p) => (p.body as { status: StatusBody }).status);
// The seed's fields; the conditions are checked on their own.
const statusPatches = (patches: { path: string; body: unknown }[]) =>
  statusBodies(patches).map(({ deployStatus, deployStatusReason, observedGeneration }) => ({
    deployStatus,
    deployStatusReason,
    observedGeneration,
  }));

const managedSecret = {
  metadata: {
    name: 'routes',
    namespace: 'team-x',
    resourceVersion: '3',
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
    finalizers: [FINALIZER],
  },
  data: {},
};

describe('reconcileTarget when RBAC refuses the target Secret', () => {
  test('a create that is forbidden sets Error with the reason, once, and is not retried', async () => {
    const { rest, calls, patches } = fakeRest({ denied: ['create'] });
    const { deps: d, events } = deps(rest, [config()]);
    assert.equal(await reconcileTarget(TARGET, d), 'done');
    const reason = `the operator is not allowed to write Secret team-x/routes (RBAC): ${FORBIDDEN('create')}`;
    assert.deepEqual(statusPatches(patches), [
      { deployStatus: 'Error', deployStatusReason: reason, observedGeneration: 2 },
    ]);
    assert.deepEqual(
      statusBodies(patches)[0]!.conditions.map((c) => `${c.type}=${c.status} ${c.reason}`),
      [
        'Ready=False TargetForbidden',
        'Reconciling=False TargetForbidden',
        'Stalled=True TargetForbidden',
      ],
    );
    assert.deepEqual(events, [`Warning Error ${reason}`]);
    assert.deepEqual(calls, [
      `GET ${SECRET_PATH}`,
      'POST /api/v1/namespaces/team-x/secrets',
      `PATCH /apis/harikube.info/v1/namespaces/team-x/topologyconfigs/orders/status`,
    ]);
    assert.ok(!reason.includes('pw@'), 'no endpoint in the reason');
  });

  test('an update that is forbidden sets Error on a config not yet Active', async () => {
    const { rest, patches } = fakeRest({ existing: managedSecret, denied: ['update'] });
    const { deps: d } = deps(rest, [config()]);
    assert.equal(await reconcileTarget(TARGET, d), 'done');
    assert.deepEqual(statusPatches(patches), [
      {
        deployStatus: 'Error',
        deployStatusReason: `the operator is not allowed to write Secret team-x/routes (RBAC): ${FORBIDDEN('update')}`,
        observedGeneration: 2,
      },
    ]);
  });

  test('an update that is forbidden leaves a config Active at its generation as it is', async () => {
    const { rest, patches } = fakeRest({ existing: managedSecret, denied: ['update'] });
    const active = config(
      {},
      { deployStatus: 'Active', deployStatusReason: '', observedGeneration: 2 },
    );
    const { deps: d } = deps(rest, [active]);
    assert.equal(await reconcileTarget(TARGET, d), 'done');
    assert.deepEqual(statusPatches(patches), []);
  });

  test('a read that is forbidden sets Error with "not allowed to read"', async () => {
    const { rest, patches } = fakeRest({ denied: ['get'] });
    const { deps: d } = deps(rest, [config()]);
    assert.equal(await reconcileTarget(TARGET, d), 'done');
    assert.match(
      statusPatches(patches)[0]?.deployStatusReason ?? '',
      /^the operator is not allowed to read Secret team-x\/routes \(RBAC\): secrets "routes" is forbidden/,
    );
  });

  const deletingCases: [string, { existing?: object; denied: string[] }, boolean][] = [
    [
      'a Secret it may not create (never held the backends): released',
      { denied: ['create'] },
      true,
    ],
    [
      'a Secret it may not update (may hold the backends): kept',
      { existing: { ...managedSecret, data: { x: 'eA==' } }, denied: ['update'] },
      false,
    ],
    ['a Secret it may not read: kept', { denied: ['get'] }, false],
  ];
  for (const [name, options, released] of deletingCases) {
    test(`the finalizer of a deleting config, with ${name}`, async () => {
      const { rest, patches } = fakeRest(options);
      const deleting = config({ deletionTimestamp: '2030-01-02T00:00:00Z' });
      const { deps: d } = deps(rest, [deleting]);
      await reconcileTarget(TARGET, d);
      const finalizerPatches = patches.filter((p) => !p.path.endsWith('/status'));
      assert.equal(finalizerPatches.length, released ? 1 : 0);
    });
  }
});
