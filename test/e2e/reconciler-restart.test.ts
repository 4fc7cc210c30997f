// End to end: the server is killed (SIGKILL, as an OOM kill or a node loss
// would) in the middle of a stream of applies, twice, and restarted. The
// reconciler is level-triggered, so when it comes back every config must be
// Active and the Secret must hold exactly one entry per config, with nothing
// lost and nothing duplicated. No webhook is registered, so applies go on
// while the server is down.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ALLOW_HARIKUBE_TARGETS,
  configYaml,
  entryKey,
  expectedEntry,
  mustApply,
  mustDeleteConfig,
  readConfig,
  readSecret,
  useEnv,
  waitFor,
  waitForGone,
  waitForSecretKeys,
  waitForStatus,
  withLogs,
} from './support.ts';

const ns = 'e2e-restart';
const target = 'harikube/e2e-restart';
const env = useEnv({ webhooks: false, namespaces: [ns], productArgs: [ALLOW_HARIKUBE_TARGETS] });

const name = (i: number) => `stream-${String(i).padStart(2, '0')}`;
const backend = (i: number, suffix = '') => ({
  name: `${name(i)}${suffix}`,
  endpoint: `postgres://${name(i)}${suffix}.db:5432/kine`,
});
const manifest = (i: number, backends = [backend(i)]) =>
  configYaml({ name: name(i), namespace: ns, position: i, targetSecret: target, backends });

describe('reconciler, server killed and restarted', () => {
  test('killing the server mid-stream of applies and restarting it loses and duplicates nothing', () =>
    withLogs(env, async ({ cp, product }) => {
      const count = 20;
      const entries = async () =>
        Object.keys((await readSecret(cp, 'harikube', 'e2e-restart'))?.data ?? {}).length;
      const atKill: string[] = [];
      const killNow = async () => {
        await product.kill();
        let active = 0;
        for (let i = 1; i <= count; i++) {
          if ((await readConfig(cp, ns, name(i)))?.status?.deployStatus === 'Active') active++;
        }
        const held = await entries();
        atKill.push(`${held} entries and ${active} Active configs`);
        return held;
      };
      let heldAtFirstKill = 0;
      let restarting: Promise<void> = Promise.resolve();
      for (let i = 1; i <= count; i++) {
        await mustApply(cp, manifest(i));
        if (i === 5) {
          heldAtFirstKill = await killNow();
          // While it is down: an update (a backend appended) and a delete.
          await mustApply(cp, manifest(2, [backend(2), backend(2, '-extra')]));
          await mustDeleteConfig(cp, ns, name(3), '--wait=false');
        }
        // Restarts run alongside the stream.
        if (i === 8) restarting = product.restart();
        if (i === 14) {
          // Killed again while it catches up: as soon as a Secret write of
          // the restarted server shows (the status writes that follow it in
          // the same reconcile are then usually still under way).
          await restarting;
          await waitFor(
            'the restarted server to write the Secret',
            async () => ((await entries()) > heldAtFirstKill ? true : undefined),
            30_000,
            5,
          );
          await killNow();
        }
        if (i === 16) restarting = product.restart();
      }
      await restarting;
      console.log(`# restart: at the two kills the cluster had ${atKill.join(', then ')}`);

      const live = Array.from({ length: count }, (_, k) => k + 1).filter((i) => i !== 3);
      for (const i of live) await waitForStatus(cp, ns, name(i), 'Active', 60_000);
      await waitForGone(cp, ns, name(3));
      const secret = await waitForSecretKeys(
        cp,
        'harikube',
        'e2e-restart',
        live.map((i) => entryKey(i, ns, name(i))),
      );
      assert.deepEqual(
        secret.data,
        Object.fromEntries(
          live.map((i) => [
            entryKey(i, ns, name(i)),
            expectedEntry(i === 2 ? [backend(2), backend(2, '-extra')] : [backend(i)]),
          ]),
        ),
      );
      for (const i of live) {
        const config = await readConfig(cp, ns, name(i));
        assert.deepEqual(config!.metadata.finalizers, ['harikube.info/finalizer'], name(i));
        // The seed's fields and the merged position; the conditions have tests of their own.
        const { conditions: _conditions, ...status } = config!.status as NonNullable<
          typeof config
        >['status'] & { conditions?: unknown };
        assert.deepEqual(
          status,
          {
            deployStatus: 'Active',
            deployStatusReason: '',
            observedGeneration: i === 2 ? 2 : 1,
            deployOrder: i,
          },
          name(i),
        );
      }
      assert.deepEqual(secret.finalizers, ['harikube.info/finalizer']);
    }));
});
