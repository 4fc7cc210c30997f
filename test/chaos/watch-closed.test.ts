// Fault: the API server closes every watch after a few seconds. With
// --min-request-timeout=3 kube-apiserver ends each watch after 3–6 s (a
// random timeout per watch), as it does every 30–60 min by default, and as
// a proxy or load balancer with a short idle timeout would. The server must
// re-watch each time without missing or delaying what happened around the
// closure: a change made right after several closures of the same watch is
// reconciled within a few seconds. The server logs (at debug level) each
// watch that ended without an error; the test makes each change right after
// such a closure, the moment a change is most likely to fall between the old
// watch and the new one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encryptEndpoint } from '../../src/crypto/aes-gcm.ts';
import type { Product } from '../harness/product.ts';
import { configYaml, entryKey, keySecretYaml, useEnv, waitFor, withLogs } from '../e2e/support.ts';
import {
  applyUntilAccepted,
  backend,
  removeTargetEntry,
  say,
  targetData,
  waitForInvariant,
} from './support.ts';

const NS = 'chaos-watch';
const env = useEnv({ namespaces: [NS], apiServerArgs: ['--min-request-timeout=3'] });
/** "Within a few seconds": the bound on each change's time to converge. */
const SEEN_WITHIN_MS = 5_000;

const WATCH_ENDED = 'watch ended without an error; watching again';
type Informer = 'topologyconfigs' | 'managed-secrets' | 'endpoint-key-secrets';

/** The server's own record of each watch that ended without an error (debug log), per informer. */
const watchEnds = (product: Product, informer: Informer) =>
  product.logs().filter((line) => line.msg === WATCH_ENDED && line.informer === informer) as Array<{
    watchMs: number;
  }>;

/**
 * Waits for `count` more watch closures of one informer and returns right
 * after the last one: the moment a change is most likely to fall between
 * the old watch and the new one.
 */
async function afterClosures(product: Product, informer: Informer, count: number) {
  const seen = watchEnds(product, informer).length;
  await waitFor(
    `${count} closures of the ${informer} watch`,
    async () => watchEnds(product, informer).length >= seen + count,
    30_000,
    100,
  );
  const ends = watchEnds(product, informer);
  return { total: ends.length, lastMs: ends.at(-1)!.watchMs };
}

const manifest = (name: string, position: number, backends: string[], extra = {}) =>
  configYaml({ name, namespace: NS, position, backends: backends.map(backend), ...extra });

test('watches closed by the API server every 3–6 s: changes made right after several closures are seen within a few seconds', () =>
  withLogs(env, async ({ cp, product }) => {
    const keyA = randomBytes(32);
    const keyB = randomBytes(32);
    await applyUntilAccepted(cp, keySecretYaml(NS, 'keys', { k1: keyA }));
    await applyUntilAccepted(cp, manifest('plain', 1, ['watch-plain']));
    await applyUntilAccepted(
      cp,
      configYaml({
        name: 'sealed',
        namespace: NS,
        position: 2,
        endpointDecryptSecret: `${NS}/keys`,
        backends: [
          {
            name: 'watch-sealed',
            endpoint: encryptEndpoint(keyA, 'mysql://s:pw@tcp(sealed.db:3306)/kine'),
          },
        ],
      }),
    );
    await waitForInvariant(cp, 'before the quiet spells');
    // What the sealed config's entry must stay once its key is replaced
    // (the product keeps the last good entry of a config it cannot decrypt).
    const sealedEntry = (await targetData(cp))[entryKey(2, NS, 'sealed')];
    assert.ok(sealedEntry, 'the sealed config is in the Secret');
    const kept = new Map([[`${NS}/sealed`, sealedEntry]]);

    // Each step: wait for watch closures, then one change that only a live
    // watch brings to the server in time (the resync is 5 min away).
    const steps: Array<
      [string, Informer, number, () => Promise<void>, { active: number; error: number }]
    > = [
      [
        'a config updated (a backend appended)',
        'topologyconfigs',
        2,
        async () =>
          void (await applyUntilAccepted(
            cp,
            manifest('plain', 1, ['watch-plain', 'watch-plain-2']),
          )),
        { active: 2, error: 0 },
      ],
      [
        'a key removed from the managed Secret by hand',
        'managed-secrets',
        1,
        () => removeTargetEntry(cp, entryKey(1, NS, 'plain')),
        { active: 2, error: 0 },
      ],
      [
        'a config created',
        'topologyconfigs',
        1,
        async () => void (await applyUntilAccepted(cp, manifest('late', 3, ['watch-late']))),
        { active: 3, error: 0 },
      ],
      [
        // The quietest watch of all: nothing else touches key Secrets.
        "the sealed config's key replaced by another one in its key Secret",
        'endpoint-key-secrets',
        1,
        async () => void (await applyUntilAccepted(cp, keySecretYaml(NS, 'keys', { k1: keyB }))),
        { active: 2, error: 1 },
      ],
    ];

    const started = Date.now();
    // (Closures accumulate: by the last step every watch has been closed several times.)
    for (const [what, informer, closures, change, expected] of steps) {
      const closed = await afterClosures(product, informer, closures);
      await change();
      say(
        `injected: ${what}, right after the API server closed the ${informer} watch ` +
          `(${closed.total} closures so far; the last watch lasted ${closed.lastMs} ms)`,
      );
      const report = await waitForInvariant(cp, `after: ${what}`, {
        timeoutMs: SEEN_WITHIN_MS,
        kept,
      });
      assert.equal(report.active, expected.active);
      assert.equal(report.error, expected.error);
      say(
        `checked: seen and reconciled ${report.convergedMs} ms after the change was accepted (bound ${SEEN_WITHIN_MS} ms)`,
      );
    }
    const ends = (['topologyconfigs', 'managed-secrets', 'endpoint-key-secrets'] as const).map(
      (informer) => `${informer} ${watchEnds(product, informer).length}`,
    );
    say(
      `checked: ${Math.round((Date.now() - started) / 1000)} s of activity; watches closed by the API server and re-opened: ${ends.join(', ')}`,
    );
  }));
