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
import { test } from 'node:test';
import { encryptEndpoint } from '../../src/crypto/aes-gcm.ts';
import type { ControlPlane } from '../harness/controlplane.ts';
import {
  configYaml,
  entryKey,
  keySecretYaml,
  mustDeleteConfig,
  OVERRIDE,
  readConfig,
  useEnv,
  withLogs,
} from '../e2e/support.ts';
import { applyUntilAccepted, backend, say, targetData, waitForInvariant } from './support.ts';

const NS = 'chaos-keys';
const env = useEnv({ namespaces: [NS] });

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

async function deleteKeySecret(cp: ControlPlane, name: string) {
  const deleted = await cp.kubectl(['delete', 'secret', '-n', NS, name]);
  assert.equal(deleted.code, 0, deleted.stderr);
}

test('a config whose key Secret is deleted goes to Error (its last good entry kept); deleting it then completes and removes the entry', () =>
  withLogs(env, async ({ cp }) => {
    const key = randomBytes(32);
    const plaintext = 'mysql://sealed:pw@tcp(sealed.db:3306)/kine';
    await applyUntilAccepted(cp, keySecretYaml(NS, 'keys', { k1: key }));
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
    const sealedKey = entryKey(1, NS, 'sealed');
    const sealedEntry = (await targetData(cp))[sealedKey];
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
    const status = (await readConfig(cp, NS, 'sealed'))?.status;
    assert.match(status?.deployStatusReason ?? '', /Secret chaos-keys\/keys not found/);
    say(`checked: ${NS}/sealed is Error: ${JSON.stringify(status?.deployStatusReason)}`);

    await mustDeleteConfig(cp, NS, 'sealed', '--timeout=30s');
    say(`injected: deleted ${NS}/sealed while its key Secret is missing; kubectl delete returned`);
    report = await waitForInvariant(cp, 'the config deleted without its keys', {
      gone: [`${NS}/sealed`],
      kept,
    });
    assert.equal(report.active, 1);
    assert.deepEqual(report.keys, [entryKey(2, NS, 'plain')]);
  }));

test('a config deleted right after its key Secret (back to back): the deletion completes', () =>
  withLogs(env, async ({ cp }) => {
    const key = randomBytes(16);
    await applyUntilAccepted(cp, keySecretYaml(NS, 'keys2', { k1: key }));
    await applyUntilAccepted(
      cp,
      sealedYaml('racer', 3, 'keys2', key, 'postgres://racer:pw@racer.db:5432/kine'),
    );
    let report = await waitForInvariant(cp, 'racer Active');
    assert.equal(report.active, 2);

    // Both deletes back to back: the config is still Active when it is deleted.
    await deleteKeySecret(cp, 'keys2');
    await mustDeleteConfig(cp, NS, 'racer', '--timeout=30s');
    say(
      `injected: deleted the key Secret ${NS}/keys2, then at once the Active config ${NS}/racer (with the override); kubectl delete returned`,
    );
    report = await waitForInvariant(cp, 'racer deleted', { gone: [`${NS}/racer`] });
    assert.equal(report.active, 1);
    assert.deepEqual(report.keys, [entryKey(2, NS, 'plain')]);
  }));

test('the server restarted while a config is in deletion and its key Secret is missing: the deletion completes', () =>
  withLogs(env, async ({ cp, product }) => {
    const key = randomBytes(24);
    await applyUntilAccepted(cp, keySecretYaml(NS, 'keys3', { k1: key }));
    await applyUntilAccepted(
      cp,
      sealedYaml('orphan', 4, 'keys3', key, 'postgres://orphan:pw@orphan.db:5432/kine'),
    );
    await waitForInvariant(cp, 'orphan Active');

    // Back to back: the key Secret, the config, then SIGKILL, most likely
    // before the server finished the deletion (its webhook must be up to
    // admit the DELETE, so the kill cannot come first).
    await deleteKeySecret(cp, 'keys3');
    await mustDeleteConfig(cp, NS, 'orphan', '--wait=false');
    await product.kill();
    const left = await readConfig(cp, NS, 'orphan');
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
    assert.deepEqual(report.keys, [entryKey(2, NS, 'plain')]);
  }));
