// End-to-end: the webhook's serving certificate changes under a stream of
// `kubectl apply` (each one calls the webhook through a real kube-apiserver),
// and no apply fails.
//  - From files (cert-manager's way): the directory is updated the way the
//    kubelet updates a Secret volume (a new timestamped directory, then an
//    atomic swap of the `..data` symlink); first a certificate from the same
//    CA, then, after old+new CA are published in caBundle, one from a new CA.
//  - Self-provisioned: two replicas share one CA through the Secret, with a
//    one-minute validity so that they rotate it (two-CA window) during the test.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import {
  createCertificateAuthority,
  issueCertificate,
  type CertificateAndKey,
} from '../../src/crypto/certs.ts';
import type { ControlPlane } from '../harness/controlplane.ts';
import type { Product } from '../harness/product.ts';
import { apply, configYaml, getJson, sleep, useEnv, waitFor, withLogs } from './support.ts';

const WEBHOOK_KINDS = ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration'];

/** Sets caBundle of both webhook configurations, as a cert-manager CA injector would. */
async function setCaBundle(cp: ControlPlane, pem: string): Promise<void> {
  const patch = JSON.stringify([
    {
      op: 'add',
      path: '/webhooks/0/clientConfig/caBundle',
      value: Buffer.from(pem).toString('base64'),
    },
  ]);
  for (const kind of WEBHOOK_KINDS) {
    const result = await cp.kubectl([
      'patch',
      kind,
      'topology-webhook',
      '--type=json',
      '-p',
      patch,
    ]);
    assert.equal(result.code, 0, result.stderr);
  }
}

async function caBundle(cp: ControlPlane): Promise<string> {
  const config = await getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(cp, [
    'validatingwebhookconfiguration',
    'topology-webhook',
  ]);
  return Buffer.from(config?.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString('utf8');
}

/** The fingerprint a NEW TLS connection sees, verified against `ca` (127.0.0.1 must be a SAN). */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, timeout: 5_000 }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS connect timed out')));
    socket.on('error', reject);
  });
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

/** kubectl apply of new configs, one after the other, until stopped; every result is kept. */
function applyLoop(cp: ControlPlane, namespace: string, prefix: string) {
  const results: { i: number; code: number; stderr: string }[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 1; !stopped; i++) {
      const result = await apply(
        cp,
        configYaml({
          name: `${prefix}-${i}`,
          namespace,
          // No position: the mutating webhook appends each one at the bottom.
          backends: [
            { name: `${prefix}-${i}`, endpoint: `postgres://${prefix}-${i}.db:5432/kine` },
          ],
        }),
      );
      results.push({ i, code: result.code, stderr: result.stderr });
    }
  })();
  return {
    results,
    count: () => results.length,
    stop: async () => {
      stopped = true;
      await done;
      return results;
    },
  };
}

/** Waits until `n` more applies have finished (so each phase is exercised under load). */
async function appliesGoOn(loop: ReturnType<typeof applyLoop>, n: number): Promise<void> {
  const target = loop.count() + n;
  await waitFor(`${n} more applies`, async () => loop.count() >= target, 60_000);
}

