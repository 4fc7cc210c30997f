// Fault: the server is killed with SIGKILL (a crash, an OOM kill) in the
// middle of a stream of applies, and started again a second later. Nothing
// it was doing may be lost or duplicated: once it is back, the Secret is the
// merge of every config and every status tells the truth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ControlPlane } from '../harness/controlplane.ts';
import {
  configYaml,
  getJson,
  mustDeleteConfig,
  OVERRIDE,
  sleep,
  useEnv,
  withLogs,
} from '../e2e/support.ts';
import { applyUntilAccepted, backend, say, waitForInvariant } from './support.ts';

const NS = 'chaos-kill';
const COUNT = 20;
const KILL_AFTER = 5;

const env = useEnv({ namespaces: [NS] });

/** How many configs of NS report each state (for the story, not an assertion). */
async function statesOf(cp: ControlPlane): Promise<Record<string, number>> {
  const list = await getJson<{ items: Array<{ status?: { deployStatus?: string } }> }>(cp, [
    'topologyconfigs',
    '-n',
    NS,
  ]);
  const counts: Record<string, number> = {};
  for (const item of list?.items ?? []) {
    const state = item.status?.deployStatus ?? 'no status';
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return counts;
}

const manifest = (i: number, generation = 1) =>
  configYaml({
    name: `app-${i}`,
    namespace: NS,
    position: i,
    // So that one of them can be deleted while it is Active.
    annotations: OVERRIDE,
    // An update appends a backend (the only safe change to an Active config).
    backends: Array.from({ length: generation }, (_, g) => backend(`kill-${i}-${g}`)),
  });

test(`SIGKILL during a stream of ${COUNT} applies, restart a second later: the Secret and every status converge`, () =>
  withLogs(env, async ({ cp, product }) => {
    const firstPid = product.pid();
    let refused = 0;
    let killed: Promise<void> | undefined;
    let restarted: Promise<void> | undefined;
    let updates = 0;

    for (let i = 1; i <= COUNT; i++) {
      refused += await applyUntilAccepted(cp, manifest(i));
      if (i === KILL_AFTER) {
        // Not awaited: the next applies race with the crash.
        killed = product.kill().then(async () => {
          const states = await statesOf(cp);
          say(
            `injected: SIGKILL of the server (pid ${firstPid}) right after apply ${i} of ${COUNT}; ` +
              `at that moment: ${JSON.stringify(states)}`,
          );
        });
        restarted = killed
          .then(() => sleep(1000))
          .then(() => product.restart())
          .then(() =>
            say(`injected: server restarted (pid ${product.pid()}) a second after the kill`),
          );
      }
      // Every fourth apply also updates an earlier config (generation 2).
      if (i % 4 === 0 && i > 4) {
        refused += await applyUntilAccepted(cp, manifest(i - 3, 2));
        updates++;
      }
    }
    assert.ok(killed && restarted, 'the kill was injected');
    await restarted;
    assert.notEqual(product.pid(), firstPid, 'a new process runs');
    say(
      `injected: ${COUNT} creates and ${updates} updates; ${refused} applies refused while the server was down and retried`,
    );

    let report = await waitForInvariant(cp, 'after the kill and restart');
    assert.equal(report.configs, COUNT);
    assert.equal(
      report.active,
      COUNT,
      'every config is valid and conflict-free, so all are Active',
    );

    // A deletion decided by the restarted server completes as well.
    await mustDeleteConfig(cp, NS, 'app-3', '--timeout=30s');
    say('injected: delete of chaos-kill/app-3 after the restart');
    report = await waitForInvariant(cp, 'after deleting app-3', { gone: [`${NS}/app-3`] });
    assert.equal(report.active, COUNT - 1);
    assert.equal(report.keys.length, COUNT - 1);
  }));
