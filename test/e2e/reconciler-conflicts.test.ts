// End to end: conflicting configs that got past admission (here the webhook
// is not registered at all, as when it is bypassed or two replicas race).
// The reconciler is the truth: exactly one of a conflicting pair is Active,
// the other reports Error naming the winner, and takes over when the winner goes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ControlPlane } from '../harness/controlplane.ts';
import { configYaml, ensureNamespace, mustApply, waitFor } from './support.ts';
import {
  entryKey,
  readConfig,
  readSecret,
  sleep,
  startEnv,
  waitForSecretKeys,
  waitForState,
  withLogs,
  type Env,
} from './reconciler-helpers.ts';

let env: Env | undefined;
const cp = () => env!.cp;
const logs = () => env?.products ?? [];
const ns = 'e2e-conflicts';

before(async () => {
  env = await startEnv({ webhooks: false });
  await ensureNamespace(env.cp, ns);
});
after(async () => {
  await env?.stop();
});

async function deleteAndWait(control: ControlPlane, name: string): Promise<void> {
  const deleted = await control.kubectl([
    'delete',
    'topologyconfig',
    '-n',
    ns,
    name,
    '--wait=false',
  ]);
  assert.equal(deleted.code, 0, deleted.stderr);
  await waitFor(`${ns}/${name} to disappear`, async () =>
    (await readConfig(control, ns, name)) === undefined ? true : undefined,
  );
}

