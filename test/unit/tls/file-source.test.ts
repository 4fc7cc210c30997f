import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, createServer as createTlsServer } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import pino from 'pino';
import { createCertificateAuthority, issueCertificate } from '../../../src/crypto/certs.ts';
import type { CertificateAndKey } from '../../../src/crypto/certs.ts';
import {
  applySecureContext,
  fingerprint,
  followCertificate,
  parseServingCertificate,
  secureContextOptions,
  selfProvision,
} from '../../../src/tls/certificate.ts';
import type { ServingCertificate } from '../../../src/tls/certificate.ts';
import { watchCertificateFiles } from '../../../src/tls/file-source.ts';
import type { CertificateWatcher } from '../../../src/tls/file-source.ts';
import { fakeClock, type FakeClock } from '../fake-clock.ts';

const ca = createCertificateAuthority({ commonName: 'h5-test-ca', validityDays: 30 });
const issue = (): CertificateAndKey =>
  issueCertificate(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: 30,
    usage: 'server',
  });
const pairA = issue();
const pairB = issue();
const pairC = issue();
const fp = (pair: CertificateAndKey): string => new X509Certificate(pair.certPem).fingerprint256;

/** Fingerprint of the certificate a new TLS connection is served. */
function peerFingerprint(port: number, extra: ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, ...extra }, () => {
      const value = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(value);
    });
    socket.on('error', reject);
  });
}

function listen(server: HttpsServer | ReturnType<typeof createTlsServer>): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function logCapture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/**
 * Waits for `check` on the watcher's fake clock: whenever a directory event
 * has armed the debounce (beside the poll, the one other timer), moves the
 * clock past it. The events come from the kernel, so between looks it
 * yields to I/O; the poll's `pollMs` of fake time is never reached.
 */
async function afterWatchEvents(
  clock: FakeClock,
  debounceMs: number,
  what: string,
  check: () => boolean,
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    if (clock.pending() > 1) await clock.advance(debounceMs);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(clock.elapsed() < 60_000, `${what} came from a directory event, not the poll`);
}

describe('parseServingCertificate', () => {
  test('accepts a matching pair and reports its validity', () => {
    const cert = parseServingCertificate(pairA.certPem, pairA.keyPem, ca.certPem);
    const x509 = new X509Certificate(pairA.certPem);
    assert.equal(cert.notAfter.getTime(), x509.validToDate.getTime());
    assert.equal(cert.notBefore.getTime(), x509.validFromDate.getTime());
    assert.equal(cert.caPem, ca.certPem);
    assert.equal(fingerprint(cert), fp(pairA));
  });

  const cases: [string, string, string, string][] = [
    ['mismatched key', pairA.certPem, pairB.keyPem, 'certificate and private key do not match'],
    [
      'garbage certificate',
      'not a cert',
      pairA.keyPem,
      'certificate is not a PEM X.509 certificate',
    ],
    ['garbage key', pairA.certPem, 'not a key', 'private key is not a PEM private key'],
    ['empty key', pairA.certPem, '', 'private key is not a PEM private key'],
  ];
  for (const [name, certPem, keyPem, message] of cases) {
    test(`rejects ${name} without echoing key material`, () => {
      assert.throws(
        () => parseServingCertificate(certPem, keyPem),
        (err: Error) => {
          assert.equal(err.message, message);
          assert.ok(!err.message.includes('PRIVATE KEY'));
          return true;
        },
      );
    });
  }
});

