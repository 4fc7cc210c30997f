// End to end: the reconciler against a real kube-apiserver + etcd, with the
// product running as its own process and its webhooks registered, as a user
// meets it through kubectl. Each test owns its namespace and its target
// Secret (the product allows harikube/*), so the tests do not interact.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { encryptEndpoint } from '../../src/crypto/aes-gcm.ts';
import type { ControlPlane } from '../harness/controlplane.ts';
import {
  ALLOW_HARIKUBE_TARGETS,
  annotateOverride,
  apply,
  configYaml,
  deleteConfig,
  ensureNamespace,
  entryKey,
  eventsOf,
  expectedEntry,
  keySecretYaml,
  median,
  mustApply,
  mustDeleteConfig,
  OVERRIDE,
  readConfig,
  readSecret,
  sleep,
  useEnv,
  waitFor,
  waitForGone,
  waitForSecretKeys,
  waitForStatus,
  withLogs,
} from './support.ts';

const env = useEnv({ productArgs: [ALLOW_HARIKUBE_TARGETS] });

type Backend = { name: string; endpoint: string };
/** A config in `ns` whose target Secret is harikube/<ns>: each test owns both. */
const ownConfig = (
  ns: string,
  name: string,
  position: number,
  backends: Backend[],
  extra: Partial<Parameters<typeof configYaml>[0]> = {},
) =>
  configYaml({ name, namespace: ns, position, targetSecret: `harikube/${ns}`, backends, ...extra });

/** Sets the config's finalizers (null: none), as another controller could. */
async function patchFinalizers(
  cp: ControlPlane,
  ns: string,
  name: string,
  finalizers: string[] | null,
): Promise<void> {
  const patched = await cp.kubectl([
    'patch',
    'topologyconfig',
    '-n',
    ns,
    name,
    '--type=merge',
    '-p',
    JSON.stringify({ metadata: { finalizers } }),
  ]);
  assert.equal(patched.code, 0, patched.stderr);
}

