// Which assigned positions the reconciler moves (never one its author wrote,
// never one data was written at), and how: a guarded update of the config
// before anything is merged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ApiError, type PatchType, type RestClient } from '../../../src/kube/rest.ts';
import {
  ASSIGNED_POSITION_ANNOTATION,
  FINALIZER,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { positionMoves } from '../../../src/reconcile/positions.ts';
import { reconcileTarget } from '../../../src/reconcile/reconciler.ts';
import type { WrittenSecret } from '../../../src/reconcile/incumbents.ts';
import { defaultPolicy, type Policy } from '../../../src/rules/policy.ts';

const TARGET = 'harikube/routes';
const policy: Policy = { ...defaultPolicy, allowedTargetSecrets: ['harikube/*'] };

function config(
  name: string,
  position: number,
  options: { assigned?: boolean; created?: string; status?: TopologyConfig['status'] } = {},
): TopologyConfig {
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      name,
      namespace: 'team-x',
      uid: `uid-${name}`,
      resourceVersion: `rv-${name}`,
      generation: 1,
      creationTimestamp: options.created ?? '2030-01-01T00:00:00Z',
      finalizers: [FINALIZER],
      ...(options.assigned === false
        ? {}
        : { annotations: { [ASSIGNED_POSITION_ANNOTATION]: String(position) } }),
    },
    spec: {
      position,
      targetSecret: TARGET,
      backends: [
        {
          name: `${name}-db`,
          endpoint: `sqlite://${name}.db`,
          customresource: { group: `${name}.example.com`, kind: 'things' },
        },
      ],
    },
    ...(options.status ? { status: options.status } : {}),
  } as TopologyConfig;
}

const moved = (configs: TopologyConfig[], written?: WrittenSecret) =>
  positionMoves(configs, written, policy).map((m) => `${m.key} ${m.from}->${m.to} (${m.keeper})`);

describe('positionMoves', () => {
  test('the newer of two assigned claimants moves below everything', () => {
    assert.deepEqual(
      moved([
        config('old', 3, { created: '2030-01-01T00:00:01Z' }),
        config('new', 3, { created: '2030-01-01T00:00:02Z' }),
        config('last', 5, { assigned: false }),
      ]),
      ['team-x/new 3->6 (team-x/old)'],
    );
  });

  test('never a position its author wrote, nor of a config that was merged or is going', () => {
    const older = { created: '2029-01-01T00:00:00Z' };
    const deleting = config('going', 2, older);
    deleting.metadata.deletionTimestamp = '2030-01-02T00:00:00Z';
    assert.deepEqual(
      moved([
        config('explicit', 1, { ...older, assigned: false }),
        config('active', 1, { status: { deployStatus: 'Active' } }),
        config('was-active', 1, { status: { deployStatus: 'Error', deployOrder: 1 } }),
        config('kept', 1, { status: { deployStatus: 'Error', keptInSecret: true } }),
        deleting,
        config('newcomer', 2),
        config('a-newcomer', 1),
      ]),
      ['team-x/a-newcomer 1->3 (team-x/active)', 'team-x/newcomer 2->4 (team-x/going)'],
    );
  });

  test("the Secret's entries hold their positions, and their owners stay", () => {
    const written: WrittenSecret = new Map([
      ['0000000004-team-x.gone.yaml', { uid: 'uid-gone', generation: 1, value: '' }],
      ['0000000002-team-x.owner.yaml', { uid: 'uid-owner', generation: 1, value: '' }],
    ]);
    assert.deepEqual(
      moved(
        [config('owner', 2, { created: '2031-01-01T00:00:00Z' }), config('x', 2), config('y', 4)],
        written,
      ),
      ['team-x/x 2->5 (team-x/owner)', 'team-x/y 4->6 (team-x/gone)'],
    );
  });
});

/** The Secret is empty; config patches are recorded and refused with `refuse` when given. */
function fakeRest(refuse?: ApiError) {
  const patches: { path: string; body: unknown }[] = [];
  const replaced: unknown[] = [];
  const rest: RestClient = {
    async get<T>() {
      return {
        metadata: {
          name: 'routes',
          namespace: 'harikube',
          resourceVersion: '3',
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
          finalizers: [FINALIZER],
        },
        data: {},
      } as T;
    },
    async create<T>() {
      return {} as T;
    },
    async replace<T>(_path: string, body: unknown) {
      replaced.push(body);
      return {} as T;
    },
    async patch<T>(path: string, _type: PatchType, body: unknown) {
      patches.push({ path, body });
      if (refuse && !path.endsWith('/status')) throw refuse;
      return {} as T;
    },
    async delete<T>() {
      return undefined as T;
    },
  };
  return { rest, patches, replaced };
}

const depsOf = (rest: RestClient, configs: TopologyConfig[], events: string[] = []) => ({
  rest,
  configsOfTarget: () => configs,
  keys: { keysOf: () => ({ found: false, keys: [] }) },
  policy: () => policy,
  events: {
    record: (_c: TopologyConfig, _t: string, reason: string, m: string) =>
      void events.push(`${reason}: ${m}`),
  },
  logger: pino({ level: 'silent' }),
  mayWrite: () => true,
});

describe('reconcileTarget moves colliding assigned positions before merging', () => {
  const pair = () => [
    config('a', 1, { created: '2030-01-01T00:00:01Z' }),
    config('b', 1, { created: '2030-01-01T00:00:02Z' }),
  ];

  test('a guarded update of spec.position and the annotation; nothing merged this round', async () => {
    const fake = fakeRest();
    const events: string[] = [];
    assert.equal(await reconcileTarget(TARGET, depsOf(fake.rest, pair(), events)), 'done');
    assert.deepEqual(fake.patches, [
      {
        path: '/apis/harikube.info/v1/namespaces/team-x/topologyconfigs/b',
        body: {
          metadata: {
            resourceVersion: 'rv-b',
            annotations: { [ASSIGNED_POSITION_ANNOTATION]: '2' },
          },
          spec: { position: 2 },
        },
      },
    ]);
    assert.deepEqual(fake.replaced, [], 'the Secret waits for the moved config');
    assert.deepEqual(events, [
      'PositionMoved: spec.position 1 was assigned (none was given) and is also taken by team-x/a in harikube/routes: moved to 2, the next free position',
    ]);
  });

  test('a move the config changed under is retried', async () => {
    const fake = fakeRest(new ApiError(409, 'Conflict', 'the object has been modified'));
    assert.equal(await reconcileTarget(TARGET, depsOf(fake.rest, pair())), 'retry');
    assert.deepEqual(fake.replaced, []);
  });

  test('a move the webhook refuses: merged as it is (the loser in Error), then tried again', async () => {
    const fake = fakeRest(new ApiError(422, 'Invalid', 'admission webhook denied the request'));
    assert.equal(await reconcileTarget(TARGET, depsOf(fake.rest, pair())), 'retry');
    assert.equal(fake.replaced.length, 1, 'the Secret was written with the winner');
    const statuses = fake.patches
      .filter((p) => p.path.endsWith('/status'))
      .map((p) => {
        const status = (p.body as { status: { deployStatus: string; deployStatusReason: string } })
          .status;
        return `${p.path.split('/').at(-2)} ${status.deployStatus}`;
      });
    assert.deepEqual(statuses, ['a Active', 'b Error']);
  });
});
