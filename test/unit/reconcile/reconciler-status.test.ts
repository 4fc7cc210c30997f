// reconcileTarget's status writes: Pending the moment a config is seen, the
// conditions in the same guarded patch as deployStatus, and the settle time
// before Ready turns True.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { type PatchType, type RestClient } from '../../../src/kube/rest.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import { FINALIZER } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { reconcileTarget, type ReconcilerDeps } from '../../../src/reconcile/reconciler.ts';
import { restStores } from '../../../src/kube/stores.ts';
import { emptyTargetSecret } from './fixtures.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';

const TARGET = 'harikube/routes';

function config(finalizers: string[] = [FINALIZER]): TopologyConfig {
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      name: 'orders',
      namespace: 'team-x',
      uid: 'u1',
      resourceVersion: '7',
      generation: 1,
      creationTimestamp: '2030-01-01T00:00:00Z',
      finalizers,
    },
    spec: {
      position: 1,
      targetSecret: TARGET,
      backends: [
        {
          name: 'orders-db',
          endpoint: 'sqlite://orders.db',
          customresource: { group: 'shop.example.com', kind: 'orders' },
        },
      ],
    },
  } as TopologyConfig;
}

/** Config patches are applied to `current` (merge patch of metadata/status) and recorded. */
function fakeRest(initial: TopologyConfig, options: { secretConflict?: boolean } = {}) {
  let current = structuredClone(initial);
  let rv = 7;
  type Body = { metadata: Record<string, unknown>; status?: Record<string, unknown> };
  const patches: { path: string; body: Body }[] = [];
  const rest: RestClient = {
    async get<T>() {
      return emptyTargetSecret() as T;
    },
    async create<T>() {
      return {} as T;
    },
    async replace<T>() {
      if (options.secretConflict)
        throw new ApiError(409, 'Conflict', 'the Secret has been modified');
      return {} as T;
    },
    async patch<T>(path: string, _type: PatchType, body: unknown) {
      const b = body as Body;
      patches.push({ path, body: b });
      if (b.metadata.resourceVersion !== current.metadata.resourceVersion)
        throw new ApiError(409, 'Conflict', 'the object has been modified');
      rv += 1;
      current = {
        ...current,
        metadata: { ...current.metadata, ...b.metadata, resourceVersion: String(rv) },
        ...(b.status ? { status: { ...current.status, ...b.status } } : {}),
      };
      return structuredClone(current) as T;
    },
    async delete<T>() {
      return undefined as T;
    },
  };
  return { rest, patches, current: () => current };
}

function deps(
  rest: RestClient,
  configs: () => TopologyConfig[],
  extra: Partial<ReconcilerDeps> = {},
) {
  return {
    ...restStores(rest),
    configsOfTarget: configs,
    keys: { keysOf: () => ({ found: false, keys: [] }) },
    policy: () => ({ ...defaultPolicy, allowedTargetSecrets: ['harikube/*'] }),
    events: { record: () => {} },
    logger: pino({ level: 'silent' }),
    mayWrite: () => true,
    ...extra,
  } satisfies ReconcilerDeps;
}

const conditions = (c: TopologyConfig) =>
  (c.status?.conditions ?? []).map(
    (x) => `${x.type}=${x.status} ${x.reason} g${x.observedGeneration}`,
  );

