// End to end: conflicting configs that got past admission (here the webhook
// is not registered at all, as when it is bypassed or two replicas race).
// The reconciler is the truth: exactly one of a conflicting pair is Active,
// the other reports Error naming the winner, and takes over when the winner goes.
// The winner is the incumbent (the config whose entry the Secret already
// holds), whatever the positions: taking its keys would strand its data.
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
  sleep,
  useEnv,
  waitForGone,
  waitForSecretKeys,
  waitForStatus,
  withLogs,
} from './support.ts';

const ns = 'e2e-conflicts';
const env = useEnv({
  webhooks: false,
  namespaces: [ns],
  productArgs: [ALLOW_HARIKUBE_TARGETS],
});

/** A config of one backend, routed by customresource, into harikube/<secret>. */
interface Contender {
  name: string;
  position: number;
  secret: string;
  backend: { name: string; endpoint: string; kind?: string };
}

/** Contender `name` with one backend (its kind defaults to the backend's name). */
const contender = (
  name: string,
  position: number,
  secret: string,
  backend: string,
  kind?: string,
): Contender => ({
  name,
  position,
  secret,
  backend: { name: backend, endpoint: `postgres://${name}.db:5432/kine`, kind },
});

const manifest = (c: Contender) =>
  configYaml({
    name: c.name,
    namespace: ns,
    position: c.position,
    targetSecret: `harikube/${c.secret}`,
    backends: [c.backend],
  });

/** Waits until `c` is Active and its target Secret holds exactly its entry. */
async function holdsOnly(c: Contender): Promise<void> {
  const { cp } = env;
  await waitForStatus(cp, ns, c.name, 'Active');
  const key = entryKey(c.position, ns, c.name);
  const secret = await waitForSecretKeys(cp, 'harikube', c.secret, [key]);
  assert.deepEqual(secret.data, { [key]: expectedEntry([c.backend]) });
}

/** Waits until `c` reports Error; resolves to its reason. */
async function reasonOf(c: Contender): Promise<string> {
  return (await waitForStatus(env.cp, ns, c.name, 'Error')).status.deployStatusReason;
}

async function deleteAndWait(c: Contender): Promise<void> {
  await mustDeleteConfig(env.cp, ns, c.name, '--wait=false');
  await waitForGone(env.cp, ns, c.name);
}

describe('reconciler, webhook not registered', () => {
  test('no webhook configuration is registered, so conflicting configs reach the reconciler', async () => {
    const configs = await env.cp.kubectl([
      'get',
      'validatingwebhookconfigurations,mutatingwebhookconfigurations',
      '-o',
      'name',
    ]);
    assert.equal(configs.code, 0, configs.stderr);
    assert.equal(configs.stdout.trim(), '');
  });

  test('two configs at the same position: the older (the incumbent) is Active, the newer reports Error naming it, and takes over when it is deleted', () =>
    withLogs(env, async ({ cp }) => {
      // "z-early" sorts after "a-late" by name, so only its age can make it win.
      const early = contender('z-early', 3, 'e2e-same-position', 'same-position-early');
      const late = contender('a-late', 3, 'e2e-same-position', 'same-position-late');
      await mustApply(cp, manifest(early));
      // creationTimestamp has a one-second resolution.
      const createdAt = Date.parse(
        (await readConfig(cp, ns, early.name))!.metadata.creationTimestamp,
      );
      await sleep(Math.max(0, createdAt + 1100 - Date.now()));
      await mustApply(cp, manifest(late));
      const lateConfig = await readConfig(cp, ns, late.name);
      assert.ok(Date.parse(lateConfig!.metadata.creationTimestamp) > createdAt);

      await holdsOnly(early);
      assert.equal(
        await reasonOf(late),
        'conflicts with e2e-conflicts/z-early, whose entry harikube/e2e-same-position already holds (the config already in the Secret wins): spec.position: 3 is already taken by e2e-conflicts/z-early (position 3) in harikube/e2e-same-position: omit spec.position to get the next free one',
      );
      // Still exactly one Active once things settle.
      assert.equal((await readConfig(cp, ns, early.name))?.status?.deployStatus, 'Active');

      await deleteAndWait(early);
      await holdsOnly(late);
    }));

  test('two configs with the same backend name: the incumbent stays Active although the newcomer has a lower position; the newcomer reports Error naming it, and takes over when it is deleted', () =>
    withLogs(env, async ({ cp }) => {
      const first = contender('first', 1, 'e2e-same-name', 'shared-db', 'firsts');
      const second = contender('second', 2, 'e2e-same-name', 'shared-db', 'seconds');
      // The later position is merged first: its entry is in the Secret, so it wins.
      await mustApply(cp, manifest(second));
      await holdsOnly(second);
      await mustApply(cp, manifest(first));

      assert.equal(
        await reasonOf(first),
        'conflicts with e2e-conflicts/second, whose entry harikube/e2e-same-name already holds (the config already in the Secret wins): spec.backends[0].name: "shared-db" is already used by e2e-conflicts/second (position 2)',
      );
      await holdsOnly(second);

      await deleteAndWait(second);
      await holdsOnly(first);
    }));

  test('a backend name is unique across target Secrets too: the loser in the other target reports Error naming the winner, and takes over when it is deleted', () =>
    withLogs(env, async ({ cp }) => {
      // The newer config is at position 1 of its own Secret: positions of
      // different Secrets say nothing about each other, and the incumbent wins.
      const one = contender('cross-one', 3, 'e2e-cross-a', 'cluster-wide-db', 'cross-one');
      const two = contender('cross-two', 1, 'e2e-cross-b', 'cluster-wide-db', 'cross-two');
      await mustApply(cp, manifest(one));
      await waitForStatus(cp, ns, one.name, 'Active');
      await mustApply(cp, manifest(two));
      assert.equal(
        await reasonOf(two),
        'conflicts with e2e-conflicts/cross-one, whose entry harikube/e2e-cross-a already holds (the config already in the Secret wins): spec.backends[0].name: "cluster-wide-db" is already used by e2e-conflicts/cross-one (position 3, target harikube/e2e-cross-a)',
      );
      // Read at once: the winner's Secret holds it, the loser's nothing.
      assert.deepEqual((await readSecret(cp, 'harikube', 'e2e-cross-b'))?.data ?? {}, {});
      assert.deepEqual((await readSecret(cp, 'harikube', 'e2e-cross-a'))!.data, {
        [entryKey(3, ns, 'cross-one')]: expectedEntry([one.backend]),
      });

      await deleteAndWait(one);
      await holdsOnly(two);
      await waitForSecretKeys(cp, 'harikube', 'e2e-cross-a', []);
    }));
});
