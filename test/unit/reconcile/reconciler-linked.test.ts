// reconcileTarget merges the targets linked to its own by a backend name
// (linked.ts): a name another target's cached Secret holds, in an entry its
// config no longer matches, still decides a conflict here; a target linked by
// nothing takes no part.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { type RestClient } from '../../../src/kube/rest.ts';
import { restStores } from '../../../src/kube/stores.ts';
import { ENTRIES_ANNOTATION } from '../../../src/reconcile/incumbents.ts';
import { mergeTarget } from '../../../src/reconcile/merge.ts';
import { reconcileTarget, type Secret } from '../../../src/reconcile/reconciler.ts';
import { FINALIZER } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';
import { managedSecret } from '../../../src/secret-format/secret.ts';
import { emptyTargetSecret } from './fixtures.ts';

const TARGET = 'harikube/routes';
const OTHER = 'harikube/other';
const policy = { ...defaultPolicy, allowedTargetSecrets: ['harikube/*'] };
const keys = { keysOf: () => ({ found: false as const, keys: [] }) };

function config(name: string, uid: string, target: string, db: string, created: string) {
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      name,
      namespace: 'team-x',
      uid,
      resourceVersion: '7',
      generation: 2,
      creationTimestamp: created,
      finalizers: [FINALIZER],
    },
    spec: {
      position: 1,
      targetSecret: target,
      backends: [{ name: db, endpoint: `sqlite://${name}.db`, prefix: { prefix: `/${name}/` } }],
    },
  } as TopologyConfig;
}

const orders = config('orders', 'u1', TARGET, 'shared-db', '2030-01-01T00:00:00Z');
// Older, in another target: its entry there still holds the name it was renamed from.
const older = config('older', 'u2', OTHER, 'renamed-db', '2020-01-01T00:00:00Z');
const olderEntry = mergeTarget(
  OTHER,
  [
    {
      ...older,
      spec: { ...older.spec, backends: [{ ...older.spec.backends[0]!, name: 'shared-db' }] },
    },
  ],
  keys,
  policy,
);

function otherSecret(): Secret {
  const [key, value] = Object.entries(olderEntry.data)[0]!;
  const secret = managedSecret({ namespace: 'harikube', name: 'other' }, { [key]: value }, 'data', {
    [ENTRIES_ANNOTATION]: JSON.stringify({ [key]: 'u2:1' }),
  });
  return { ...secret, metadata: { ...secret.metadata, resourceVersion: '4' } } as Secret;
}

async function statusOf(cached: Secret[]): Promise<Record<string, unknown> | undefined> {
  let status: Record<string, unknown> | undefined;
  const rest: RestClient = {
    get: async <T>() => emptyTargetSecret() as T,
    create: async <T>() => ({}) as T,
    replace: async <T>() => ({}) as T,
    patch: async <T>(_path: string, _type: unknown, body: unknown) => {
      status = (body as { status?: Record<string, unknown> }).status ?? status;
      return { ...orders, status } as T;
    },
    delete: async <T>() => undefined as T,
  };
  const result = await reconcileTarget(TARGET, {
    ...restStores(rest),
    configsOfTarget: () => [orders],
    allConfigs: () => [orders, older],
    managedSecrets: () => cached,
    keys,
    policy: () => policy,
    events: { record: () => {} },
    logger: pino({ level: 'silent' }),
    mayWrite: () => true,
  });
  assert.equal(result, 'done');
  return status;
}

test("a name held in a linked target's cached Secret decides the conflict; without that Secret there is none", async () => {
  const linked = await statusOf([otherSecret()]);
  assert.equal(linked?.deployStatus, 'Error');
  assert.match(
    String(linked?.deployStatusReason),
    /^conflicts with team-x\/older, whose entry harikube\/other already holds/,
  );
  const alone = await statusOf([]);
  assert.equal(alone?.deployStatus, 'Active');
});
