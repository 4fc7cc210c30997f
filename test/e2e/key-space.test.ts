// End to end: the storage-key table the model ships (test/data/…-storage-keys.json,
// the same as src/rules/storage-keys.ts) against the kube-apiserver the tests
// build. The served resources must be the table's, and an object of each
// resource with a key exception, of a custom resource, and of an ordinary
// resource must be stored by etcd exactly where the model says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  BUILTIN_RESOURCES,
  builtinResource,
  customResourceKeys,
  keySetOfSelector,
  matchesKey,
} from '../../src/rules/key-space.ts';
import type { ControlPlane } from '../harness/controlplane.ts';
import { startControlPlane } from '../harness/controlplane.ts';

const table = JSON.parse(
  readFileSync(
    new URL('../data/kube-apiserver-v1.34.4-storage-keys.json', import.meta.url),
    'utf8',
  ),
) as { kubernetes: string };

let cp: ControlPlane;
before(async () => {
  cp = await startControlPlane();
});
after(async () => {
  await cp?.stop();
});

async function etcdKeys(): Promise<string[]> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const response = await fetch(`${cp.etcdUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64('/registry/'), range_end: b64('/registry0'), keys_only: true }),
  });
  const body = (await response.json()) as { kvs?: { key: string }[] };
  return (body.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString());
}

async function kubectl(args: string[], input?: string): Promise<string> {
  const result = await cp.kubectl(args, input === undefined ? {} : { input });
  assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

test('the table is the one of the version the tests build', () => {
  assert.equal(cp.version, table.kubernetes);
});

test('kube-apiserver serves exactly the stored resources of the table', async () => {
  const out = await kubectl(['api-resources', '-o', 'wide', '--no-headers']);
  const served = new Set<string>();
  for (const line of out.split('\n').filter(Boolean)) {
    const fields = line.trim().split(/\s+/);
    const at = fields.findIndex((f, i) => i > 0 && (f === 'v1' || f.includes('/')));
    const [name, apiVersion, , , verbs] = [fields[0]!, ...fields.slice(at)];
    if (!verbs?.includes('watch')) continue; // virtual resources (reviews, bindings) store nothing
    const group = apiVersion!.includes('/') ? apiVersion!.split('/')[0]! : '';
    if (group !== 'harikube.info') served.add(`${group}/${name}`);
  }
  const inTable = new Set(BUILTIN_RESOURCES.map((r) => `${r.group}/${r.resource}`));
  assert.deepEqual([...served].sort(), [...inTable].sort());
});

test('objects are stored at the keys the model gives, exceptions included', async () => {
  await kubectl(['create', 'namespace', 'keys']);
  const manifests = `
apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: v1
kind: Service
metadata: {name: svc-a, namespace: keys}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ep-a, namespace: keys}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc-a, namespace: keys}
spec: {selector: {app: a}, template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing-a, namespace: keys}
spec: {defaultBackend: {service: {name: svc-a, port: {number: 80}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-a, namespace: keys}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: orders.orders.example.com}
spec:
  group: orders.example.com
  scope: Namespaced
  names: {plural: orders, singular: order, kind: Order}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`;
  await kubectl(['apply', '-f', '-'], manifests);
  await kubectl(['wait', '--for=condition=Established', 'crd/orders.orders.example.com']);
  await kubectl(
    ['apply', '-f', '-'],
    'apiVersion: orders.example.com/v1\nkind: Order\nmetadata: {name: order-a, namespace: keys}\n',
  );
  const keys = await etcdKeys();
  const orders = customResourceKeys('orders.example.com', 'orders');
  const expected: [string, string][] = [
    ['nodes', `${builtinResource('nodes')!.keyPrefix}node-a`],
    ['services', `${builtinResource('services')!.keyPrefix}keys/svc-a`],
    ['endpoints', `${builtinResource('endpoints')!.keyPrefix}keys/ep-a`],
    ['replicationcontrollers', `${builtinResource('replicationcontrollers')!.keyPrefix}keys/rc-a`],
    ['ingresses', `${builtinResource('Ingress')!.keyPrefix}keys/ing-a`],
    ['configmaps', `${builtinResource('configmaps')!.keyPrefix}keys/cm-a`],
    ['crds', `${builtinResource('customresourcedefinitions')!.keyPrefix}orders.orders.example.com`],
    ['orders', `${orders.keyPrefix}keys/order-a`],
  ];
  for (const [what, key] of expected) assert.ok(keys.includes(key), `${what}: ${key} not in etcd`);
  assert.equal(expected[0]![1], '/registry/minions/node-a');
  assert.equal(expected[1]![1], '/registry/services/specs/keys/svc-a');
  // The selectors take those keys: a namespace route takes the service, a group route the order.
  const namespaceRoute = keySetOfSelector('namespace', { namespace: 'keys' });
  for (const key of keys.filter((k) => /\/keys\/[a-z]+-a$/.test(k) && !k.includes('example.com')))
    assert.ok(matchesKey(namespaceRoute, key), key);
  assert.ok(
    matchesKey(
      keySetOfSelector('customresource', { group: 'orders.example.com' }),
      expected[7]![1],
    ),
  );
  assert.ok(!matchesKey(namespaceRoute, expected[7]![1]));
});
