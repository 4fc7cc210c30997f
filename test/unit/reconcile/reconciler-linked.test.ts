// reconcileTarget merges the targets linked to its own by a backend name
// (linked.ts): a name another target's Secret holds, in an entry its config
// no longer matches, still decides a conflict here; a target linked by
// nothing takes no part. The cache tells which Secrets are linked (it keeps
// no entry value); a linked one is read live.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ApiError } from '../../../src/resource/errors.ts';
import { paths, type RestClient } from '../../../src/kube/rest.ts';
import { keepManagedData } from '../../../src/kube/secret-cache.ts';
import { secretLinks } from '../../../src/reconcile/linked.ts';
import type { CachedTargetSecret } from '../../../src/reconcile/ports.ts';
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

function otherSecret(entry = olderEntry): Secret {
  const [key, value] = Object.entries(entry.data)[0]!;
  const secret = managedSecret({ namespace: 'harikube', name: 'other' }, { [key]: value }, 'data', {
    [ENTRIES_ANNOTATION]: JSON.stringify({ [key]: 'u2:1' }),
  });
  return { ...secret, metadata: { ...secret.metadata, resourceVersion: '4' } } as Secret;
}

/** The other Secret as the managed-Secret cache keeps it. */
function cachedOther(): CachedTargetSecret {
  const secret = otherSecret();
  keepManagedData(
    () => true,
    (whole) => secretLinks(whole, () => undefined),
  )(secret);
  return secret as unknown as CachedTargetSecret;
}

interface Run {
  status: Record<string, unknown> | undefined;
  /** Paths of the Secrets read live. */
  read: string[];
  replaced: number;
}

async function reconcile(
  cached: CachedTargetSecret[],
  other: () => Promise<Secret> = async () => otherSecret(),
  more: TopologyConfig[] = [],
): Promise<Run> {
  const run: Run = { status: undefined, read: [], replaced: 0 };
  const rest: RestClient = {
    get: async <T>(path: string) => {
      run.read.push(path);
      if (path === paths.secret('harikube', 'other')) return (await other()) as T;
      return emptyTargetSecret() as T;
    },
    create: async <T>() => ({}) as T,
    replace: async <T>() => {
      run.replaced++;
      return {} as T;
    },
    patch: async <T>(_path: string, _type: unknown, body: unknown) => {
      run.status = (body as { status?: Record<string, unknown> }).status ?? run.status;
      return { ...orders, status: run.status } as T;
    },
    delete: async <T>() => undefined as T,
  };
  const result = await reconcileTarget(TARGET, {
    ...restStores(rest),
    configsOfTarget: () => [orders],
    allConfigs: () => [orders, older, ...more],
    managedSecrets: () => cached,
    keys,
    policy: () => policy,
    events: { record: () => {} },
    logger: pino({ level: 'silent' }),
    mayWrite: () => true,
  });
  assert.equal(result, 'done');
  return run;
}

const statusOf = async (cached: CachedTargetSecret[]) => (await reconcile(cached)).status;

test("a name held in a linked target's Secret decides the conflict; without that Secret there is none", async () => {
  const linked = await statusOf([cachedOther()]);
  assert.equal(linked?.deployStatus, 'Error');
  assert.match(
    String(linked?.deployStatusReason),
    /^conflicts with team-x\/older, whose entry harikube\/other already holds/,
  );
  const alone = await statusOf([]);
  assert.equal(alone?.deployStatus, 'Active');
});

test('the cache keeps no entry value: a linked Secret is read live, one linked by nothing is not read', async () => {
  const cached = cachedOther();
  assert.equal((cached as { data?: unknown }).data, undefined);
  assert.ok(!JSON.stringify(cached).includes(Object.values(olderEntry.data)[0]!));
  const linked = await reconcile([cached]);
  assert.deepEqual(linked.read, [
    paths.secret('harikube', 'routes'),
    paths.secret('harikube', 'other'),
  ]);
  // Its cached links name nothing this target's configs hold: not linked, not read.
  const unlinked = await reconcile([{ ...cached, links: { names: ['elsewhere-db'], uids: [] } }]);
  assert.deepEqual(unlinked.read, [paths.secret('harikube', 'routes')]);
  assert.equal(unlinked.status?.deployStatus, 'Active');
});

test('a linked Secret is merged as the API server holds it, not as the cache last saw it', async () => {
  // Deleted since the cache saw it: its name decides nothing any more.
  const gone = await reconcile([cachedOther()], async () => {
    throw new ApiError(
      404,
      'NotFound',
      'GET /api/v1/namespaces/harikube/secrets/other: 404 secrets "other" not found',
    );
  });
  assert.equal(gone.status?.deployStatus, 'Active');
});

test('a linked Secret the operator may not read: nothing is written, the configs say why', async () => {
  const denied = await reconcile([cachedOther()], async () => {
    throw new ApiError(
      403,
      'Forbidden',
      'GET /api/v1/namespaces/harikube/secrets/other: 403 secrets "other" is forbidden',
    );
  });
  assert.equal(denied.replaced, 0);
  assert.equal(denied.status?.deployStatus, 'Error');
  assert.match(
    String(denied.status?.deployStatusReason),
    /^the operator is not allowed to read Secret harikube\/other \(RBAC\)/,
  );
});

test("a linked Secret's links as read can link one more target, whose Secret is read too", async () => {
  const third = config('third', 'u3', 'harikube/third', 'third-db', '2021-01-01T00:00:00Z');
  const cachedThird: CachedTargetSecret = {
    metadata: { name: 'third', namespace: 'harikube', resourceVersion: '2' },
    links: { names: [], uids: [] },
    dataBytes: 0,
  };
  // The other Secret holds a second name now, one the cache has not seen: third's.
  const [backend] = older.spec.backends;
  const both = mergeTarget(
    OTHER,
    [
      {
        ...older,
        spec: {
          ...older.spec,
          backends: [
            { ...backend!, name: 'shared-db' },
            { name: 'third-db', endpoint: 'sqlite://older-2.db', prefix: { prefix: '/older-2/' } },
          ],
        },
      },
    ],
    keys,
    policy,
  );
  const reads = async (other: Secret) =>
    (await reconcile([cachedOther(), cachedThird], async () => other, [third])).read;
  assert.deepEqual(await reads(otherSecret(both)), [
    paths.secret('harikube', 'routes'),
    paths.secret('harikube', 'other'),
    paths.secret('harikube', 'third'),
  ]);
  assert.deepEqual(await reads(otherSecret()), [
    paths.secret('harikube', 'routes'),
    paths.secret('harikube', 'other'),
  ]);
});