// The kubelet's atomic update of a Secret volume.
let generation = 0;
async function writeVolume(dir: string, files: Record<string, string>): Promise<void> {
  const data = join(dir, `..gen_${++generation}`);
  await mkdir(data);
  for (const [name, content] of Object.entries(files)) await writeFile(join(data, name), content);
  await symlink(`..gen_${generation}`, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    await symlink(join('..data', name), join(dir, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..gen_') && entry !== `..gen_${generation}`)
      await rm(join(dir, entry), { recursive: true });
  }
}

/** Serves `cert` (with its CA) from the volume `dir`. */
const serve = (dir: string, cert: CertificateAndKey, ca: CertificateAndKey) =>
  writeVolume(dir, { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem, 'ca.crt': ca.certPem });

function leaf(ca: CertificateAndKey): CertificateAndKey {
  return issueCertificate(ca, {
    commonName: 'topology-webhook',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
    usage: 'server',
  });
}

describe('serving certificate from files', () => {
  let dir: string;
  const ca1 = createCertificateAuthority({ commonName: 'e2e-rotation-ca-1', validityDays: 2 });
  const ca2 = createCertificateAuthority({ commonName: 'e2e-rotation-ca-2', validityDays: 2 });
  const env = useEnv({
    namespaces: ['rotation-files'],
    products: async (cp) => {
      // In the control plane's directory: removed with it.
      dir = join(cp.dir, 'serving-certs');
      await mkdir(dir);
      await serve(dir, leaf(ca1), ca1);
      await setCaBundle(cp, ca1.certPem);
      return [{ name: 'files', args: [`--webhook-cert-path=${dir}`] }];
    },
  });

  test('rotates the serving certificate while kubectl apply keeps succeeding', (t) =>
    withLogs(env, async ({ cp, product }) => {
      const port = product.webhookPort;
      const loop = applyLoop(cp, 'rotation-files', 'files');
      try {
        await appliesGoOn(loop, 3);
        const first = await servedFingerprint(port, ca1.certPem);

        // 1. A renewal from the same CA: caBundle stays as it is.
        const second = leaf(ca1);
        await serve(dir, second, ca1);
        const secondFp = fingerprintOf(second.certPem);
        assert.notEqual(secondFp, first);
        await waitFor(
          'new connections to see the renewed certificate',
          async () => (await servedFingerprint(port, ca1.certPem)) === secondFp,
        );
        await appliesGoOn(loop, 5);

        // 2. A new CA: publish old + new CA first, let the API server pick it up, then switch.
        await setCaBundle(cp, ca1.certPem + ca2.certPem);
        // The API server reads webhook configurations through an informer: give it time.
        await sleep(2_000);
        await appliesGoOn(loop, 3);
        const third = leaf(ca2);
        await serve(dir, third, ca2);
        const thirdFp = fingerprintOf(third.certPem);
        await waitFor(
          'new connections to see the certificate of the new CA',
          async () => (await servedFingerprint(port, ca2.certPem)) === thirdFp,
        );
        await appliesGoOn(loop, 5);

        // 3. The old CA leaves the bundle.
        await setCaBundle(cp, ca2.certPem);
        await appliesGoOn(loop, 5);
        await assert.rejects(
          servedFingerprint(port, ca1.certPem),
          'the old CA no longer verifies it',
        );
      } finally {
        await loop.stop();
      }
      const failed = loop.results.filter((r) => r.code !== 0);
      assert.deepEqual(failed, [], 'every apply succeeded');
      assert.ok(loop.results.length >= 20, `${loop.results.length} applies`);
      t.diagnostic(`${loop.results.length} applies, all admitted`);
      const reloads = product.logs().filter((l) => l.msg === 'serving certificate reloaded');
      assert.equal(reloads.length, 2);
    }));
});

describe('self-provisioned certificate shared by two replicas', () => {
  // Started together: they race to create the shared Secret.
  const env = useEnv({
    namespaces: ['rotation-shared'],
    productArgs: ['--webhook-cert-validity=1m'],
    products: [{ name: 'replica-a' }, { name: 'replica-b' }],
  });

  test('both serve one CA, and a rotation keeps kubectl apply succeeding', (t) =>
    withLogs(env, async ({ cp, products }) => {
      const [a, b] = products as [Product, Product];
      const secret = await getJson<{ data: Record<string, string> }>(cp, [
        'secret',
        '-n',
        'harikube-system',
        'topology-webhook-tls',
      ]);
      const bundle = await caBundle(cp);
      assert.equal(bundle, Buffer.from(secret!.data['ca.crt']!, 'base64').toString('utf8'));
      const startFp = await servedFingerprint(a.webhookPort, bundle);
      assert.equal(await servedFingerprint(b.webhookPort, bundle), startFp);

      const loop = applyLoop(cp, 'rotation-shared', 'shared');
      const seen = new Set<string>([startFp]);
      let samples = 0;
      try {
        // A one-minute certificate is renewed with 40 s left (~20 s after it was made);
        // the switch and the end of the two-CA window follow within ~10 s.
        const deadline = Date.now() + 75_000;
        while (Date.now() < deadline) {
          // Whatever each replica serves now is trusted by the published bundle.
          const current = await caBundle(cp);
          const [fa, fb] = await Promise.all([
            servedFingerprint(a.webhookPort, current),
            servedFingerprint(b.webhookPort, current),
          ]);
          seen.add(fa).add(fb);
          samples++;
          if (seen.size >= 3 && fa === fb && loop.count() >= 20) break;
          await sleep(300);
        }
      } finally {
        await loop.stop();
      }
      const failed = loop.results.filter((r) => r.code !== 0);
      assert.deepEqual(failed, [], 'every apply succeeded');
      assert.ok(loop.results.length >= 20, `${loop.results.length} applies`);
      assert.ok(
        seen.size >= 3,
        `rotated at least twice (${seen.size} certificates in ${samples} samples)`,
      );
      const [fa, fb] = await Promise.all([
        servedFingerprint(a.webhookPort, await caBundle(cp)),
        servedFingerprint(b.webhookPort, await caBundle(cp)),
      ]);
      assert.equal(fa, fb, 'the replicas serve the same certificate');
      // Each step was written by one replica only: a step name appears once per rotation.
      const steps = products.flatMap((p) =>
        p
          .logs()
          .filter((l) => l.msg === 'shared TLS Secret updated')
          .map((l) => `${String(l.step)}`),
      );
      const count = (s: string) => steps.filter((x) => x === s).length;
      t.diagnostic(
        `${loop.results.length} applies, ${samples} samples, ${seen.size} certificates, steps written: ${steps.join(',')}`,
      );
      assert.ok(count('begin') >= 2, steps.join(','));
      assert.ok(count('switch') >= 2 && count('switch') <= count('begin'), steps.join(','));
    }));
});
