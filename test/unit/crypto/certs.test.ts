import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import {
  createCertificateAuthority,
  issueCertificate,
  type CertificateAndKey,
} from '../../../src/crypto/certs.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const now = new Date();
const ca = createCertificateAuthority({ commonName: 'topology-test-ca', validityDays: 30, now });
// Same name, different key: only the signature tells the two CAs apart.
const otherCa = createCertificateAuthority({
  commonName: 'topology-test-ca',
  validityDays: 30,
  now,
});
const serverOptions = {
  commonName: 'topology-webhook',
  dnsNames: ['localhost', 'topology-webhook.harikube.svc'],
  ipAddresses: ['127.0.0.1', '::1'],
  validityDays: 7,
  usage: 'server',
  now,
} as const;
const server = issueCertificate(ca, serverOptions);
const serverOfOtherCa = issueCertificate(otherCa, serverOptions);
const client = issueCertificate(ca, {
  commonName: 'alice',
  organizations: ['team-a', 'system:masters'],
  validityDays: 7,
  usage: 'client',
  now,
});

// X509Certificate reports times with one-second resolution.
const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
const x509 = (pair: CertificateAndKey) => new X509Certificate(pair.certPem);
const forgeExtension = (pair: CertificateAndKey, name: string) =>
  forge.pki.certificateFromPem(pair.certPem).getExtension(name) as
    Record<string, unknown> | undefined;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

describe('createCertificateAuthority', () => {
  const cert = x509(ca);

  test('is a self-signed RSA 2048 CA', () => {
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, 'CN=topology-test-ca');
    assert.equal(cert.issuer, 'CN=topology-test-ca');
    assert.equal(cert.verify(cert.publicKey), true);
    assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  });

  test('may sign leaf certificates only', () => {
    const constraints = forgeExtension(ca, 'basicConstraints');
    assert.equal(constraints?.critical, true);
    assert.equal(constraints?.cA, true);
    assert.equal(constraints?.pathLenConstraint, 0);
    const usage = forgeExtension(ca, 'keyUsage');
    assert.equal(usage?.critical, true);
    assert.equal(usage?.keyCertSign, true);
    assert.equal(usage?.cRLSign, true);
  });

  test('is valid from a minute before now for validityDays', () => {
    assert.equal(unixSeconds(cert.validFromDate), unixSeconds(now) - 60);
    assert.equal(unixSeconds(cert.validToDate), unixSeconds(new Date(now.getTime() + 30 * DAY_MS)));
  });

  test('returns its private key as PKCS#8 PEM, matching the certificate', () => {
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(cert.checkPrivateKey(createPrivateKey(ca.keyPem)), true);
    assert.equal(cert.checkPrivateKey(createPrivateKey(otherCa.keyPem)), false);
  });

  test('rejects an empty common name and a non-positive validity', () => {
    assert.throws(
      () => createCertificateAuthority({ commonName: '', validityDays: 1 }),
      /common name/,
    );
    assert.throws(
      () => createCertificateAuthority({ commonName: 'x', validityDays: 0 }),
      /validityDays/,
    );
  });
});

