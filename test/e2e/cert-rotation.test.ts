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
import { mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import {
  createCertificateAuthority,
  issueCertificate,
  type CertificateAndKey,
} from '../../src/crypto/certs.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { freePort, registerWebhooks, startProduct, type Product } from '../harness/product.ts';
import { apply, configYaml, ensureNamespace, getJson, waitFor } from './support.ts';

let cp: ControlPlane;

before(async () => {
  cp = await startControlPlane();
});

after(async () => {
  await cp?.stop();
});

const WEBHOOK_KINDS = ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration'];

/** Sets caBundle of both webhook configurations, as a cert-manager CA injector would. */
async function setCaBundle(pem: string): Promise<void> {
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

async function caBundle(): Promise<string> {
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
function applyLoop(namespace: string, prefix: string) {
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
  let product: Product;
  let dir: string;
  const ca1 = createCertificateAuthority({ commonName: 'e2e-rotation-ca-1', validityDays: 2 });
  const ca2 = createCertificateAuthority({ commonName: 'e2e-rotation-ca-2', validityDays: 2 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-serving-certs-'));
    const first = leaf(ca1);
    await writeVolume(dir, {
      'tls.crt': first.certPem,
      'tls.key': first.keyPem,
      'ca.crt': ca1.certPem,
    });
    const port = await freePort();
    await registerWebhooks(cp, port);
    await setCaBundle(ca1.certPem);
    await ensureNamespace(cp, 'rotation-files');
    product = await startProduct(cp, {
      name: 'files',
      webhookPort: port,
      args: [`--webhook-cert-path=${dir}`],
    });
    await product.waitReady(60_000);
  });

  after(async () => {
    await product?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('rotates the serving certificate while kubectl apply keeps succeeding', async (t) => {
    const port = product.webhookPort;
    const loop = applyLoop('rotation-files', 'files');
    try {
      await appliesGoOn(loop, 3);
      const first = await servedFingerprint(port, ca1.certPem);

      // 1. A renewal from the same CA: caBundle stays as it is.
      const second = leaf(ca1);
      await writeVolume(dir, {
        'tls.crt': second.certPem,
        'tls.key': second.keyPem,
        'ca.crt': ca1.certPem,
      });
      const secondFp = fingerprintOf(second.certPem);
      assert.notEqual(secondFp, first);
      await waitFor(
        'new connections to see the renewed certificate',
        async () => (await servedFingerprint(port, ca1.certPem)) === secondFp,
      );
      await appliesGoOn(loop, 5);

      // 2. A new CA: publish old + new CA first, let the API server pick it up, then switch.
      await setCaBundle(ca1.certPem + ca2.certPem);
      // The API server reads webhook configurations through an informer: give it time.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await appliesGoOn(loop, 3);
      const third = leaf(ca2);
      await writeVolume(dir, {
        'tls.crt': third.certPem,
        'tls.key': third.keyPem,
        'ca.crt': ca2.certPem,
      });
      const thirdFp = fingerprintOf(third.certPem);
      await waitFor(
        'new connections to see the certificate of the new CA',
        async () => (await servedFingerprint(port, ca2.certPem)) === thirdFp,
      );
      await appliesGoOn(loop, 5);

      // 3. The old CA leaves the bundle.
      await setCaBundle(ca2.certPem);
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
  });
});

describe('self-provisioned certificate shared by two replicas', () => {
  const products: Product[] = [];

  before(async () => {
    const port = await freePort();
    await registerWebhooks(cp, port);
    await ensureNamespace(cp, 'rotation-shared');
    // Started together: they race to create the shared Secret.
    const args = ['--webhook-cert-validity=1m'];
    products.push(
      ...(await Promise.all([
        startProduct(cp, { name: 'replica-a', webhookPort: port, args }),
        startProduct(cp, { name: 'replica-b', args }),
      ])),
    );
    await Promise.all(products.map((p) => p.waitReady(60_000)));
  });

  after(async () => {
    await Promise.all(products.map((p) => p.stop()));
  });

  test('both serve one CA, and a rotation keeps kubectl apply succeeding', async (t) => {
    const [a, b] = products as [Product, Product];
    const secret = await getJson<{ data: Record<string, string> }>(cp, [
      'secret',
      '-n',
      'harikube-system',
      'topology-webhook-tls',
    ]);
    const bundle = await caBundle();
    assert.equal(bundle, Buffer.from(secret!.data['ca.crt']!, 'base64').toString('utf8'));
    const startFp = await servedFingerprint(a.webhookPort, bundle);
    assert.equal(await servedFingerprint(b.webhookPort, bundle), startFp);

    const loop = applyLoop('rotation-shared', 'shared');
    const seen = new Set<string>([startFp]);
    let samples = 0;
    try {
      // A one-minute certificate is renewed with 40 s left (~20 s after it was made);
      // the switch and the end of the two-CA window follow within ~10 s.
      const deadline = Date.now() + 75_000;
      while (Date.now() < deadline) {
        // Whatever each replica serves now is trusted by the published bundle.
        const current = await caBundle();
        const [fa, fb] = await Promise.all([
          servedFingerprint(a.webhookPort, current),
          servedFingerprint(b.webhookPort, current),
        ]);
        seen.add(fa).add(fb);
        samples++;
        if (seen.size >= 3 && fa === fb && loop.count() >= 20) break;
        await new Promise((resolve) => setTimeout(resolve, 300));
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
      servedFingerprint(a.webhookPort, await caBundle()),
      servedFingerprint(b.webhookPort, await caBundle()),
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
  });
});