describe('TLS version', () => {
  // A client that can speak TLS 1.1 at most (OpenSSL's security level 0 re-enables it).
  const tls11Client: ConnectionOptions = {
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1.1',
    ciphers: 'DEFAULT@SECLEVEL=0',
  };

  test('the TLS 1.1 client works against a server that allows TLS 1.1 (the control)', async () => {
    const server = createTlsServer({
      cert: pairA.certPem,
      key: pairA.keyPem,
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    const port = await listen(server);
    try {
      assert.equal(await peerFingerprint(port, tls11Client), fp(pairA));
    } finally {
      server.close();
    }
  });

  test('a server made with secureContextOptions refuses a TLS 1.1 client, also after applySecureContext', async () => {
    const cert = parseServingCertificate(pairA.certPem, pairA.keyPem);
    const server = createHttpsServer(secureContextOptions(cert));
    const port = await listen(server);
    try {
      await assert.rejects(peerFingerprint(port, tls11Client), {
        code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
      });
      applySecureContext(server, parseServingCertificate(pairB.certPem, pairB.keyPem));
      await assert.rejects(peerFingerprint(port, tls11Client), {
        code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
      });
      assert.equal(await peerFingerprint(port, { maxVersion: 'TLSv1.2' }), fp(pairB));
      assert.equal(await peerFingerprint(port, { minVersion: 'TLSv1.3' }), fp(pairB));
    } finally {
      server.close();
    }
  });
});

test('followCertificate: each new connection gets the certificate current at that moment', async () => {
  let current: ServingCertificate = parseServingCertificate(pairA.certPem, pairA.keyPem);
  const server = createTlsServer(secureContextOptions(current));
  followCertificate(server, () => current);
  const port = await listen(server);
  try {
    assert.equal(await peerFingerprint(port), fp(pairA));
    current = parseServingCertificate(pairB.certPem, pairB.keyPem);
    assert.equal(await peerFingerprint(port), fp(pairB));
    assert.equal(await peerFingerprint(port), fp(pairB));
  } finally {
    server.close();
  }
});

describe('watchCertificateFiles with a real HTTPS server', () => {
  let dir: string;
  let watcher: CertificateWatcher;
  let server: HttpsServer;
  let port: number;
  const changes: ServingCertificate[] = [];
  const log = logCapture();
  const clock = fakeClock(Date.now());
  const reloaded = (what: string, check: () => boolean) => afterWatchEvents(clock, 50, what, check);

  const writePair = (target: string, pair: CertificateAndKey): void => {
    writeFileSync(join(target, 'tls.crt'), pair.certPem);
    writeFileSync(join(target, 'tls.key'), pair.keyPem);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'h5-tls-'));
    writePair(dir, pairA);
    watcher = watchCertificateFiles(dir, 'tls.crt', 'tls.key', {
      logger: log.logger,
      pollMs: 60_000,
      debounceMs: 50,
      clock,
      onChange: (cert) => {
        changes.push(cert);
        applySecureContext(server, cert);
      },
    });
    server = createHttpsServer(secureContextOptions(watcher.current()), (_req, res) => {
      res.end('hello');
    });
    port = await listen(server);
  });
  after(() => {
    watcher.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serves the initial pair over HTTPS', async () => {
    assert.equal(fingerprint(watcher.current()), fp(pairA));
    assert.equal(await peerFingerprint(port), fp(pairA));
    const res = await new Promise<string>((resolve, reject) => {
      import('node:https').then(({ get }) =>
        get({ host: '127.0.0.1', port, path: '/', ca: ca.certPem }, (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => resolve(body));
        }).on('error', reject),
      );
    });
    assert.equal(res, 'hello');
  });

  test('rewritten files are served to new connections without a restart', async () => {
    const before = changes.length;
    writePair(dir, pairB);
    await reloaded('the reload', () => changes.length > before);
    assert.equal(fingerprint(watcher.current()), fp(pairB));
    assert.equal(await peerFingerprint(port), fp(pairB));
  });

  test('a broken new pair is rejected, logged once, and the old one kept', async () => {
    const errorsBefore = log.lines.filter((l) => l.level === 50).length;
    const changesBefore = changes.length;
    // New certificate with the old key: they do not match.
    writeFileSync(join(dir, 'tls.crt'), pairC.certPem);
    await reloaded(
      'the rejection',
      () => log.lines.filter((l) => l.level === 50).length > errorsBefore,
    );
    const rejection = log.lines.filter((l) => l.level === 50).at(-1)!;
    assert.equal(rejection.reason, 'certificate and private key do not match');
    assert.equal(rejection.msg, 'new serving certificate rejected; keeping the current one');
    assert.ok(!JSON.stringify(log.lines).includes('PRIVATE KEY'));
    assert.equal(watcher.reload(), false);
    assert.equal(log.lines.filter((l) => l.level === 50).length, errorsBefore + 1);
    assert.equal(changes.length, changesBefore);
    assert.equal(fingerprint(watcher.current()), fp(pairB));
    assert.equal(await peerFingerprint(port), fp(pairB));
    // Completing the pair fixes it.
    writeFileSync(join(dir, 'tls.key'), pairC.keyPem);
    await reloaded('the reload', () => changes.length > changesBefore);
    assert.equal(await peerFingerprint(port), fp(pairC));
  });
});