describe('issueCertificate', () => {
  const cert = x509(server);

  test('server certificate carries the DNS and IP SANs', () => {
    assert.equal(
      cert.subjectAltName,
      'DNS:localhost, DNS:topology-webhook.harikube.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkHost('example.com'), undefined);
  });

  test('is signed by its CA and by no other', () => {
    assert.equal(cert.verify(x509(ca).publicKey), true);
    assert.equal(cert.verify(x509(otherCa).publicKey), false);
    assert.equal(cert.checkIssued(x509(ca)), true);
    assert.equal(cert.issuer, 'CN=topology-test-ca');
    assert.equal(cert.ca, false);
  });

  test('key usages fit a TLS server or a TLS client', () => {
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    assert.deepEqual(x509(client).keyUsage, [CLIENT_AUTH]);
    for (const pair of [server, client]) {
      const usage = forgeExtension(pair, 'keyUsage');
      assert.equal(usage?.critical, true);
      assert.equal(usage?.digitalSignature, true);
      assert.equal(usage?.keyEncipherment, true);
      assert.equal(usage?.keyCertSign, false);
      assert.equal(forgeExtension(pair, 'basicConstraints')?.cA, false);
    }
  });

  test('client certificate names its organisations (Kubernetes groups)', () => {
    assert.equal(x509(client).subject, 'O=team-a\nO=system:masters\nCN=alice');
    assert.equal(x509(client).subjectAltName, undefined);
  });

  test('names its CA by key identifier', () => {
    const caKeyId = forgeExtension(ca, 'subjectKeyIdentifier')?.subjectKeyIdentifier;
    assert.match(String(caKeyId), /^[0-9a-f]{40}$/);
    const authorityKeyId = forge.asn1.fromDer(
      String(forgeExtension(server, 'authorityKeyIdentifier')?.value),
    );
    const keyIdentifier = (authorityKeyId.value as forge.asn1.Asn1[])[0]?.value;
    assert.equal(forge.util.bytesToHex(String(keyIdentifier)), caKeyId);
  });

  test('is valid from a minute before now, and never beyond its CA', () => {
    assert.equal(unixSeconds(cert.validFromDate), unixSeconds(now) - 60);
    assert.equal(unixSeconds(cert.validToDate), unixSeconds(new Date(now.getTime() + 7 * DAY_MS)));
    const long = issueCertificate(ca, { ...serverOptions, validityDays: 365 });
    assert.equal(x509(long).validTo, x509(ca).validTo);
  });

  test('serial numbers are random, positive and 16 bytes long', () => {
    const serials = [server, serverOfOtherCa, client].map((pair) => x509(pair).serialNumber);
    assert.equal(new Set(serials).size, serials.length);
    for (const serial of serials) assert.match(serial, /^[4-7][0-9A-F]{31}$/);
  });

  test('rejects malformed names and a server certificate without SANs', () => {
    const base = { commonName: 'x', validityDays: 1, usage: 'server' } as const;
    assert.throws(
      () => issueCertificate(ca, { ...base, ipAddresses: ['127.0.0.300'] }),
      /not an IP/,
    );
    assert.throws(
      () => issueCertificate(ca, { ...base, dnsNames: ['bad name'] }),
      /not a DNS name/,
    );
    assert.throws(() => issueCertificate(ca, base), /at least one DNS name or IP/);
  });
});

interface Handshake {
  /** What the client read, or the code of the error it failed with. */
  client: { data: string } | { error: string | undefined };
  /** The client certificate's verdict as the server saw it (mutual TLS only). */
  server?: { authorized: boolean; error: string | undefined; peer: string | undefined };
}

// A real TLS connection over loopback: a server presenting `serverPair`,
// a client trusting only `trust`.
async function handshake(
  serverPair: CertificateAndKey,
  clientOptions: tls.ConnectionOptions,
  mutual = false,
): Promise<Handshake> {
  let serverSide: Handshake['server'];
  const tlsServer = tls.createServer(
    {
      cert: serverPair.certPem,
      key: serverPair.keyPem,
      minVersion: 'TLSv1.2',
      // The server records the verdict on the client certificate instead of
      // aborting, so that the test can read the reason.
      ...(mutual ? { ca: ca.certPem, requestCert: true, rejectUnauthorized: false } : {}),
    },
    (socket) => {
      const peer = socket.getPeerCertificate();
      if (mutual) {
        serverSide = {
          authorized: socket.authorized,
          error: socket.authorizationError?.toString(),
          peer: peer.subject?.CN?.toString(),
        };
      }
      socket.end('hello');
    },
  );
  tlsServer.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const { port } = tlsServer.address() as AddressInfo;
  try {
    const clientSide = await new Promise<Handshake['client']>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ...clientOptions });
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      socket.on('end', () => resolve({ data }));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        socket.destroy();
        resolve({ error: error.code });
      });
    });
    return { client: clientSide, ...(serverSide ? { server: serverSide } : {}) };
  } finally {
    tlsServer.close();
  }
}

describe('TLS handshake with the issued certificates', () => {
  test('succeeds by IP address and by DNS name when the client trusts only the CA', async () => {
    assert.deepEqual(await handshake(server, { ca: ca.certPem }), { client: { data: 'hello' } });
    assert.deepEqual(await handshake(server, { ca: ca.certPem, servername: 'localhost' }), {
      client: { data: 'hello' },
    });
  });

  test('fails for a certificate from another CA', async () => {
    assert.deepEqual(await handshake(serverOfOtherCa, { ca: ca.certPem }), {
      client: { error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    });
  });

  test('fails for a name that is not among the SANs', async () => {
    assert.deepEqual(await handshake(server, { ca: ca.certPem, servername: 'example.com' }), {
      client: { error: 'ERR_TLS_CERT_ALTNAME_INVALID' },
    });
  });

  test('fails when a client certificate is served', async () => {
    assert.deepEqual(await handshake(client, { ca: ca.certPem, servername: 'localhost' }), {
      client: { error: 'INVALID_PURPOSE' },
    });
  });

  test('mutual TLS accepts the client certificate and refuses a server one', async () => {
    const withClient = await handshake(
      server,
      { ca: ca.certPem, cert: client.certPem, key: client.keyPem },
      true,
    );
    assert.deepEqual(withClient.server, { authorized: true, error: undefined, peer: 'alice' });
    const withServerCert = await handshake(
      server,
      { ca: ca.certPem, cert: server.certPem, key: server.keyPem },
      true,
    );
    assert.deepEqual(withServerCert.server, {
      authorized: false,
      error: 'INVALID_PURPOSE',
      peer: 'topology-webhook',
    });
  });
});