describe('reconciler, webhook not registered', () => {
  test('no webhook configuration is registered, so conflicting configs reach the reconciler', async () => {
    const configs = await cp().kubectl([
      'get',
      'validatingwebhookconfigurations,mutatingwebhookconfigurations',
      '-o',
      'name',
    ]);
    assert.equal(configs.code, 0, configs.stderr);
    assert.equal(configs.stdout.trim(), '');
  });

  test('two configs at the same position: the older is Active, the newer reports Error naming it, and takes over when it is deleted', () =>
    withLogs(logs, async () => {
      const target = 'harikube/e2e-same-position';
      const manifest = (name: string, backend: string) =>
        configYaml({
          name,
          namespace: ns,
          position: 3,
          targetSecret: target,
          backends: [{ name: backend, endpoint: `postgres://${backend}.db:5432/kine` }],
        });
      // "z-early" sorts after "a-late" by name, so only its age can make it win.
      await mustApply(cp(), manifest('z-early', 'same-position-early'));
      const early = await readConfig(cp(), ns, 'z-early');
      // creationTimestamp has a one-second resolution.
      const createdAt = Date.parse(early!.metadata.creationTimestamp);
      await sleep(Math.max(0, createdAt + 1100 - Date.now()));
      await mustApply(cp(), manifest('a-late', 'same-position-late'));
      const late = await readConfig(cp(), ns, 'a-late');
      assert.ok(Date.parse(late!.metadata.creationTimestamp) > createdAt);

      await waitForState(cp(), ns, 'z-early', 'Active');
      const loser = await waitForState(cp(), ns, 'a-late', 'Error');
      assert.equal(
        loser.status.deployStatusReason,
        'conflicts with e2e-conflicts/z-early, which comes first (lower position, then older, then namespace/name): spec.position: 3 is already taken by e2e-conflicts/z-early (position 3) in harikube/e2e-same-position: omit spec.position to get the next free one',
      );
      const secret = await waitForSecretKeys(cp(), 'harikube', 'e2e-same-position', [
        entryKey(3, ns, 'z-early'),
      ]);
      assert.deepEqual(secret.data, {
        '0000000003-e2e-conflicts.z-early.yaml': `backends:
- name: same-position-early
  endpoint: postgres://same-position-early.db:5432/kine
  customresource:
    group: stable.example.com
    kind: same-position-early
`,
      });
      // Still exactly one Active once things settle.
      assert.equal((await readConfig(cp(), ns, 'z-early'))?.status?.deployStatus, 'Active');

      await deleteAndWait(cp(), 'z-early');
      await waitForState(cp(), ns, 'a-late', 'Active');
      const after = await waitForSecretKeys(cp(), 'harikube', 'e2e-same-position', [
        entryKey(3, ns, 'a-late'),
      ]);
      assert.deepEqual(after.data, {
        '0000000003-e2e-conflicts.a-late.yaml': `backends:
- name: same-position-late
  endpoint: postgres://same-position-late.db:5432/kine
  customresource:
    group: stable.example.com
    kind: same-position-late
`,
      });
    }));

  test('two configs with the same backend name: the lower position is Active, the other reports Error naming it, and takes over when it is deleted', () =>
    withLogs(logs, async () => {
      const target = 'harikube/e2e-same-name';
      const manifest = (name: string, position: number, kind: string) =>
        configYaml({
          name,
          namespace: ns,
          position,
          targetSecret: target,
          backends: [{ name: 'shared-db', endpoint: `postgres://${name}.db:5432/kine`, kind }],
        });
      // The later position is created first: position decides, not age.
      await mustApply(cp(), manifest('second', 2, 'seconds'));
      await mustApply(cp(), manifest('first', 1, 'firsts'));

      await waitForState(cp(), ns, 'first', 'Active');
      const loser = await waitForState(cp(), ns, 'second', 'Error');
      assert.equal(
        loser.status.deployStatusReason,
        'conflicts with e2e-conflicts/first, which comes first (lower position, then older, then namespace/name): spec.backends[0].name: "shared-db" is already used by e2e-conflicts/first (position 1)',
      );
      const secret = await waitForSecretKeys(cp(), 'harikube', 'e2e-same-name', [
        entryKey(1, ns, 'first'),
      ]);
      assert.deepEqual(secret.data, {
        '0000000001-e2e-conflicts.first.yaml': `backends:
- name: shared-db
  endpoint: postgres://first.db:5432/kine
  customresource:
    group: stable.example.com
    kind: firsts
`,
      });

      await deleteAndWait(cp(), 'first');
      await waitForState(cp(), ns, 'second', 'Active');
      const after = await waitForSecretKeys(cp(), 'harikube', 'e2e-same-name', [
        entryKey(2, ns, 'second'),
      ]);
      assert.deepEqual(after.data, {
        '0000000002-e2e-conflicts.second.yaml': `backends:
- name: shared-db
  endpoint: postgres://second.db:5432/kine
  customresource:
    group: stable.example.com
    kind: seconds
`,
      });
    }));

  test('a backend name is unique across target Secrets too: the loser in the other target reports Error naming the winner, and takes over when it is deleted', () =>
    withLogs(logs, async () => {
      const manifest = (name: string, position: number, target: string) =>
        configYaml({
          name,
          namespace: ns,
          position,
          targetSecret: target,
          backends: [
            { name: 'cluster-wide-db', endpoint: `postgres://${name}.db:5432/kine`, kind: name },
          ],
        });
      const entry = (name: string) => `backends:
- name: cluster-wide-db
  endpoint: postgres://${name}.db:5432/kine
  customresource:
    group: stable.example.com
    kind: ${name}
`;
      await mustApply(cp(), manifest('cross-one', 1, 'harikube/e2e-cross-a'));
      await waitForState(cp(), ns, 'cross-one', 'Active');
      await mustApply(cp(), manifest('cross-two', 2, 'harikube/e2e-cross-b'));
      const loser = await waitForState(cp(), ns, 'cross-two', 'Error');
      assert.equal(
        loser.status.deployStatusReason,
        'conflicts with e2e-conflicts/cross-one, which comes first (lower position, then older, then namespace/name): spec.backends[0].name: "cluster-wide-db" is already used by e2e-conflicts/cross-one (position 1, target harikube/e2e-cross-a)',
      );
      assert.deepEqual((await readSecret(cp(), 'harikube', 'e2e-cross-b'))?.data ?? {}, {});
      assert.deepEqual((await readSecret(cp(), 'harikube', 'e2e-cross-a'))!.data, {
        [entryKey(1, ns, 'cross-one')]: entry('cross-one'),
      });

      await deleteAndWait(cp(), 'cross-one');
      await waitForState(cp(), ns, 'cross-two', 'Active');
      const after = await waitForSecretKeys(cp(), 'harikube', 'e2e-cross-b', [
        entryKey(2, ns, 'cross-two'),
      ]);
      assert.deepEqual(after.data, { [entryKey(2, ns, 'cross-two')]: entry('cross-two') });
      await waitForSecretKeys(cp(), 'harikube', 'e2e-cross-a', []);
    }));
});