describe('watchCertificateFiles with a Kubernetes Secret volume layout', () => {
  // What the kubelet's atomic writer does: files are symlinks through `..data`,
  // which is swapped in one rename to a new timestamped directory.
  let dir: string;
  let generation = 0;
  const publish = (pair: CertificateAndKey, extra: Record<string, string> = {}): void => {
    const versioned = `..2025_01_01_00_00_0${generation++}`;
    mkdirSync(join(dir, versioned));
    writeFileSync(join(dir, versioned, 'tls.crt'), pair.certPem);
    writeFileSync(join(dir, versioned, 'tls.key'), pair.keyPem);
    for (const [name, content] of Object.entries(extra))
      writeFileSync(join(dir, versioned, name), content);
    symlinkSync(versioned, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'h5-tls-volume-'));
    publish(pairA, { 'ca.crt': ca.certPem });
    for (const name of ['tls.crt', 'tls.key', 'ca.crt'])
      symlinkSync(join('..data', name), join(dir, name));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a ..data symlink swap is picked up by the directory watch', async () => {
    const changes: ServingCertificate[] = [];
    let server: HttpsServer | undefined;
    const clock = fakeClock(Date.now());
    const watcher = watchCertificateFiles(dir, 'tls.crt', 'tls.key', {
      logger: pino({ level: 'silent' }),
      pollMs: 60_000,
      debounceMs: 50,
      clock,
      onChange: (cert) => {
        changes.push(cert);
        if (server) applySecureContext(server, cert);
      },
    });
    try {
      assert.equal(watcher.current().caPem, ca.certPem);
      server = createHttpsServer(secureContextOptions(watcher.current()));
      const port = await listen(server);
      assert.equal(await peerFingerprint(port), fp(pairA));
      const old = generation - 1;
      publish(pairB, { 'ca.crt': ca.certPem });
      rmSync(join(dir, `..2025_01_01_00_00_0${old}`), { recursive: true });
      await afterWatchEvents(clock, 50, 'the reload', () => changes.length === 1);
      assert.equal(await peerFingerprint(port), fp(pairB));
    } finally {
      watcher.stop();
      server?.close();
    }
  });

  test('the periodic poll catches a change when no watch event arrives in time', async () => {
    const changes: ServingCertificate[] = [];
    // Watch events are debounced for a minute here, so only the 50 ms poll can see the change.
    const clock = fakeClock(Date.now());
    const watcher = watchCertificateFiles(dir, 'tls.crt', 'tls.key', {
      logger: pino({ level: 'silent' }),
      pollMs: 50,
      debounceMs: 60_000,
      clock,
      onChange: (cert) => changes.push(cert),
    });
    try {
      assert.equal(fingerprint(watcher.current()), fp(pairB));
      publish(pairC);
      await clock.advance(49);
      assert.equal(changes.length, 0, 'not before the poll is due');
      await clock.advance(1);
      assert.equal(changes.length, 1, 'the poll');
      assert.equal(fingerprint(watcher.current()), fp(pairC));
      assert.equal(watcher.current().caPem, undefined);
      // And the poll goes on.
      publish(pairA);
      await clock.advance(49);
      assert.equal(changes.length, 1);
      await clock.advance(1);
      assert.equal(fingerprint(watcher.current()), fp(pairA), 'the next poll');
    } finally {
      watcher.stop();
    }
  });
});

test('a new pair already expired by the clock is still loaded, with a warning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'h5-tls-expired-'));
  const pairs = [pairB, pairC];
  try {
    writeFileSync(join(dir, 'tls.crt'), pairA.certPem);
    writeFileSync(join(dir, 'tls.key'), pairA.keyPem);
    // Today, and 31 days on (the pairs are valid for 30).
    for (const start of [Date.now(), Date.now() + 31 * 86_400_000]) {
      const clock = fakeClock(start);
      const log = logCapture();
      const watcher = watchCertificateFiles(dir, 'tls.crt', 'tls.key', {
        logger: log.logger,
        pollMs: 50,
        debounceMs: 60_000,
        clock,
      });
      try {
        const pair = pairs.shift()!;
        writeFileSync(join(dir, 'tls.crt'), pair.certPem);
        writeFileSync(join(dir, 'tls.key'), pair.keyPem);
        await clock.advance(50);
        assert.equal(fingerprint(watcher.current()), fp(pair));
        const warned = log.lines.some((l) => l.msg === 'new serving certificate has expired');
        assert.equal(warned, start > Date.now(), `warned at ${new Date(start).toISOString()}`);
      } finally {
        watcher.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('watchCertificateFiles start-up', () => {
  test('fails fast on a missing or broken pair', () => {
    const dir = mkdtempSync(join(tmpdir(), 'h5-tls-bad-'));
    try {
      const opts = { logger: pino({ level: 'silent' }) };
      assert.throws(() => watchCertificateFiles(dir, 'tls.crt', 'tls.key', opts), {
        message: `cannot read the serving certificate in ${dir}: ENOENT`,
      });
      writeFileSync(join(dir, 'tls.crt'), pairA.certPem);
      writeFileSync(join(dir, 'tls.key'), pairB.keyPem);
      assert.throws(() => watchCertificateFiles(dir, 'tls.crt', 'tls.key', opts), {
        message: `serving certificate in ${dir}: certificate and private key do not match`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('selfProvision: a serving certificate for the names, signed by a new CA', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const { ca: newCa, serving } = selfProvision({
    dnsNames: ['topology-webhook.harikube-system.svc'],
    ipAddresses: ['127.0.0.1'],
    now,
    validityDays: 90,
  });
  const leaf = new X509Certificate(serving.certPem);
  const caCert = new X509Certificate(newCa.certPem);
  assert.equal(serving.caPem, newCa.certPem);
  assert.ok(leaf.verify(caCert.publicKey));
  assert.ok(leaf.checkIssued(caCert));
  assert.equal(caCert.ca, true);
  assert.equal(
    leaf.subjectAltName,
    'DNS:topology-webhook.harikube-system.svc, IP Address:127.0.0.1',
  );
  assert.equal(serving.notAfter.getTime(), now.getTime() + 90 * 86_400_000);
  assert.ok(serving.notBefore.getTime() <= now.getTime());
});
