// Fault: etcd, then kube-apiserver, are restarted under the running server
// while configs are being created and updated. Its watches break and its
// lists fail for a while; its informers must come back by themselves (with
// back-off), every change made meanwhile must be reconciled, and /readyz
// must be green again. Changes made after the recovery prove that all three
// caches (configs, managed Secrets, key Secrets) are watching again: the
// periodic resync (5 min) is far beyond this test's deadlines.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encryptEndpoint } from '../../src/crypto/aes-gcm.ts';
import {
  configYaml,
  entryKey,
  keySecretYaml,
  sleep,
  useEnv,
  waitFor,
  withLogs,
} from '../e2e/support.ts';
import {
  applyUntilAccepted,
  backend,
  removeTargetEntry,
  say,
  TARGET,
  waitForInvariant,
} from './support.ts';

const NS = 'chaos-restart';
const BEFORE = 4;
const DURING = 12;

const env = useEnv({ namespaces: [NS] });

const manifest = (
  i: number,
  generation = 1,
  extra: Partial<Parameters<typeof configYaml>[0]> = {},
) =>
  configYaml({
    name: `svc-${i}`,
    namespace: NS,
    position: i,
    backends: Array.from({ length: generation }, (_, g) => backend(`restart-${i}-${g}`)),
    ...extra,
  });

test('etcd and kube-apiserver restarted under the running server: informers recover, statuses converge, /readyz recovers', () =>
  withLogs(env, async ({ cp, product }) => {
    for (let i = 1; i <= BEFORE; i++) await applyUntilAccepted(cp, manifest(i));
    await waitForInvariant(cp, 'before the restarts');

    // /readyz as a kubelet would probe it, for the story.
    const readiness: string[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const ok = await product.ready();
        if (readiness.at(-1) !== (ok ? 'ready' : 'not ready'))
          readiness.push(ok ? 'ready' : 'not ready');
        await sleep(250);
      }
    })();

    // A stream of creates and updates that runs through both restarts.
    let refused = 0;
    let applied = 0;
    const stream = (async () => {
      for (let i = BEFORE + 1; i <= BEFORE + DURING; i++) {
        refused += await applyUntilAccepted(cp, manifest(i));
        applied++;
        if (i % 3 === 0) {
          refused += await applyUntilAccepted(cp, manifest(i - 2, 2));
          applied++;
        }
        await sleep(300);
      }
    })();

    await waitFor('the stream to start', async () => applied >= 2);
    let t = Date.now();
    await cp.restartEtcd();
    say(
      `injected: etcd restarted (same data) under the running server, API server ready again after ${Date.now() - t} ms; ${applied} applies done so far`,
    );
    t = Date.now();
    await cp.restartApiServer();
    say(
      `injected: kube-apiserver restarted (same port) under the running server, ready again after ${Date.now() - t} ms; ${applied} applies done so far`,
    );
    await stream;
    say(
      `injected: ${applied} creates/updates during the restarts; ${refused} attempts refused by the control plane and retried`,
    );

    const report = await waitForInvariant(cp, 'after the etcd and kube-apiserver restarts');
    assert.equal(report.configs, BEFORE + DURING);
    assert.equal(
      report.active,
      BEFORE + DURING,
      'every config is valid and conflict-free, so all are Active',
    );

    await waitFor('/readyz to answer 200', () => product.ready(), 30_000);
    probing = false;
    await prober;
    const retries = new Map<string, number[]>();
    for (const line of product.logs()) {
      if (line.msg !== 'watch failed; listing again') continue;
      const informer = String(line.informer);
      retries.set(informer, [...(retries.get(informer) ?? []), Number(line.retryInMs)]);
    }
    const backoff = [...retries].map(([informer, delays]) => `${informer} ${delays.join('/')} ms`);
    say(
      `checked: /readyz 200 after the restarts (observed sequence: ${readiness.join(' → ')}); ` +
        `informer restarts with back-off: ${backoff.join('; ') || 'none'}`,
    );

    // Each cache must see new events by itself now.
    // 1. configs: a new config and an update.
    t = Date.now();
    await applyUntilAccepted(cp, manifest(50));
    await applyUntilAccepted(cp, manifest(1, 2));
    await waitForInvariant(cp, 'a config created and one updated after the recovery', {
      timeoutMs: 20_000,
    });
    say(
      `checked: the config watch sees changes again (converged ${Date.now() - t} ms after the applies began)`,
    );

    // 2. managed Secrets: a key removed by hand is put back.
    t = Date.now();
    const key = entryKey(2, NS, 'svc-2');
    await removeTargetEntry(cp, key);
    say(`injected: removed ${key} from Secret ${TARGET} by hand`);
    await waitForInvariant(cp, 'the tampered Secret restored', { timeoutMs: 20_000 });
    say(
      `checked: the managed-Secret watch sees changes again (restored within ${Date.now() - t} ms)`,
    );

    // 3. key Secrets: a new key Secret is usable by a new encrypted config.
    t = Date.now();
    const aesKey = randomBytes(32);
    await applyUntilAccepted(cp, keySecretYaml(NS, 'keys', { k1: aesKey }));
    const encrypted = configYaml({
      name: 'svc-60',
      namespace: NS,
      position: 60,
      endpointDecryptSecret: `${NS}/keys`,
      backends: [
        {
          name: 'restart-60-0',
          endpoint: encryptEndpoint(aesKey, 'postgres://enc:pw@enc.db:5432/kine'),
        },
      ],
    });
    // The webhook answers from the same key cache: it admits the config once the cache has the key.
    await waitFor(
      'the webhook to admit a config encrypted with the new key',
      async () => (await cp.kubectl(['apply', '-f', '-'], { input: encrypted })).code === 0,
      20_000,
      250,
    );
    const final = await waitForInvariant(cp, 'an encrypted config with a new key Secret', {
      timeoutMs: 20_000,
    });
    assert.equal(final.active, BEFORE + DURING + 2);
    say(
      `checked: the key-Secret watch sees changes again (new key usable, config Active within ${Date.now() - t} ms)`,
    );
  }));