describe('reconcileTarget status and conditions', () => {
  test('a config seen for the first time says Pending (Reconciling) before its finalizer is set', async () => {
    const fake = fakeRest(config([]));
    assert.equal(
      await reconcileTarget(
        TARGET,
        deps(fake.rest, () => [fake.current()]),
      ),
      'done',
    );
    assert.deepEqual(
      fake.patches.map((p) => [p.path.split('/').pop(), p.body.metadata.resourceVersion]),
      [
        ['status', '7'],
        ['orders', '8'],
      ],
      'status first, then the finalizer on the object the status write returned',
    );
    assert.equal(fake.current().status?.deployStatus, 'Pending');
    assert.deepEqual(conditions(fake.current()), [
      'Ready=False Pending g1',
      'Reconciling=True Pending g1',
      'Stalled=False Pending g1',
    ]);
    assert.deepEqual(fake.current().metadata.finalizers, [FINALIZER]);
  });

  test('a reconcile whose reads all answer at once still lets the event loop serve others before it merges', async () => {
    // The webhook answers on the same event loop: a reconcile chained only by
    // settled promises would hold it from its first read to its Secret write.
    const fake = fakeRest(config());
    const order: string[] = [];
    const { replace } = fake.rest;
    fake.rest.replace = async <T>(path: string, body: unknown) => {
      order.push('Secret written');
      return replace<T>(path, body);
    };
    const running = reconcileTarget(
      TARGET,
      deps(fake.rest, () => [fake.current()]),
    );
    setImmediate(() => order.push('other work'));
    assert.equal(await running, 'done');
    assert.deepEqual(order, ['other work', 'Secret written']);
  });

  test('a config that cannot be made Active at once (the Secret write conflicts) says Pending meanwhile', async () => {
    const fake = fakeRest(config(), { secretConflict: true });
    assert.equal(
      await reconcileTarget(
        TARGET,
        deps(fake.rest, () => [fake.current()]),
      ),
      'retry',
    );
    assert.equal(fake.current().status?.deployStatus, 'Pending');
    assert.equal(fake.current().status?.deployOrder, undefined, 'nothing merged yet');
    assert.deepEqual(conditions(fake.current())[1], 'Reconciling=True Pending g1');
  });

  test('Active: the conditions go in the same resourceVersion-guarded patch as deployStatus', async () => {
    const fake = fakeRest(config());
    await reconcileTarget(
      TARGET,
      deps(fake.rest, () => [fake.current()]),
    );
    const status = fake.patches.find((p) => p.path.endsWith('/status'))!;
    assert.equal(status.body.metadata.resourceVersion, '7');
    assert.equal(status.body.status?.deployStatus, 'Active');
    assert.equal(status.body.status?.deployStatusReason, '');
    assert.equal(
      status.body.status?.deployOrder,
      1,
      'status.deployOrder mirrors the merged position',
    );
    assert.deepEqual(conditions(fake.current()), [
      'Ready=True Active g1',
      'Reconciling=False Active g1',
      'Stalled=False Active g1',
    ]);
    assert.match(
      fake.current().status!.conditions![0]!.message,
      /^merged into harikube\/routes as /,
    );
  });

  test('a config Active at its generation from before conditions existed is Ready at once', async () => {
    const old = {
      ...config(),
      status: { deployStatus: 'Active', deployStatusReason: '', observedGeneration: 1 },
    };
    const fake = fakeRest(old as TopologyConfig);
    await reconcileTarget(
      TARGET,
      deps(fake.rest, () => [fake.current()], {
        settleMs: 5000,
        settling: new Map(),
        now: () => 0,
      }),
    );
    assert.equal(conditions(fake.current())[0], 'Ready=True Active g1');
  });

  test('with a settle time, Ready turns True only once it has passed since Active', async () => {
    const fake = fakeRest(config());
    let now = 1_000_000;
    const requeues: number[] = [];
    const settling: NonNullable<ReconcilerDeps['settling']> = new Map();
    const d = deps(fake.rest, () => [fake.current()], {
      settleMs: 5000,
      settling,
      now: () => now,
      requeueAfter: (_t, ms) => requeues.push(ms),
    });
    await reconcileTarget(TARGET, d);
    assert.equal(fake.current().status?.deployStatus, 'Active');
    assert.deepEqual(conditions(fake.current()), [
      'Ready=False Settling g1',
      'Reconciling=True Settling g1',
      'Stalled=False Settling g1',
    ]);
    assert.deepEqual(requeues, [5000]);

    now += 4000; // not yet: nothing written, back in 1 s
    const writes = fake.patches.length;
    await reconcileTarget(TARGET, d);
    assert.equal(fake.patches.length, writes);
    assert.deepEqual(requeues, [5000, 1000]);

    now += 1000;
    await reconcileTarget(TARGET, d);
    assert.deepEqual(conditions(fake.current()).slice(0, 2), [
      'Ready=True Active g1',
      'Reconciling=False Active g1',
    ]);
    await reconcileTarget(TARGET, d);
    assert.equal(settling.size, 0, 'the settle clock is dropped once Ready');
  });
});

describe('reconcileTarget writes many statuses a few at a time', () => {
  /** Configs orders-0..n-1, each its own backend; status patches answered after a macrotask, counted in flight. */
  function many(n: number) {
    const objects = new Map<string, TopologyConfig>();
    for (let i = 0; i < n; i++) {
      const c = config();
      c.metadata.name = `orders-${i}`;
      c.metadata.uid = `u-${i}`;
      c.spec.position = i + 1;
      c.spec.backends[0]!.name = `orders-${i}-db`;
      c.spec.backends[0]!.endpoint = `sqlite://orders-${i}.db`;
      c.spec.backends[0]!.customresource = { group: `shop${i}.example.com`, kind: 'orders' };
      objects.set(c.metadata.name, c);
    }
    const seen = { inFlight: 0, maxInFlight: 0, statusPatches: 0 };
    let onStatusPatch = () => {};
    const rest: RestClient = {
      async get<T>() {
        return emptyTargetSecret() as T;
      },
      async create<T>() {
        return {} as T;
      },
      async replace<T>() {
        return {} as T;
      },
      async patch<T>(path: string, _type: PatchType, body: unknown) {
        const name = path.split('/').at(-2)!;
        seen.statusPatches++;
        onStatusPatch();
        seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        seen.inFlight--;
        const current = objects.get(name)!;
        const status = (body as { status: TopologyConfig['status'] }).status;
        objects.set(name, { ...current, status: { ...current.status, ...status } });
        return structuredClone(objects.get(name)) as T;
      },
      async delete<T>() {
        return undefined as T;
      },
    };
    return {
      rest,
      seen,
      objects,
      configs: () => [...objects.values()],
      onStatusPatch: (fn: () => void) => (onStatusPatch = fn),
    };
  }

  test('every config becomes Active, with several status writes in flight but never more than 8', async () => {
    const fake = many(30);
    assert.equal(await reconcileTarget(TARGET, deps(fake.rest, fake.configs)), 'done');
    assert.equal(fake.seen.statusPatches, 30);
    assert.ok(fake.seen.maxInFlight > 1, `in flight at most ${fake.seen.maxInFlight}`);
    assert.ok(fake.seen.maxInFlight <= 8, `in flight at most ${fake.seen.maxInFlight}`);
    assert.deepEqual(
      fake.configs().filter((c) => c.status?.deployStatus !== 'Active'),
      [],
    );
  });

  test('a replica that loses the lease starts no status write after it', async () => {
    const fake = many(30);
    let mayWrite = true;
    fake.onStatusPatch(() => {
      if (fake.seen.statusPatches === 5) mayWrite = false;
    });
    const d = deps(fake.rest, fake.configs, { mayWrite: () => mayWrite });
    // The Secret write happens while the lease is held; the statuses stop at the 5th.
    assert.equal(await reconcileTarget(TARGET, d), 'done');
    assert.equal(fake.seen.statusPatches, 5);
  });
});
