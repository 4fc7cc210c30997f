// End to end: data that already exists. A route that would start matching
// objects stored so far by the main database strands them, so the webhook
// counts them (real ConfigMaps in a namespace, custom resources of a group)
// and refuses with the counts, names but does not count what the cluster's
// controllers put in every namespace (kube-root-ca.crt, the default
// ServiceAccount: kube-controller-manager runs here), admits under the
// override, and the reconciler counts again before a first merge that the
// webhook never saw.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { registerWebhooks, unregisterWebhooks } from '../harness/product.ts';
import {
  ALLOW_HARIKUBE_TARGETS,
  apply,
  configYaml,
  ensureNamespace,
  mustApply,
  OVERRIDE,
  useEnv,
  waitFor,
  waitForStatus,
  withLogs,
} from './support.ts';

const env = useEnv({ productArgs: [ALLOW_HARIKUBE_TARGETS] });

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: shirts.stable.example.com
spec:
  group: stable.example.com
  names: { kind: Shirt, plural: shirts, singular: shirt }
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;

/** A config routing with `selector` (YAML under the backend) into harikube/<ns>. */
const routed = (ns: string, name: string, selector: string, annotations?: Record<string, string>) =>
  configYaml({
    name,
    namespace: ns,
    position: 1,
    targetSecret: `harikube/${ns}`,
    backends: [
      { name: `${ns}-${name}`, endpoint: `mysql://u:p@tcp(${name}.db:3306)/kine`, extra: selector },
    ],
    ...(annotations ? { annotations } : {}),
  });

/** Waits until kube-controller-manager has put its objects into `ns`. */
async function controllersDone(ns: string): Promise<void> {
  await waitFor(
    `the default ServiceAccount and kube-root-ca.crt in ${ns}`,
    async () => {
      const sa = await env.cp.kubectl(['get', 'serviceaccount', 'default', '-n', ns]);
      const cm = await env.cp.kubectl(['get', 'configmap', 'kube-root-ca.crt', '-n', ns]);
      return sa.code === 0 && cm.code === 0;
    },
    30_000,
  );
}

describe('existing data', () => {
  before(async () => {
    // Before any review, so the product's discovery sees the group at once.
    const crd = await env.cp.kubectl(['apply', '-f', '-'], { input: CRD });
    assert.equal(crd.code, 0, crd.stderr);
    const established = await env.cp.kubectl([
      'wait',
      '--for=condition=Established',
      'crd/shirts.stable.example.com',
      '--timeout=60s',
    ]);
    assert.equal(established.code, 0, established.stderr);
  });

  test('a namespace route over ConfigMaps that exist is refused with the count; kube-root-ca.crt is named, not counted; the override admits it', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'team-x';
      await ensureNamespace(cp, ns);
      await controllersDone(ns);
      for (const name of ['one', 'two', 'three']) {
        const made = await cp.kubectl([
          'create',
          'configmap',
          name,
          '-n',
          ns,
          '--from-literal=k=v',
        ]);
        assert.equal(made.code, 0, made.stderr);
      }
      const selector = 'namespace:\n  namespace: team-x\n  kinds: [configmaps]';
      const refused = await apply(cp, routed(ns, 'cms', selector));
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /spec\.backends\[0\]\.namespace: namespace team-x already holds 3 configmaps \(not counted: configmap kube-root-ca\.crt, which the cluster creates in every namespace and recreates\): routing them now would make them unreachable .*: migrate them first, or set the annotation harikube\.info\/allow-unsafe-routing-change: "true" to do it anyway/,
      );
      await mustApply(cp, routed(ns, 'cms', selector, OVERRIDE));
      await waitForStatus(cp, ns, 'cms', 'Active');
    }));

  test('a customresource route over a group whose objects exist is refused with the count per kind', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'shirt-shop';
      await ensureNamespace(cp, ns);
      for (const name of ['red', 'blue']) {
        const made = await cp.kubectl(['apply', '-f', '-'], {
          input: `apiVersion: stable.example.com/v1\nkind: Shirt\nmetadata: {name: ${name}, namespace: ${ns}}\n`,
        });
        assert.equal(made.code, 0, made.stderr);
      }
      const refused = await apply(
        cp,
        routed(ns, 'shirts', 'customresource:\n  group: stable.example.com'),
      );
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /spec\.backends\[0\]\.customresource: the cluster already holds 2 shirts\.stable\.example\.com: routing them now/,
      );
      // A kind of that group nobody stored yet takes nothing: admitted.
      await mustApply(
        cp,
        routed(ns, 'hats', 'customresource:\n  group: stable.example.com\n  kind: hats'),
      );
      await waitForStatus(cp, ns, 'hats', 'Active');
    }));

  test('a fresh namespace holding only what the controllers put there is admitted, naming those objects', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'fresh-team';
      await ensureNamespace(cp, ns);
      await controllersDone(ns);
      const result = await apply(
        cp,
        routed(ns, 'all', `namespace:\n  namespace: ${ns}\n  kinds: []`),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Warning: .*holds only what the cluster creates itself/);
      assert.match(result.stderr, /kube-root-ca\.crt/);
      assert.match(result.stderr, /serviceaccount default/);
      await waitForStatus(cp, ns, 'all', 'Active');
    }));

  test('the reconciler counts again before the first merge: a config the webhook never saw stays out of the Secret', () =>
    withLogs(env, async ({ cp, product }) => {
      const ns = 'bypass-team';
      await ensureNamespace(cp, ns);
      const made = await cp.kubectl([
        'create',
        'configmap',
        'precious',
        '-n',
        ns,
        '--from-literal=k=v',
      ]);
      assert.equal(made.code, 0, made.stderr);
      await unregisterWebhooks(cp);
      try {
        const created = await apply(
          cp,
          routed(ns, 'sneaky', `namespace:\n  namespace: ${ns}\n  kinds: [configmaps]`),
        );
        assert.equal(created.code, 0, created.stderr);
        const config = await waitForStatus(cp, ns, 'sneaky', 'Error');
        assert.match(
          config.status.deployStatusReason,
          /^spec\.backends\[0\]\.namespace: namespace bypass-team already holds 1 configmaps/,
        );
        const secret = await cp.kubectl([
          'get',
          'secret',
          '-n',
          'harikube',
          ns,
          '-o',
          'jsonpath={.data}',
        ]);
        assert.ok(
          secret.code !== 0 || secret.stdout.trim() === '' || secret.stdout.trim() === '{}',
        );
      } finally {
        await registerWebhooks(cp, product.webhookPort);
      }
    }));
});
