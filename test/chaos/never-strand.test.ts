// Faults that used to take an Active config's entry out of the merged Secret
// (each found on the code before the invariant): a key-Secret change after an
// allowed edit, the operator turning --allow-cross-namespace-decrypt-secret
// off, a newer config at position 1 of another target Secret claiming a
// backend name, the target Secret deleted while configs route through it, and
// the config's namespace deleted. What is right: an entry leaves the Secret
// only when its config is deleted (or changed under an authorised override);
// otherwise it stays, and the config says in Error what is kept and why.
// After each, the Secret holds every entry of every config that was Active.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { encryptEndpoint } from '../../src/crypto/aes-gcm.ts';
import type { ControlPlane } from '../harness/controlplane.ts';
import { registerWebhooks, startProduct, unregisterWebhooks } from '../harness/product.ts';
import {
  ALLOW_HARIKUBE_TARGETS,
  annotateOverride,
  configYaml,
  ensureNamespace,
  entryKey,
  keySecretYaml,
  mustApply,
  readConfig,
  readSecret,
  useEnv,
  waitFor,
  waitForSecretKeys,
  waitForStatus,
  withLogs,
  type Env,
} from '../e2e/support.ts';

const env = useEnv({ productArgs: [ALLOW_HARIKUBE_TARGETS] });

