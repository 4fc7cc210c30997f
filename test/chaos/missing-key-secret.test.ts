// Fault: the Secret holding the AES keys of a config's encrypted endpoints
// disappears. What is right: Active means "the Secret the middleware reads
// holds this config at this generation, derived from its spec and keys";
// without its keys the reconciler cannot derive it, so the config reports
// Error, naming the missing Secret. Its last good entry stays in the Secret
// (the product's choice, SPEC: routing is append-only, and dropping the
// entry would strand the data already written through it); the product
// reads that entry back from the Secret itself, so the choice survives a
// restart. Deleting such a config must still complete — its entry removed,
// its finalizer released — although its keys are gone, even when the server
// was killed in the middle of it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { encryptEndpoint } from '../../src/crypto/aes-gcm.ts';
import { configYaml, ensureNamespace, getJson, secretData } from '../e2e/support.ts';
import {
  applyUntilAccepted,
  backend,
  keySecretYaml,
  say,
  startEnv,
  TARGET,
  waitForInvariant,
  withLogs,
  type Env,
} from './support.ts';

let env: Env | undefined;
before(async () => {
  env = await startEnv();
});
after(async () => {
  await env?.stop();
});

const NS = 'chaos-keys';
const OVERRIDE = { 'harikube.info/allow-unsafe-routing-change': 'true' };
const [TARGET_NS, TARGET_NAME] = TARGET.split('/') as [string, string];

function sealedYaml(
  name: string,
  position: number,
  keySecret: string,
  key: Buffer,
  plaintext: string,
) {
  return configYaml({
    name,
    namespace: NS,
    position,
    endpointDecryptSecret: `${NS}/${keySecret}`,
    // An Active config may only be deleted with the override (append-only routing).
    annotations: OVERRIDE,
    backends: [{ name: `keys-${name}`, endpoint: encryptEndpoint(key, plaintext) }],
  });
}

async function deleteKeySecret(cp: Env['cp'], name: string) {
  const deleted = await cp.kubectl(['delete', 'secret', '-n', NS, name]);
  assert.equal(deleted.code, 0, deleted.stderr);
}

async function statusOf(cp: Env['cp'], name: string) {
  const config = await getJson(cp, ['topologyconfig', '-n', NS, name]);
  return config?.status as { deployStatus?: string; deployStatusReason?: string } | undefined;
}

test('a config whose key Secret is deleted goes to Error (its last good entry kept); deleting it then completes and removes the entry', () =>
  withLogs(
    () => env?.product,
    async () => {
      const { cp } = env!;
      await ensureNamespace(cp, NS);
      const key = randomBytes(32);
      const plaintext = 'mysql://sealed:pw@tcp(sealed.db:3306)/kine';
      await applyUntilAccepted(cp, keySecretYaml(NS, 'keys', key));
      await applyUntilAccepted(cp, sealedYaml('sealed', 1, 'keys', key, plaintext));
      await applyUntilAccepted(
        cp,
        configYaml({
          name: 'plain',
          namespace: NS,
          position: 2,
          backends: [backend('keys-plain')],
        }),
      );
      let report = await waitForInvariant(cp, 'both configs Active');
      assert.equal(report.active, 2);
      const sealedKey = `${'1'.padStart(10, '0')}-${NS}.sealed.yaml`;
      const sealedEntry = (await secretData(cp, TARGET_NS, TARGET_NAME))?.[sealedKey];
      assert.ok(
        sealedEntry !== undefined && sealedEntry.includes(plaintext),
        'the Secret holds the decrypted endpoint',
      );
      const kept = new Map([[`${NS}/sealed`, sealedEntry]]);

      await deleteKeySecret(cp, 'keys');
      say(`injected: deleted the key Secret ${NS}/keys of the Active config ${NS}/sealed`);
      report = await waitForInvariant(cp, 'the key Secret gone', { kept });
      assert.equal(report.active, 1);
      assert.equal(report.error, 1);
      assert.ok(report.keys.includes(sealedKey), 'its last good entry stays in the Secret');
      const status = await statusOf(cp, 'sealed');
      assert.match(status?.deployStatusReason ?? '', /Secret chaos-keys\/keys not found/);
      say(`checked: ${NS}/sealed is Error: ${JSON.stringify(status?.deployStatusReason)}`);

      const deleted = await cp.kubectl([
        'delete',
        'topologyconfig',
        '-n',
        NS,
        'sealed',
        '--timeout=30s',
      ]);
      assert.equal(deleted.code, 0, deleted.stderr);
      say(
        `injected: deleted ${NS}/sealed while its key Secret is missing; kubectl delete returned`,
      );
      report = await waitForInvariant(cp, 'the config deleted without its keys', {
        gone: [`${NS}/sealed`],
        kept,
      });
      assert.equal(report.active, 1);
      assert.deepEqual(report.keys, [`${'2'.padStart(10, '0')}-${NS}.plain.yaml`]);
    },
  ));

