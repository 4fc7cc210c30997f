// End-to-end, against a real kube-apiserver and etcd (no mocks): what the
// CRD alone guarantees, driven with kubectl the way a user would. The webhook
// and the reconciler are not running here; later suites add them.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import {
  kubernetesVersion,
  startControlPlane,
  type ControlPlane,
  type KubectlResult,
} from '../harness/controlplane.ts';

let cp: ControlPlane;
before(async () => {
  cp = await startControlPlane();
});
after(() => cp?.stop());

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const result = await cp.kubectl(args, input === undefined ? {} : { input });
  assert.equal(result.code, 0, `kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

async function kubectlFails(args: readonly string[], input?: string): Promise<KubectlResult> {
  const result = await cp.kubectl(args, input === undefined ? {} : { input });
  assert.notEqual(result.code, 0, `kubectl ${args.join(' ')} succeeded: ${result.stdout}`);
  return result;
}

// Each test works in its own namespace and deletes its configs afterwards.
// (Without kube-controller-manager a deleted namespace stays Terminating, so
// the namespaces themselves are left to the throwaway cluster.)
async function namespaceFor(t: TestContext): Promise<string> {
  const name = `e2e-${t.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/-+$/, '')}`;
  await kubectl(['create', 'namespace', name]);
  t.after(() => cp.kubectl(['delete', 'topologyconfigs', '--all', '-n', name, '--wait=false']));
  return name;
}

// The seed's shape: two backends with connection pools (Go durations as
// int64 nanoseconds), one routed by custom resource, one by namespace.
function seedSpec() {
  return {
    position: 1,
    backends: [
      {
        name: 'shirts',
        endpoint: 'mysql://root:passwd@tcp(mysql.db:3306)/kine_db',
        connectionPool: {
          maxIdle: 5,
          maxOpen: 90,
          maxLifeTime: 300000000000,
          maxIdleLifeTime: 300000000000,
        },
        customresource: { group: 'stable.example.com', kind: 'shirts' },
      },
      {
        name: 'team-a-db',
        endpoint: 'postgres://kine:secret@postgres.db:5432/kine',
        connectionPool: { maxIdle: 2, maxOpen: 10, maxLifeTime: 1500000000 },
        namespace: { namespace: 'team-a', kinds: [] },
      },
    ],
  } as Record<string, unknown>;
}

function manifest(name: string, namespace: string, spec: unknown, extra: object = {}): string {
  return stringify({
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name, namespace },
    spec,
    ...extra,
  });
}

async function getJson(namespace: string, name: string) {
  return JSON.parse(
    await kubectl(['get', 'topologyconfig', name, '-n', namespace, '-o', 'json']),
  ) as { spec: Record<string, unknown>; status?: Record<string, unknown> };
}

// kubectl arguments of a JSON merge patch of the config "shop", through the
// status subresource when `subresource` is given.
function patchShop(ns: string, body: object, subresource?: 'status'): string[] {
  return [
    'patch',
    'topologyconfig',
    'shop',
    '-n',
    ns,
    ...(subresource ? [`--subresource=${subresource}`] : []),
    '--type=merge',
    '-p',
    JSON.stringify(body),
  ];
}

// `kubectl get` as a table: one array of cells per line, header first.
function table(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));
}

describe('control plane', () => {
  test('kubectl version reports the server version the control plane was built at', async () => {
    const version = JSON.parse(await kubectl(['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string; major: string; minor: string };
    };
    const expected = kubernetesVersion();
    assert.match(expected, /^v1\.34\.\d+$/);
    assert.equal(version.serverVersion.gitVersion, expected);
    assert.equal(version.serverVersion.major, '1');
    assert.equal(version.serverVersion.minor, '34');
  });

  test('the CRD is installed and Established, with its printer columns', async () => {
    const established = await kubectl([
      'get',
      'crd',
      'topologyconfigs.harikube.info',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Established")].status}',
    ]);
    assert.equal(established, 'True');
    const resources = await kubectl(['api-resources', '--api-group=harikube.info', '-o', 'name']);
    assert.equal(resources.trim(), 'topologyconfigs.harikube.info');
  });
});

describe('short names and the category', () => {
  test('kubectl get tc, topoconfig and harikube list TopologyConfigs', async (t) => {
    const ns = await namespaceFor(t);
    await kubectl(['apply', '-f', '-'], manifest('shop', ns, seedSpec()));
    for (const resource of ['tc', 'topoconfig', 'harikube']) {
      const names = await kubectl(['get', resource, '-n', ns, '-o', 'name']);
      assert.equal(names.trim(), 'topologyconfig.harikube.info/shop', resource);
    }
  });
});

describe('TopologyConfig through kubectl', () => {
  test('apply of a seed-shaped config; get shows the DeployStatus column', async (t) => {
    const ns = await namespaceFor(t);
    const out = await kubectl(['apply', '-f', '-'], manifest('shop', ns, seedSpec()));
    assert.equal(out.trim(), 'topologyconfig.harikube.info/shop created');

    const rows = table(await kubectl(['get', 'topologyconfigs', '-n', ns]));
    assert.deepEqual(rows[0], ['NAME', 'DEPLOYSTATUS', 'POSITION', 'TARGET', 'AGE']);
    assert.equal(rows.length, 2);
    // No reconciler runs here, so no status has been written yet: the cell is empty.
    assert.deepEqual(rows[1]!.slice(0, 3), ['shop', '1', 'harikube/topology-config']);

    const stored = await getJson(ns, 'shop');
    assert.deepEqual(stored.spec, { ...seedSpec(), targetSecret: 'harikube/topology-config' });
    assert.equal(stored.status, undefined);
  });

  test('an omitted targetSecret is defaulted by the API server, a given one is kept', async (t) => {
    const ns = await namespaceFor(t);
    await kubectl(['apply', '-f', '-'], manifest('defaulted', ns, seedSpec()));
    await kubectl(
      ['apply', '-f', '-'],
      manifest('explicit', ns, { ...seedSpec(), position: 2, targetSecret: 'team-a/routes' }),
    );
    const target = (name: string) =>
      kubectl(['get', 'topologyconfig', name, '-n', ns, '-o', 'jsonpath={.spec.targetSecret}']);
    assert.equal(await target('defaulted'), 'harikube/topology-config');
    assert.equal(await target('explicit'), 'team-a/routes');
  });

  test('int64 durations round-trip exactly, beyond 2^53', async (t) => {
    const ns = await namespaceFor(t);
    const spec = seedSpec();
    // The largest Go time.Duration (about 292 years): not representable as a JavaScript number.
    const yaml = manifest('long', ns, spec).replace(
      'maxLifeTime: 1500000000',
      'maxLifeTime: 9223372036854775807',
    );
    assert.match(yaml, /9223372036854775807/);
    await kubectl(['apply', '-f', '-'], yaml);
    const raw = await kubectl([
      'get',
      'topologyconfig',
      'long',
      '-n',
      ns,
      '-o',
      'jsonpath={.spec.backends[1].connectionPool.maxLifeTime}',
    ]);
    assert.equal(raw, '9223372036854775807');
  });

  test('status is ignored through the main resource and written through the status subresource', async (t) => {
    const ns = await namespaceFor(t);
    const status = { status: { deployStatus: 'Active', deployStatusReason: 'forged' } };
    await kubectl(['apply', '-f', '-'], manifest('shop', ns, seedSpec(), status));
    assert.equal((await getJson(ns, 'shop')).status, undefined);

    const patched = await kubectl(patchShop(ns, status));
    assert.equal(patched.trim(), 'topologyconfig.harikube.info/shop patched (no change)');
    assert.equal((await getJson(ns, 'shop')).status, undefined);

    await kubectl(
      patchShop(
        ns,
        { status: { deployStatus: 'Active', deployStatusReason: 'applied' } },
        'status',
      ),
    );
    assert.deepEqual((await getJson(ns, 'shop')).status, {
      deployStatus: 'Active',
      deployStatusReason: 'applied',
    });
    const rows = table(await kubectl(['get', 'topologyconfigs', '-n', ns]));
    assert.deepEqual(rows[1]!.slice(0, 2), ['shop', 'Active']);
  });

  test('the status subresource does not write spec, and defaults deployStatus to Pending', async (t) => {
    const ns = await namespaceFor(t);
    await kubectl(['apply', '-f', '-'], manifest('shop', ns, seedSpec()));
    await kubectl(
      patchShop(ns, { spec: { position: 7 }, status: { deployStatusReason: 'queued' } }, 'status'),
    );
    const stored = await getJson(ns, 'shop');
    assert.equal(stored.spec.position, 1);
    assert.deepEqual(stored.status, { deployStatus: 'Pending', deployStatusReason: 'queued' });
  });

  describe('the API server itself rejects schema violations, naming the field', () => {
    const cases: { name: string; spec: () => Record<string, unknown>; errors: string[] }[] = [
      {
        name: 'position 0',
        spec: () => ({ ...seedSpec(), position: 0 }),
        errors: [
          'spec.position: Invalid value: 0: spec.position in body should be greater than or equal to 1',
        ],
      },
      {
        name: 'empty backends',
        spec: () => ({ ...seedSpec(), backends: [] }),
        errors: [
          'spec.backends: Invalid value: 0: spec.backends in body should have at least 1 items',
        ],
      },
      {
        name: 'missing position',
        spec: () => ({ backends: seedSpec().backends }),
        errors: ['spec.position: Required value'],
      },
      {
        name: 'fractional position',
        spec: () => ({ ...seedSpec(), position: 1.5 }),
        errors: [
          'spec.position: Invalid value: "number": spec.position in body must be of type integer',
        ],
      },
      {
        name: 'backend without endpoint and name',
        spec: () => ({ ...seedSpec(), backends: [{ prefix: { prefix: '/registry/x' } }] }),
        errors: [
          'spec.backends[0].endpoint: Required value',
          'spec.backends[0].name: Required value',
        ],
      },
      {
        name: 'negative pool size',
        spec: () => {
          const spec = seedSpec();
          const backends = spec.backends as { connectionPool: object }[];
          backends[1]!.connectionPool = { maxOpen: -1 };
          return spec;
        },
        errors: [
          'spec.backends[1].connectionPool.maxOpen: Invalid value: -1: spec.backends[1].connectionPool.maxOpen in body should be greater than or equal to 0',
        ],
      },
    ];
    for (const { name, spec, errors } of cases) {
      test(name, async (t) => {
        const ns = await namespaceFor(t);
        const { stderr } = await kubectlFails(['apply', '-f', '-'], manifest('bad', ns, spec()));
        assert.ok(
          stderr.startsWith('The TopologyConfig "bad" is invalid'),
          `unexpected error: ${stderr}`,
        );
        for (const error of errors)
          assert.ok(stderr.includes(error), `missing ${error} in: ${stderr}`);
        const get = await kubectlFails(['get', 'topologyconfig', 'bad', '-n', ns]);
        assert.match(get.stderr, /NotFound/);
      });
    }
  });

  test('targetSecret cannot be changed (CEL rule), other fields can', async (t) => {
    const ns = await namespaceFor(t);
    await kubectl(['apply', '-f', '-'], manifest('shop', ns, seedSpec()));
    const immutable =
      'spec.targetSecret: Invalid value: "object": targetSecret is immutable: delete the TopologyConfig and create it again to move it';

    const patch = await kubectlFails(patchShop(ns, { spec: { targetSecret: 'team-b/routes' } }));
    assert.ok(patch.stderr.includes(immutable), patch.stderr);
    const apply = await kubectlFails(
      ['apply', '-f', '-'],
      manifest('shop', ns, { ...seedSpec(), targetSecret: 'team-b/routes' }),
    );
    assert.ok(apply.stderr.includes(immutable), apply.stderr);
    assert.equal((await getJson(ns, 'shop')).spec.targetSecret, 'harikube/topology-config');

    const moved = await kubectl(
      ['apply', '-f', '-'],
      manifest('shop', ns, { ...seedSpec(), position: 4 }),
    );
    assert.equal(moved.trim(), 'topologyconfig.harikube.info/shop configured');
    assert.equal((await getJson(ns, 'shop')).spec.position, 4);
  });
});