async function kubectlOk(cp: ControlPlane, args: string[], input?: string): Promise<string> {
  const result = await cp.kubectl(args, input === undefined ? {} : { input });
  assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** The Secret's entries (decoded) and its incumbency annotation. */
async function secretOf(cp: ControlPlane, ns: string, name: string) {
  const secret = await readSecret(cp, ns, name);
  assert.ok(secret, `Secret ${ns}/${name} is missing`);
  return secret;
}

/** The target Secret harikube/<ns>'s deletionTimestamp ('' when not being deleted). */
async function deletionOf(cp: ControlPlane, ns: string): Promise<string> {
  const result = await cp.kubectl([
    'get',
    'secret',
    '-n',
    'harikube',
    ns,
    '-o',
    'jsonpath={.metadata.deletionTimestamp}',
  ]);
  return result.code === 0 ? result.stdout.trim() : '';
}

/** Replaces the product (same webhook port) with one started with other flags. */
async function replaceProduct(e: Env, args: string[]): Promise<void> {
  // The one serving now is the last started (env.stop stops them all again, harmlessly).
  const current = e.products.at(-1)!;
  await current.stop();
  const next = await startProduct(e.cp, {
    name: `product-${randomBytes(3).toString('hex')}`,
    webhookPort: current.webhookPort,
    args: [ALLOW_HARIKUBE_TARGETS, ...args],
  });
  e.products.push(next);
  await next.waitReady(60_000);
}

describe('entries stay while their configs live', () => {
  test('an allowed edit followed by the loss of the key Secret keeps the entry of the earlier generation', () =>
    withLogs(env, async ({ cp, product }) => {
      const ns = 'strand-keys';
      await ensureNamespace(cp, ns);
      const key = randomBytes(32);
      const plaintext = 'mysql://app:pw@tcp(orders.db:3306)/kine';
      await mustApply(cp, keySecretYaml(ns, 'keys', { k1: key }));
      const manifest = (pool: number) =>
        configYaml({
          name: 'orders',
          namespace: ns,
          position: 1,
          targetSecret: `harikube/${ns}`,
          endpointDecryptSecret: `${ns}/keys`,
          backends: [
            {
              name: 'strand-orders',
              endpoint: encryptEndpoint(key, plaintext),
              extra: `connectionPool:\n  maxOpen: ${pool}\ncustomresource:\n  group: stable.example.com\n  kind: strandorders`,
            },
          ],
        });
      await mustApply(cp, manifest(10));
      await waitForStatus(cp, ns, 'orders', 'Active');
      const first = await secretOf(cp, 'harikube', ns);
      const entry = first.data[entryKey(1, ns, 'orders')]!;
      assert.match(entry, /maxOpen: 10/);
      // The Secret records whose entry it is: the config's uid and generation.
      const uid = await kubectlOk(cp, [
        'get',
        'topologyconfig',
        '-n',
        ns,
        'orders',
        '-o',
        'jsonpath={.metadata.uid}',
      ]);
      const annotation = await kubectlOk(cp, [
        'get',
        'secret',
        '-n',
        'harikube',
        ns,
        '-o',
        `jsonpath={.metadata.annotations.harikube\\.info/entries}`,
      ]);
      assert.deepEqual(JSON.parse(annotation), { [entryKey(1, ns, 'orders')]: `${uid}:1` });

      // The edit and the key loss land while no reconciler runs (the order
      // the issue saw: the merge meets generation 2 without its key). The
      // webhook is down with it, so it is unregistered meanwhile.
      await product.stop();
      await unregisterWebhooks(cp);
      await kubectlOk(cp, ['apply', '-f', '-'], manifest(20));
      await kubectlOk(cp, ['delete', 'secret', '-n', ns, 'keys']);
      await product.restart();
      await registerWebhooks(cp, product.webhookPort);
      await product.waitReady(60_000);

      await waitForStatus(cp, ns, 'orders', 'Error');
      const after = await readConfig(cp, ns, 'orders');
      assert.equal(after!.status?.keptInSecret, true);
      assert.match(
        after!.status!.deployStatusReason!,
        /spec\.endpointDecryptSecret: .*; the entry written for generation 1 stays in harikube\/strand-keys as 0000000001-strand-keys\.orders\.yaml/,
      );
      assert.equal((await secretOf(cp, 'harikube', ns)).data[entryKey(1, ns, 'orders')], entry);

      // The key comes back: the current generation replaces the entry, Active.
      await mustApply(cp, keySecretYaml(ns, 'keys', { k1: key }));
      await waitForStatus(cp, ns, 'orders', 'Active');
      const restored = await secretOf(cp, 'harikube', ns);
      assert.ok(restored.data[entryKey(1, ns, 'orders')]!.includes(plaintext));
    }));

  test('turning --allow-cross-namespace-decrypt-secret off keeps the entries that use another namespace', () =>
    withLogs(env, async (e) => {
      const { cp } = e;
      const ns = 'strand-policy';
      const keysNs = 'strand-policy-keys';
      await ensureNamespace(cp, ns);
      await ensureNamespace(cp, keysNs);
      await replaceProduct(e, ['--allow-cross-namespace-decrypt-secret']);
      const key = randomBytes(32);
      const plaintext = 'mysql://app:pw@tcp(policy.db:3306)/kine';
      await mustApply(cp, keySecretYaml(keysNs, 'keys', { k1: key }));
      await mustApply(
        cp,
        configYaml({
          name: 'orders',
          namespace: ns,
          position: 1,
          targetSecret: `harikube/${ns}`,
          endpointDecryptSecret: `${keysNs}/keys`,
          backends: [{ name: 'strand-policy-db', endpoint: encryptEndpoint(key, plaintext) }],
        }),
      );
      await waitForStatus(cp, ns, 'orders', 'Active');
      const before = (await secretOf(cp, 'harikube', ns)).data;

      await replaceProduct(e, []);
      const config = await waitForStatus(cp, ns, 'orders', 'Error');
      assert.equal(config.status?.keptInSecret, true);
      assert.match(
        config.status.deployStatusReason!,
        /^spec\.endpointDecryptSecret: .*; the entry written for generation 1 stays in harikube\/strand-policy/,
      );
      assert.deepEqual((await secretOf(cp, 'harikube', ns)).data, before);
    }));

  test('the target Secret deleted while configs use it stays (Terminating) with every entry; removed by force, it is recreated', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'strand-secret';
      await ensureNamespace(cp, ns);
      for (const [name, position] of [
        ['a', 1],
        ['b', 2],
      ] as const) {
        await mustApply(
          cp,
          configYaml({
            name,
            namespace: ns,
            position,
            targetSecret: `harikube/${ns}`,
            backends: [
              { name: `strand-secret-${name}`, endpoint: `mysql://u:p@tcp(${name}.db:3306)/kine` },
            ],
          }),
        );
        await waitForStatus(cp, ns, name, 'Active');
      }
      const keys = [entryKey(1, ns, 'a'), entryKey(2, ns, 'b')];
      const before = await waitForSecretKeys(cp, 'harikube', ns, keys);

      await kubectlOk(cp, ['delete', 'secret', '-n', 'harikube', ns, '--wait=false']);
      // The finalizer holds it: the middleware keeps reading it, and every status stays true.
      for (let i = 0; i < 10; i++) {
        const secret = await secretOf(cp, 'harikube', ns);
        assert.ok(await deletionOf(cp, ns), 'the delete was recorded');
        assert.deepEqual(secret.data, before.data);
        for (const name of ['a', 'b'])
          assert.equal((await readConfig(cp, ns, name))!.status?.deployStatus, 'Active');
        await new Promise((resolve) => setTimeout(resolve, 300));
      }

      // Someone removes the finalizer by hand: the Secret goes, and is created again with every entry.
      await kubectlOk(cp, [
        'patch',
        'secret',
        '-n',
        'harikube',
        ns,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
      const again = await waitFor(
        'the target Secret to be created again',
        async () => {
          const secret = await readSecret(cp, 'harikube', ns);
          return secret && !(await deletionOf(cp, ns)) && Object.keys(secret.data).length === 2
            ? secret
            : undefined;
        },
        30_000,
      );
      assert.deepEqual(again.data, before.data);
      for (const name of ['a', 'b']) await waitForStatus(cp, ns, name, 'Active');
    }));

  test('deleting a namespace that holds an Active config waits (Terminating) until an authorised user deletes the config', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'strand-namespace';
      await ensureNamespace(cp, ns);
      await mustApply(
        cp,
        configYaml({
          name: 'orders',
          namespace: ns,
          position: 1,
          targetSecret: `harikube/${ns}`,
          backends: [{ name: 'strand-ns-db', endpoint: 'mysql://u:p@tcp(ns.db:3306)/kine' }],
        }),
      );
      await waitForStatus(cp, ns, 'orders', 'Active');
      const key = entryKey(1, ns, 'orders');
      await kubectlOk(cp, ['delete', 'namespace', ns, '--wait=false']);
      // The namespace controller's delete is refused like anyone's: the entry stays.
      const terminating = await waitFor(
        'the namespace controller to report the refused delete',
        async () => {
          const phase = await kubectlOk(cp, ['get', 'namespace', ns, '-o', 'json']);
          const object = JSON.parse(phase) as {
            status: {
              phase: string;
              conditions?: Array<{ type: string; status: string; message?: string }>;
            };
          };
          const failed = object.status.conditions?.find(
            (c) => c.type === 'NamespaceDeletionContentFailure' && c.status === 'True',
          );
          return object.status.phase === 'Terminating' && failed ? failed : undefined;
        },
        60_000,
      );
      assert.match(
        terminating.message ?? '',
        /admission webhook "vtopologyconfig\.harikube\.info" denied the request: .*this TopologyConfig is Active/,
      );
      assert.equal((await readConfig(cp, ns, 'orders'))!.status?.deployStatus, 'Active');
      assert.ok(key in (await secretOf(cp, 'harikube', ns)).data);

      // The annotation alone authorises nobody (the namespace controller cannot override):
      // an authorised user (the admin here) deletes the config after migrating the data;
      // then the namespace goes, and the entry with it.
      await annotateOverride(cp, ns, 'orders');
      await kubectlOk(cp, ['delete', 'topologyconfig', '-n', ns, 'orders', '--wait=false']);
      await waitFor(
        'the namespace to be gone',
        async () => (await cp.kubectl(['get', 'namespace', ns])).code !== 0,
        120_000,
      );
      await waitForSecretKeys(cp, 'harikube', ns, []);
    }));
});