test('a config deleted right after its key Secret (back to back): the deletion completes', () =>
  withLogs(
    () => env?.product,
    async () => {
      const { cp } = env!;
      const key = randomBytes(16);
      await applyUntilAccepted(cp, keySecretYaml(NS, 'keys2', key));
      await applyUntilAccepted(
        cp,
        sealedYaml('racer', 3, 'keys2', key, 'postgres://racer:pw@racer.db:5432/kine'),
      );
      let report = await waitForInvariant(cp, 'racer Active');
      assert.equal(report.active, 2);

      // Both deletes back to back: the config is still Active when it is deleted.
      await deleteKeySecret(cp, 'keys2');
      const deleted = await cp.kubectl([
        'delete',
        'topologyconfig',
        '-n',
        NS,
        'racer',
        '--timeout=30s',
      ]);
      assert.equal(deleted.code, 0, deleted.stderr);
      say(
        `injected: deleted the key Secret ${NS}/keys2, then at once the Active config ${NS}/racer (with the override); kubectl delete returned`,
      );
      report = await waitForInvariant(cp, 'racer deleted', { gone: [`${NS}/racer`] });
      assert.equal(report.active, 1);
      assert.deepEqual(report.keys, [`${'2'.padStart(10, '0')}-${NS}.plain.yaml`]);
    },
  ));

test('the server restarted while a config is in deletion and its key Secret is missing: the deletion completes', () =>
  withLogs(
    () => env?.product,
    async () => {
      const { cp, product } = env!;
      const key = randomBytes(24);
      await applyUntilAccepted(cp, keySecretYaml(NS, 'keys3', key));
      await applyUntilAccepted(
        cp,
        sealedYaml('orphan', 4, 'keys3', key, 'postgres://orphan:pw@orphan.db:5432/kine'),
      );
      await waitForInvariant(cp, 'orphan Active');

      // Back to back: the key Secret, the config, then SIGKILL, most likely
      // before the server finished the deletion (its webhook must be up to
      // admit the DELETE, so the kill cannot come first).
      await deleteKeySecret(cp, 'keys3');
      const deleted = await cp.kubectl([
        'delete',
        'topologyconfig',
        '-n',
        NS,
        'orphan',
        '--wait=false',
      ]);
      assert.equal(deleted.code, 0, deleted.stderr);
      await product.kill();
      const left = await getJson(cp, ['topologyconfig', '-n', NS, 'orphan']);
      say(
        `injected: deleted the key Secret ${NS}/keys3 and the Active config ${NS}/orphan, then SIGKILL of the server; ` +
          `at the kill the config was ${left ? `still there (deletionTimestamp ${left.metadata.deletionTimestamp ? 'set' : 'unset'}, finalizers ${JSON.stringify(left.metadata.finalizers)})` : 'already gone'}`,
      );
      await product.restart();
      say('injected: server restarted');
      const report = await waitForInvariant(cp, 'orphan deleted after the restart', {
        gone: [`${NS}/orphan`],
      });
      assert.equal(report.active, 1);
      assert.deepEqual(report.keys, [`${'2'.padStart(10, '0')}-${NS}.plain.yaml`]);
    },
  ));
