import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasFastProperties, isInternalized } from '../v8-intrinsics.ts';
import { keysFromSecretData } from '../../../src/crypto/aes-gcm.ts';
import {
  KEY_SECRET_LIMITS,
  boundedKeyData,
  keepConfigFields,
  keepKeyData,
  keepManagedData,
  keepMetadataOnly,
} from '../../../src/kube/secret-cache.ts';
import { secretLinks } from '../../../src/reconcile/linked.ts';
import type { CachedTargetSecret } from '../../../src/reconcile/ports.ts';
import type { SecretObject } from '../../../src/resource/secret.ts';
import { secretDataBytes } from '../../../src/secret-format/size.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { validateCreate } from '../../../src/rules/index.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';

const key32 = Buffer.alloc(32, 1).toString('base64');
const key16 = Buffer.alloc(16, 2).toString('base64');
const big = 'x'.repeat(1 << 20);

const secret = () => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'Opaque',
  metadata: {
    name: 'keys',
    namespace: 'team-a',
    uid: 'u1',
    resourceVersion: '7',
    labels: { 'harikube.info/endpoint-keys': 'true' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': big },
    managedFields: [{ manager: 'kubectl' }],
  },
  data: { k1: key32, k2: key16, junk: big } as Record<string, string>,
  stringData: { more: big },
});

describe('what the Secret caches keep', () => {
  test('a managed Secret: identity and labels only', () => {
    const s = secret();
    keepMetadataOnly(s);
    assert.deepEqual(s, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'keys',
        namespace: 'team-a',
        uid: 'u1',
        resourceVersion: '7',
        labels: { 'harikube.info/endpoint-keys': 'true' },
      },
    });
  });

  test('a key Secret: its possible keys; another entry keeps its name, not its value', () => {
    const s = secret();
    keepKeyData(s);
    assert.deepEqual(s.data, { junk: '', k1: key32, k2: key16 });
    assert.equal(s.metadata.annotations, undefined);
    assert.ok(JSON.stringify(s).length < 1000, 'no megabyte left');
    const keys = keysFromSecretData(s.data);
    assert.deepEqual(
      keys.map((k) => [k.name, k.key.length]),
      [
        ['junk', 0],
        ['k1', 32],
        ['k2', 16],
      ],
    );
  });

  test('at most KEY_SECRET_LIMITS.entries entries, the first in name order', () => {
    const data = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`k${String(i).padStart(3, '0')}`, key32]),
    );
    const kept = boundedKeyData(data);
    assert.equal(Object.keys(kept).length, KEY_SECRET_LIMITS.entries);
    assert.equal(Object.keys(kept)[0], 'k000');
  });

  test('a config naming a key Secret the cache could not keep gets a clear reason', () => {
    const index = new ConfigIndex();
    index.setKeys({ namespace: 'team-a', name: 'keys' }, [], true, true);
    const config = {
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyConfig',
      metadata: { name: 'orders', namespace: 'team-a' },
      spec: {
        position: 1,
        targetSecret: 'harikube/topology-config',
        endpointDecryptSecret: 'team-a/keys',
        backends: [
          { name: 'orders-db', endpoint: 'AAAA', customresource: { group: 'x.example.com' } },
        ],
      },
    };
    const { errors } = validateCreate(config, index, {
      ...defaultPolicy,
      allowedTargetSecrets: ['harikube/*'],
    });
    assert.deepEqual(
      errors.map((e) => [e.field, e.detail]),
      [
        [
          'spec.endpointDecryptSecret',
          `Secret team-a/keys is not read: the operator keeps the keys of at most ${KEY_SECRET_LIMITS.secrets} Secrets labelled harikube.info/endpoint-keys=true; remove the label from key Secrets no config uses`,
        ],
      ],
    );
  });

  test("a managed Secret keeps its entries' links and its size, no entry value; one no target may be keeps neither", () => {
    // A 1 MB entry: its YAML carries a comment of a megabyte before its one backend.
    const entry = `# ${big}\nbackends:\n- name: orders-db\n  endpoint: sqlite://orders.db\n`;
    const managed = (namespace: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'topology-config',
        namespace,
        uid: `u-${namespace}`,
        resourceVersion: '9',
        labels: { 'app.kubernetes.io/managed-by': 'topology-webhook' },
        annotations: {
          'harikube.info/entries': '{"0000000001-team-a.orders.yaml":"c1:1"}',
          'kubectl.kubernetes.io/last-applied-configuration': big,
        },
        managedFields: [{ manager: 'kubectl' }],
      },
      data: {
        '0000000001-team-a.orders.yaml': Buffer.from(entry).toString('base64'),
      } as Record<string, string>,
    });
    const links = (secret: SecretObject) => secretLinks(secret, () => undefined);
    const slim = keepManagedData((ref) => ref.namespace === 'harikube', links);
    const target: SecretObject = managed('harikube');
    slim(target);
    const whole = managed('harikube');
    assert.deepEqual(target, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'topology-config',
        namespace: 'harikube',
        uid: 'u-harikube',
        resourceVersion: '9',
        labels: { 'app.kubernetes.io/managed-by': 'topology-webhook' },
      },
      links: { names: ['orders-db'], uids: ['c1'] },
      dataBytes: secretDataBytes(whole.data),
    });
    assert.ok(secretDataBytes(whole.data) > 1 << 20);
    assert.ok(
      JSON.stringify(target).length < 1000,
      'the megabyte entry costs nothing in the cache',
    );
    // What linked.ts reads of another target is what the whole Secret gives.
    assert.deepEqual((target as unknown as CachedTargetSecret).links, links(whole));

    const tenant: SecretObject = managed('team-b');
    tenant.data!['big'] = big;
    slim(tenant);
    assert.equal(tenant.data, undefined);
    assert.deepEqual(tenant.links, { names: [], uids: [] });
    assert.equal(tenant.dataBytes, 0);
    assert.ok(JSON.stringify(tenant).length < 1000, 'no megabyte left');
  });

  test("a config keeps everything but managedFields and kubectl's last-applied copy", () => {
    const config = {
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyConfig',
      metadata: {
        name: 'orders',
        namespace: 'team-a',
        uid: 'c1',
        resourceVersion: '5',
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': big,
          'harikube.info/allow-unsafe-routing-change': 'true',
        },
        managedFields: [{ manager: 'kubectl' }],
      },
      spec: { position: 1, backends: [] },
      status: { deployStatus: 'Active' },
    };
    const expected = structuredClone(config) as Record<string, unknown> & typeof config;
    keepConfigFields(config);
    assert.deepEqual(config, {
      ...expected,
      metadata: {
        name: 'orders',
        namespace: 'team-a',
        uid: 'c1',
        resourceVersion: '5',
        annotations: { 'harikube.info/allow-unsafe-routing-change': 'true' },
      },
    });
  });
});