describe('reconciler, webhook registered', () => {
  test('a valid config becomes Active at its generation and the Secret holds exactly its YAML', () =>
    withLogs(env, async ({ cp }) => {
      await ensureNamespace(cp, 'e2e-basic');
      // The spec's example (a seed-shaped config), plus a second backend for
      // the other renderings: backendTLS, a 1.5 s duration, an empty kinds.
      // targetSecret is omitted: the default is harikube/topology-config.
      await mustApply(
        cp,
        `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: shirts
  namespace: e2e-basic
spec:
  position: 1
  backends:
  - name: shirts
    endpoint: mysql://root:passwd@tcp(mysql.db:3306)/kine_db
    connectionPool:
      maxIdle: 5
      maxOpen: 90
      maxLifeTime: 300000000000
      maxIdleLifeTime: 300000000000
    customresource:
      group: stable.example.com
      kind: shirts
  - name: shirts-archive
    endpoint: postgres://archive:pw@archive.db:5432/kine
    namespace:
      namespace: archive
    connectionPool:
      maxIdleLifeTime: 1500000000
    backendTLS:
      skipVerify: false
      caFile: /etc/harikube/ca.crt
`,
      );
      const config = await waitForStatus(cp, 'e2e-basic', 'shirts', 'Active');
      assert.equal(config.metadata.generation, 1);
      // The seed's fields; the conditions beside them are test/e2e/gitops.test.ts's.
      const { conditions: _conditions, ...seedStatus } = config.status as typeof config.status & {
        conditions?: unknown;
      };
      assert.deepEqual(seedStatus, {
        deployStatus: 'Active',
        deployStatusReason: '',
        observedGeneration: 1,
        // The older HariKube operator's field: the position merged.
        deployOrder: 1,
      });
      assert.deepEqual(config.metadata.finalizers, ['harikube.info/finalizer']);
      assert.equal(config.spec.targetSecret, 'harikube/topology-config');

      const secret = await readSecret(cp, 'harikube', 'topology-config');
      assert.ok(secret, 'the Secret harikube/topology-config exists');
      assert.deepEqual(secret.data, {
        '0000000001-e2e-basic.shirts.yaml': `backends:
- name: shirts
  endpoint: mysql://root:passwd@tcp(mysql.db:3306)/kine_db
  connectionPool:
    maxIdle: 5
    maxOpen: 90
    maxLifeTime: 5m0s
    maxIdleLifeTime: 5m0s
  customresource:
    group: stable.example.com
    kind: shirts
- name: shirts-archive
  endpoint: postgres://archive:pw@archive.db:5432/kine
  backendTLS:
    caFile: /etc/harikube/ca.crt
    skipVerify: false
  connectionPool:
    maxIdleLifeTime: 1.5s
  namespace:
    namespace: archive
    kinds: []
`,
      });
      assert.equal(secret.labels['app.kubernetes.io/managed-by'], 'topology-webhook');
      assert.deepEqual(secret.finalizers, ['harikube.info/finalizer']);
      assert.equal(secret.type, 'Opaque');

      // Every write names its field manager, so managedFields say who wrote what (not "unknown").
      const managers = async (...args: string[]) => {
        const r = await cp.kubectl(['get', ...args, '-o', 'json', '--show-managed-fields']);
        assert.equal(r.code, 0, r.stderr);
        const fields = (
          JSON.parse(r.stdout) as {
            metadata: { managedFields?: Array<{ manager: string; subresource?: string }> };
          }
        ).metadata.managedFields;
        return (fields ?? []).map((f) => `${f.manager}${f.subresource ? `/${f.subresource}` : ''}`);
      };
      assert.deepEqual(await managers('secret', '-n', 'harikube', 'topology-config'), [
        'topology-webhook',
      ]);
      const configManagers = await managers('topologyconfig', '-n', 'e2e-basic', 'shirts');
      assert.ok(
        configManagers.includes('topology-webhook/status'),
        `the status: ${configManagers}`,
      );
      assert.ok(!configManagers.some((m) => m.startsWith('unknown')), `${configManagers}`);

      // `kubectl describe` tells the story: one Normal event for the transition.
      const events = await waitFor('an Active event', async () => {
        const all = await eventsOf(cp, 'e2e-basic', 'shirts');
        const active = all.filter((e) => e.reason === 'Active');
        return active.length ? active : undefined;
      });
      assert.equal(events.length, 1);
      assert.equal(events[0]!.type, 'Normal');
      assert.equal(events[0]!.message, 'routing is live in Secret harikube/topology-config');
    }));

  test('configs merge in position order: position 2 comes before position 10', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-order';
      await ensureNamespace(cp, ns);
      // Names in the opposite order of the positions: only the position may decide.
      const zeta = { name: 'order-zeta', endpoint: 'postgres://zeta.db:5432/kine' };
      const alpha = { name: 'order-alpha', endpoint: 'postgres://alpha.db:5432/kine' };
      await mustApply(cp, ownConfig(ns, 'zeta', 2, [zeta]));
      await waitForStatus(cp, ns, 'zeta', 'Active');
      await mustApply(cp, ownConfig(ns, 'alpha', 10, [alpha]));
      await waitForStatus(cp, ns, 'alpha', 'Active');
      await waitForStatus(cp, ns, 'zeta', 'Active');

      const secret = await readSecret(cp, 'harikube', 'e2e-order');
      // Lexical key order (how the middleware reads them) is position order.
      assert.deepEqual(Object.keys(secret!.data), [
        '0000000002-e2e-order.zeta.yaml',
        '0000000010-e2e-order.alpha.yaml',
      ]);
      assert.deepEqual(secret!.data, {
        '0000000002-e2e-order.zeta.yaml': expectedEntry([zeta]),
        '0000000010-e2e-order.alpha.yaml': expectedEntry([alpha]),
      });
    }));

  test('appending a backend updates the Secret and keeps the config Active at the new generation', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-update';
      await ensureNamespace(cp, ns);
      const manifest = (backends: Backend[]) => ownConfig(ns, 'catalog', 1, backends);
      const first = { name: 'catalog-main', endpoint: 'postgres://catalog.db:5432/kine' };
      const second = {
        name: 'catalog-extra',
        endpoint: 'mysql://extra:pw@tcp(extra.db:3306)/kine',
      };
      await mustApply(cp, manifest([first]));
      await waitForStatus(cp, ns, 'catalog', 'Active');
      const before = await readSecret(cp, 'harikube', 'e2e-update');
      assert.deepEqual(before!.data, { [entryKey(1, ns, 'catalog')]: expectedEntry([first]) });

      await mustApply(cp, manifest([first, second]));
      const config = await waitForStatus(cp, ns, 'catalog', 'Active');
      assert.equal(config.metadata.generation, 2);
      assert.equal(config.status.observedGeneration, 2);
      const afterUpdate = await readSecret(cp, 'harikube', 'e2e-update');
      assert.deepEqual(afterUpdate!.data, {
        [entryKey(1, ns, 'catalog')]: expectedEntry([first, second]),
      });
    }));

  test('deleting a config removes its key from the Secret before its finalizer is released', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-delete';
      await ensureNamespace(cp, ns);
      for (const [position, name] of [
        [1, 'keep'],
        [2, 'gone'],
      ] as const) {
        const backend = { name: `delete-${name}`, endpoint: `postgres://${name}.db:5432/kine` };
        await mustApply(cp, ownConfig(ns, name, position, [backend]));
        await waitForStatus(cp, ns, name, 'Active');
      }
      await waitForSecretKeys(cp, 'harikube', 'e2e-delete', [
        entryKey(1, ns, 'keep'),
        entryKey(2, ns, 'gone'),
      ]);

      // An Active config is protected: deleting it needs the override annotation.
      const refused = await deleteConfig(cp, ns, 'gone', '--wait=false');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /harikube\.info\/allow-unsafe-routing-change: "true"/);
      assert.ok(await readConfig(cp, ns, 'gone'), 'the refused delete left the config in place');

      // A finalizer of our own holds the object after the product releases
      // its one, so the moment in between can be observed.
      await annotateOverride(cp, ns, 'gone');
      await patchFinalizers(cp, ns, 'gone', ['harikube.info/finalizer', 'e2e.test/hold']);
      await mustDeleteConfig(cp, ns, 'gone', '--wait=false');

      const releasing = await waitFor('the product to release its finalizer', async () => {
        const config = await readConfig(cp, ns, 'gone');
        return config?.metadata.finalizers?.length === 1 ? config : undefined;
      });
      assert.ok(releasing.metadata.deletionTimestamp);
      assert.deepEqual(releasing.metadata.finalizers, ['e2e.test/hold']);
      // Read at once, not awaited: the key left before the finalizer did.
      const secret = await readSecret(cp, 'harikube', 'e2e-delete');
      assert.deepEqual(secret!.data, {
        [entryKey(1, ns, 'keep')]: expectedEntry([
          { name: 'delete-keep', endpoint: 'postgres://keep.db:5432/kine' },
        ]),
      });
      await patchFinalizers(cp, ns, 'gone', null);
      await waitForGone(cp, ns, 'gone');
      await waitForStatus(cp, ns, 'keep', 'Active');
    }));

  test("deleting the last config empties the Secret and releases the Secret's finalizer", () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-delete-last';
      await ensureNamespace(cp, ns);
      const backend = { name: 'delete-last-only', endpoint: 'postgres://only.db:5432/kine' };
      await mustApply(cp, ownConfig(ns, 'only', 1, [backend], { annotations: OVERRIDE }));
      await waitForStatus(cp, ns, 'only', 'Active');
      await mustDeleteConfig(cp, ns, 'only', '--wait=false');
      await waitForGone(cp, ns, 'only');
      const secret = await waitFor('the Secret to be released', async () => {
        const s = await readSecret(cp, 'harikube', 'e2e-delete-last');
        return s && s.finalizers.length === 0 ? s : undefined;
      });
      assert.deepEqual(secret.data, {});
      assert.equal(secret.labels['app.kubernetes.io/managed-by'], 'topology-webhook');
    }));

  test('a Secret the product does not manage is never overwritten; its configs report Error', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-unmanaged';
      await ensureNamespace(cp, ns);
      const created = await cp.kubectl([
        'create',
        'secret',
        'generic',
        'e2e-unmanaged',
        '-n',
        'harikube',
        '--from-literal=owner=someone-else',
      ]);
      assert.equal(created.code, 0, created.stderr);
      const original = await readSecret(cp, 'harikube', 'e2e-unmanaged');

      const backend = { name: 'unmanaged-db', endpoint: 'postgres://unmanaged.db:5432/kine' };
      await mustApply(cp, ownConfig(ns, 'intruder', 1, [backend]));
      const config = await waitForStatus(cp, ns, 'intruder', 'Error');
      assert.equal(
        config.status.deployStatusReason,
        'Secret harikube/e2e-unmanaged exists and is not managed by topology-webhook (label app.kubernetes.io/managed-by=topology-webhook is missing), so it is never overwritten: choose another targetSecret or remove that Secret',
      );
      assert.deepEqual(await readSecret(cp, 'harikube', 'e2e-unmanaged'), original);
      assert.deepEqual(original!.data, { owner: 'someone-else' });

      // A config in Error may go without the override; the Secret is still untouched.
      await mustDeleteConfig(cp, ns, 'intruder', '--wait=false');
      await waitForGone(cp, ns, 'intruder');
      assert.deepEqual(await readSecret(cp, 'harikube', 'e2e-unmanaged'), original);
    }));

  test('encrypted endpoints reach the Secret decrypted, key rotation keeps configs Active, and a config no key opens reports Error without leaking', () =>
    withLogs(env, async ({ cp, products }) => {
      const ns = 'e2e-crypto';
      await ensureNamespace(cp, ns);
      const oldKey = randomBytes(32);
      const newKey = randomBytes(32);
      const ordersEndpoint = 'postgres://orders:s3cr3t-orders@orders.db:5432/kine';
      const legacyEndpoint = 'mysql://legacy:s3cr3t-legacy@tcp(legacy.db:3306)/kine';
      const keySecret = (keys: Record<string, Buffer>) => keySecretYaml(ns, 'endpoint-keys', keys);
      const config = (name: string, position: number, backend: string, endpoint: string) =>
        ownConfig(ns, name, position, [{ name: backend, endpoint }], {
          endpointDecryptSecret: `${ns}/endpoint-keys`,
        });
      // The webhook checks decryption against its cache of the key Secret,
      // which may lag the create by a moment: retry until it has the key.
      let refusal = '';
      const applyOnceKeysSeen = (yaml: string) =>
        waitFor('the webhook to accept the encrypted config', async () => {
          const result = await apply(cp, yaml);
          refusal = result.stderr;
          return result.code === 0 ? result : undefined;
        }).catch((error: Error) => {
          error.message += ` (last refusal: ${refusal})`;
          throw error;
        });

      await mustApply(cp, keySecret({ 'key-2024': oldKey }));
      await applyOnceKeysSeen(
        config('orders', 1, 'crypto-orders', encryptEndpoint(oldKey, ordersEndpoint)),
      );
      await applyOnceKeysSeen(
        config('legacy', 2, 'crypto-legacy', encryptEndpoint(oldKey, legacyEndpoint)),
      );
      await waitForStatus(cp, ns, 'orders', 'Active');
      await waitForStatus(cp, ns, 'legacy', 'Active');
      // Decrypted: the plaintext endpoints.
      const ordersEntry = expectedEntry([{ name: 'crypto-orders', endpoint: ordersEndpoint }]);
      const legacyEntry = expectedEntry([{ name: 'crypto-legacy', endpoint: legacyEndpoint }]);
      const ordersKey = entryKey(1, ns, 'orders');
      const legacyKey = entryKey(2, ns, 'legacy');
      assert.deepEqual((await readSecret(cp, 'harikube', 'e2e-crypto'))!.data, {
        [ordersKey]: ordersEntry,
        [legacyKey]: legacyEntry,
      });

      // Watch "orders" through the whole rotation.
      const seen: string[] = [];
      let samples = 0;
      let watching = true;
      const monitor = (async () => {
        while (watching) {
          const [current, secret] = await Promise.all([
            readConfig(cp, ns, 'orders'),
            readSecret(cp, 'harikube', 'e2e-crypto'),
          ]);
          samples++;
          if (current?.status?.deployStatus !== 'Active')
            seen.push(`status ${JSON.stringify(current?.status)}`);
          if (secret?.data[ordersKey] !== ordersEntry)
            seen.push(`entry ${JSON.stringify(secret?.data[ordersKey])}`);
          await sleep(50);
        }
      })();
      try {
        // Rotation: add the new key, re-encrypt with it, remove the old key.
        await mustApply(cp, keySecret({ 'key-2024': oldKey, 'key-2025': newKey }));
        await applyOnceKeysSeen(
          config('orders', 1, 'crypto-orders', encryptEndpoint(newKey, ordersEndpoint)),
        );
        const rotated = await waitForStatus(cp, ns, 'orders', 'Active');
        assert.equal(rotated.metadata.generation, 2);
        await mustApply(cp, keySecret({ 'key-2025': newKey }));

        // "legacy" was never re-encrypted: the remaining key is the wrong one.
        // It is Error, and its last good entry stays in the Secret: dropping it
        // would strand the data already written through that route.
        const broken = await waitForStatus(cp, ns, 'legacy', 'Error');
        assert.equal(
          broken.status.deployStatusReason,
          'spec.backends[0].endpoint: cannot be decrypted with the keys of Secret e2e-crypto/endpoint-keys: no key of 1 opened it (tried: key-2025); the entry written for generation 1 stays in harikube/e2e-crypto as 0000000002-e2e-crypto.legacy.yaml so that data written through its routes remains reachable: fix this, or delete the config to remove the entry',
        );
        assert.equal(broken.status.keptInSecret, true);
        await sleep(500); // a few more samples after the last change
      } finally {
        watching = false;
        await monitor;
      }
      assert.deepEqual(seen, [], 'orders stayed Active with its plaintext entry during rotation');
      assert.ok(samples >= 5, `the monitor sampled ${samples} times`);
      assert.deepEqual((await readSecret(cp, 'harikube', 'e2e-crypto'))!.data, {
        [ordersKey]: ordersEntry,
        [legacyKey]: legacyEntry,
      });

      // Nothing secret in reasons, events or the product's log.
      const legacy = await readConfig(cp, ns, 'legacy');
      const events = await cp.kubectl(['get', 'events', '-n', ns, '-o', 'json']);
      const secrets = [
        ordersEndpoint,
        legacyEndpoint,
        's3cr3t',
        ...[oldKey, newKey].flatMap((k) => [k.toString('base64'), k.toString('hex')]),
      ];
      for (const [where, text] of [
        ['the reason', legacy?.status?.deployStatusReason ?? ''],
        ['the events', events.stdout],
        ['the product log', products.map((p) => p.logText()).join('\n')],
      ] as const) {
        for (const secret of secrets) {
          assert.ok(!text.includes(secret), `${where} must not contain ${secret.slice(0, 8)}…`);
        }
      }
      assert.match(events.stdout, /"reason": "Error"/);

      // Its routes are live, so deleting it is refused like deleting an Active
      // config; with the override annotation it goes, and its entry with it.
      const refused = await deleteConfig(cp, ns, 'legacy', '--wait=false');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /harikube\.info\/allow-unsafe-routing-change/);
      await annotateOverride(cp, ns, 'legacy');
      await mustDeleteConfig(cp, ns, 'legacy', '--timeout=30s');
      await waitForSecretKeys(cp, 'harikube', 'e2e-crypto', [ordersKey]);
    }));

  test('apply→Active latency (median of 5) is reported', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-latency';
      await ensureNamespace(cp, ns);
      const samples: number[] = [];
      for (let i = 1; i <= 5; i++) {
        const name = `latency-${i}`;
        const yaml = ownConfig(ns, name, i, [
          { name, endpoint: `postgres://${name}.db:5432/kine` },
        ]);
        const started = performance.now();
        await mustApply(cp, yaml);
        // Polled every 10 ms, so that the poll adds little to the sample.
        await waitForStatus(cp, ns, name, 'Active', 30_000, 10);
        samples.push(Math.round(performance.now() - started));
      }
      console.log(
        `# apply→Active median ${median(samples)} ms (samples: ${samples.join(', ')} ms; includes the kubectl process)`,
      );
      await waitForSecretKeys(
        cp,
        'harikube',
        'e2e-latency',
        [1, 2, 3, 4, 5].map((i) => entryKey(i, ns, `latency-${i}`)),
      );
    }));
});
