// Which assigned positions the reconciler moves (never one its author wrote,
// never one data was written at), and how: a guarded update of the config
// before anything is merged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { type PatchType, type RestClient } from '../../../src/kube/rest.ts';
import { restStores } from '../../../src/kube/stores.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import { ASSIGNED_POSITION_ANNOTATION, FINALIZER } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { positionMoves } from '../../../src/reconcile/positions.ts';
import { reconcileTarget } from '../../../src/reconcile/reconciler.ts';
import type { WrittenSecret } from '../../../src/reconcile/incumbents.ts';
import { emptyTargetSecret } from './fixtures.ts';
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

/**
 * The Secret is empty; config patches are recorded, refused with `refuse`
 * when given, else answered with the config as the patch leaves it.
 */
function fakeRest(configs: TopologyConfig[], refuse?: ApiError) {
  const patches: { path: string; body: unknown }[] = [];
  const replaced: unknown[] = [];
  const rest: RestClient = {
    async get<T>() {
      return emptyTargetSecret() as T;
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
      if (path.endsWith('/status')) return {} as T;
      if (refuse) throw refuse;
      const b = body as { metadata: TopologyConfig['metadata']; spec: { position: number } };
      const was = configs.find((c) => c.metadata.name === path.split('/').at(-1))!;
      return {
        ...was,
        metadata: {
          ...was.metadata,
          annotations: b.metadata.annotations,
          resourceVersion: `${was.metadata.resourceVersion}+`,
          generation: was.metadata.generation! + 1,
        },
        spec: { ...was.spec, position: b.spec.position },
      } as T;
    },
    async delete<T>() {
      return undefined as T;
    },
  };
  return { rest, patches, replaced };
}

const depsOf = (rest: RestClient, configs: TopologyConfig[], events: string[] = []) => ({
  ...restStores(rest),
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

  /** The statuses written, as `name deployStatus g<observedGeneration> rv`. */
  const statuses = (patches: { path: string; body: unknown }[]) =>
    patches
      .filter((p) => p.path.endsWith('/status'))
      .map((p) => {
        const { metadata, status } = p.body as {
          metadata: { resourceVersion: string };
          status: { deployStatus: string; observedGeneration: number };
        };
        return `${p.path.split('/').at(-2)} ${status.deployStatus} g${status.observedGeneration} ${metadata.resourceVersion}`;
      });

  test('a guarded update of spec.position and the annotation, then both merged', async () => {
    const configs = pair();
    const fake = fakeRest(configs);
    const events: string[] = [];
    assert.equal(await reconcileTarget(TARGET, depsOf(fake.rest, configs, events)), 'done');
    assert.deepEqual(fake.patches.slice(0, 1), [
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
    const secret = fake.replaced[0] as { data: Record<string, string> };
    assert.deepEqual(Object.keys(secret.data), [
      '0000000001-team-x.a.yaml',
      '0000000002-team-x.b.yaml',
    ]);
    assert.deepEqual(statuses(fake.patches), ['a Active g1 rv-a', 'b Active g2 rv-b+']);
    assert.deepEqual(events, [
      'PositionMoved: spec.position 1 was assigned (none was given) and is also taken by team-x/a in harikube/routes: moved to 2, the next free position',
      'Active: routing is live in Secret harikube/routes',
      'Active: routing is live in Secret harikube/routes',
    ]);
  });

  test('a burst: every later claimant moved, all merged at distinct positions in one round', async () => {
    const configs = Array.from({ length: 12 }, (_, i) =>
      config(`c${String(i).padStart(2, '0')}`, 1, { created: `2030-01-01T00:00:${10 + i}Z` }),
    );
    const fake = fakeRest(configs);
    assert.equal(await reconcileTarget(TARGET, depsOf(fake.rest, configs)), 'done');
    const secret = fake.replaced[0] as { data: Record<string, string> };
    assert.deepEqual(
      Object.keys(secret.data),
      configs.map(
        (_, i) => `${String(i + 1).padStart(10, '0')}-team-x.c${String(i).padStart(2, '0')}.yaml`,
      ),
    );
    assert.ok(statuses(fake.patches).every((s) => s.includes(' Active ')));
  });

  test('a move the config changed under is retried', async () => {
    const configs = pair();
    const fake = fakeRest(configs, new ApiError(409, 'Conflict', 'the object has been modified'));
    assert.equal(await reconcileTarget(TARGET, depsOf(fake.rest, configs)), 'retry');
    assert.deepEqual(fake.replaced, []);
  });

  test('a move the webhook refuses: merged as it is (the loser in Error), then tried again', async () => {
    const configs = pair();
    const fake = fakeRest(
      configs,
      new ApiError(422, 'Invalid', 'admission webhook denied the request'),
    );
    assert.equal(await reconcileTarget(TARGET, depsOf(fake.rest, configs)), 'retry');
    assert.equal(fake.replaced.length, 1, 'the Secret was written with the winner');
    assert.deepEqual(statuses(fake.patches), ['a Active g1 rv-a', 'b Error g1 rv-b']);
  });
});