describe('keepConfigFields: memory per cached config', () => {
  test('the metadata it keeps is still a fast object in V8, not a hash table (~430 bytes more per config)', () => {
    // As the API server sends it: managedFields after the fields kept.
    const config = JSON.parse(
      JSON.stringify({
        apiVersion: 'harikube.info/v1',
        kind: 'TopologyConfig',
        metadata: {
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', note: 'kept' },
          creationTimestamp: '2026-01-01T00:00:00Z',
          finalizers: ['harikube.info/topology-config'],
          generation: 1,
          labels: { 'harikube.info/target-secret': 'harikube.topology' },
          managedFields: [{ manager: 'kubectl' }],
          name: 'orders',
          namespace: 'team-a',
          resourceVersion: '5',
          uid: 'c1',
        },
        spec: { targetSecret: 'harikube/topology', position: 1, backends: [] },
      }),
    ) as { metadata: { annotations: object } };
    assert.ok(hasFastProperties(config.metadata), 'parsed JSON starts fast');
    keepConfigFields(config);
    assert.ok(hasFastProperties(config.metadata), 'metadata');
    assert.ok(hasFastProperties(config.metadata.annotations), 'annotations');
    assert.ok(hasFastProperties(config), 'the object');
  });
});

describe('keepConfigFields: repeated strings interned', () => {
  test('every value is kept as it was, in configs that share strings and in ones that do not', () => {
    const long = `x${'y'.repeat(300)}`;
    const make = (i: number) => ({
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyConfig',
      metadata: {
        name: `orders-${i}`,
        namespace: 'team-a',
        uid: `uid-${i}`,
        resourceVersion: String(10 + i),
        finalizers: ['harikube.info/topology-config'],
        labels: { 'harikube.info/target-secret': 'harikube.topology' },
      },
      spec: {
        targetSecret: 'harikube/topology',
        position: i,
        backends: [
          {
            name: `orders-${i}-db`,
            endpoint: `postgres://u:p@db-${i}/x`,
            namespace: { namespace: 'shop', kinds: ['pods', 'secrets', long] },
          },
        ],
      },
      status: {
        deployStatus: 'Active',
        conditions: ['Ready', 'Reconciling', 'Stalled'].map((type) => ({
          type,
          status: type === 'Ready' ? 'True' : 'False',
          reason: 'Active',
          message: `merged into harikube/topology as 000000000${i}-team-a.orders-${i}.yaml`,
          lastTransitionTime: '2026-01-01T00:00:00Z',
        })),
      },
    });
    for (let i = 0; i < 3; i++) {
      const config = make(i);
      keepConfigFields(config);
      assert.deepEqual(config, make(i));
    }
  });

  test('a relist’s new object shares its strings (uid, names, endpoints) with what the old one left held: each is the internalized copy', () => {
    // Parsed as the informer parses a list page: every long string is a copy of its own.
    const json = JSON.stringify({
      metadata: {
        name: 'orders-with-a-long-name',
        namespace: 'team-a',
        uid: '6f1c2b8e-0d3a-4c51-9a7e-2f4b8c9d0e1f',
        creationTimestamp: '2026-01-01T00:00:00Z',
      },
      spec: {
        targetSecret: 'harikube/topology',
        backends: [{ name: 'orders-db', endpoint: 'postgres://u:p@orders-db.shop.svc:5432/x' }],
      },
      status: {
        conditions: [{ message: 'merged into harikube/topology as 0000000001-team-a.orders.yaml' }],
      },
      annotations: { big: 'z'.repeat(2_000) },
    });
    const config = JSON.parse(json) as {
      metadata: { name: string; uid: string; creationTimestamp: string };
      spec: { backends: { endpoint: string }[] };
      status: { conditions: { message: string }[] };
      annotations: { big: string };
    };
    assert.ok(!isInternalized(config.metadata.uid), 'JSON.parse copies it');
    keepConfigFields(config);
    for (const [what, value] of [
      ['uid', config.metadata.uid],
      ['name', config.metadata.name],
      ['creationTimestamp', config.metadata.creationTimestamp],
      ['endpoint', config.spec.backends[0]!.endpoint],
      ['message', config.status.conditions[0]!.message],
    ] as const)
      assert.ok(isInternalized(value), `${what} is internalized`);
    assert.equal(config.annotations.big, 'z'.repeat(2_000), 'a long string is kept as it is');
  });
});
