// A serving certificate as the TLS stack takes it: parsed and checked once,
// handed to servers as a secure context. Servers pick a new certificate up
// through setSecureContext, so connections opened after a change see it and
// open connections are left alone. Where certificates come from is a
// CertificateSource (source.ts): files, or one Secret shared by the replicas.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import { createCertificateAuthority, issueCertificate } from '../crypto/certs.ts';
import type { CertificateAndKey } from '../crypto/certs.ts';

export interface ServingCertificate {
  /** Leaf first, then any intermediates. */
  certPem: string;
  keyPem: string;
  /** The CA that signed it, when known (self-provisioned, or cert-manager's ca.crt). */
  caPem?: string;
  notBefore: Date;
  notAfter: Date;
}

export const MIN_TLS_VERSION = 'TLSv1.2';

/** Options for tls/https.createServer and setSecureContext. */
export function secureContextOptions(cert: ServingCertificate): SecureContextOptions {
  return { cert: cert.certPem, key: cert.keyPem, minVersion: MIN_TLS_VERSION };
}

/** New TLS connections to `server` use `cert` from now on. */
export function applySecureContext(server: TlsServer, cert: ServingCertificate): void {
  server.setSecureContext(secureContextOptions(cert));
}

/**
 * Keeps `server` on whatever `current()` returns, checked as each connection
 * arrives (before its handshake), so a server needs no change notification.
 */
export function followCertificate(server: TlsServer, current: () => ServingCertificate): void {
  let applied: ServingCertificate | undefined;
  // Prepended: node's own listener starts the handshake with the context set at that moment.
  server.prependListener('connection', () => {
    const cert = current();
    if (cert !== applied) {
      applySecureContext(server, cert);
      applied = cert;
    }
  });
}

/**
 * Checks a certificate and key the way the TLS stack will use them and
 * returns them with their validity. Throws an Error whose message never
 * contains key material.
 */
export function parseServingCertificate(
  certPem: string,
  keyPem: string,
  caPem?: string,
): ServingCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch {
    throw new Error('certificate is not a PEM X.509 certificate');
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new Error('private key is not a PEM private key');
  }
  if (!x509.checkPrivateKey(key)) throw new Error('certificate and private key do not match');
  try {
    createSecureContext(
      secureContextOptions({
        certPem,
        keyPem,
        notBefore: x509.validFromDate,
        notAfter: x509.validToDate,
      }),
    );
  } catch (err) {
    throw new Error(
      `TLS rejects the certificate: ${(err as { code?: string }).code ?? 'unknown error'}`,
      { cause: err },
    );
  }
  return {
    certPem,
    keyPem,
    ...(caPem !== undefined ? { caPem } : {}),
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
  };
}

/** SHA-256 fingerprint of the leaf certificate, for logs (a certificate is public). */
export function fingerprint(cert: Pick<ServingCertificate, 'certPem'>): string {
  return new X509Certificate(cert.certPem).fingerprint256;
}

// ---------------------------------------------------------------------------
// Self-provisioned certificates

export interface SelfProvisionOptions {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  now: Date;
  validityDays?: number;
}

export interface ProvisionedCertificates {
  ca: CertificateAndKey;
  serving: ServingCertificate;
}

/** A fresh CA and a serving certificate it signed, both valid for `validityDays`. */
export function selfProvision(options: SelfProvisionOptions): ProvisionedCertificates {
  const validityDays = options.validityDays ?? 365;
  // A distinct name per CA keeps two CAs in one caBundle tellable apart.
  const ca = createCertificateAuthority({
    commonName: `topology-webhook-ca-${Math.floor(options.now.getTime() / 1000)}`,
    validityDays,
    now: options.now,
  });
  const leaf = issueCertificate(ca, {
    commonName: options.dnsNames[0] ?? options.ipAddresses[0] ?? 'topology-webhook',
    dnsNames: options.dnsNames,
    ipAddresses: options.ipAddresses,
    validityDays,
    usage: 'server',
    now: options.now,
  });
  return { ca, serving: parseServingCertificate(leaf.certPem, leaf.keyPem, ca.certPem) };
}
