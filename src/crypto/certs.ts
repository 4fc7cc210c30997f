// X.509 certificates for webhook TLS and for the test control plane: a
// self-signed CA and certificates it issues. node-forge builds and signs the
// certificates (it can only sign with RSA, hence RSA 2048); the key pairs
// come from node:crypto, which is native and far faster than forge's own.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type Forge from 'node-forge';

// Loaded on first use: only a replica that issues certificates needs it, and
// loading it costs ~3 MiB of RSS at start (mounted certificates, or a
// restart that finds the shared Secret filled, never issue any).
let loaded: typeof Forge | undefined;
const forge = (): typeof Forge =>
  (loaded ??= createRequire(import.meta.url)('node-forge') as typeof Forge);

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthorityOptions {
  commonName: string;
  validityDays: number;
  /** The clock; defaults to the current time. */
  now?: Date;
}

export interface IssueOptions {
  commonName: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Subject organisations; Kubernetes reads them as the groups of a client certificate. */
  organizations?: readonly string[];
  validityDays: number;
  usage: 'server' | 'client';
  now?: Date;
}

// Certificates start a minute in the past so that a peer whose clock runs a
// little behind ours does not see them as not yet valid.
const CLOCK_SKEW_MS = 60_000;
const DAY_MS = 24 * 60 * 60 * 1000;
const RSA_BITS = 2048;

export function createCertificateAuthority(
  options: CertificateAuthorityOptions,
): CertificateAndKey {
  requireCommonName(options.commonName);
  const keys = newKeyPair();
  const cert = forge().pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  setValidity(cert, options.now ?? new Date(), options.validityDays);
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    // pathLen 0: this CA signs leaf certificates only, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge().md.sha256.create());
  return { certPem: forge().pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

export function issueCertificate(ca: CertificateAndKey, options: IssueOptions): CertificateAndKey {
  requireCommonName(options.commonName);
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0)
      throw new Error(`issueCertificate: ${JSON.stringify(ip)} is not an IP address`);
  }
  for (const name of dnsNames) {
    if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) {
      throw new Error(`issueCertificate: ${JSON.stringify(name)} is not a DNS name`);
    }
  }
  // TLS clients check the server's name against the SANs only (Go and
  // Node ignore the common name), so a server certificate without one is useless.
  if (options.usage === 'server' && dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new Error(
      'issueCertificate: a server certificate needs at least one DNS name or IP address',
    );
  }

  const caCert = forge().pki.certificateFromPem(ca.certPem);
  const caKey = forge().pki.privateKeyFromPem(ca.keyPem);
  const keys = newKeyPair();
  const cert = forge().pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  setValidity(cert, options.now ?? new Date(), options.validityDays);
  // A certificate cannot outlive the CA that vouches for it.
  if (cert.validity.notAfter > caCert.validity.notAfter) {
    cert.validity.notAfter = new Date(caCert.validity.notAfter.getTime());
  }
  cert.setSubject([
    ...(options.organizations ?? []).map((value) => ({ name: 'organizationName', value })),
    { name: 'commonName', value: options.commonName },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...dnsNames.map((value) => ({ type: 2, value })),
    ...ipAddresses.map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    // RSA key exchange in TLS 1.2 needs keyEncipherment; signatures need digitalSignature.
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    options.usage === 'server'
      ? { name: 'extKeyUsage', serverAuth: true }
      : { name: 'extKeyUsage', clientAuth: true },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId(caCert) },
  ]);
  cert.sign(caKey, forge().md.sha256.create());
  return { certPem: forge().pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

function requireCommonName(commonName: string): void {
  if (commonName.length === 0 || commonName.length > 64) {
    throw new Error('certificate common name must be 1 to 64 characters');
  }
}

function newKeyPair() {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey: forge().pki.publicKeyFromPem(pair.publicKey),
    privateKey: forge().pki.privateKeyFromPem(pair.privateKey),
    privateKeyPem: pair.privateKey,
  };
}

// 128 random bits (RFC 5280: positive, at most 20 octets). The first octet is
// kept in 0x40..0x7f so the DER INTEGER is positive and minimally encoded,
// which Go's parser insists on.
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function setValidity(cert: Forge.pki.Certificate, now: Date, validityDays: number): void {
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new Error('certificate validityDays must be a positive number');
  }
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now.getTime() + validityDays * DAY_MS);
}

// The issuer's own subject key identifier, so that verifiers can pick the
// right CA when several share a name (for example across a CA rotation).
function authorityKeyId(caCert: Forge.pki.Certificate): string {
  const ski = caCert.getExtension('subjectKeyIdentifier') as
    { subjectKeyIdentifier?: string } | undefined;
  if (ski?.subjectKeyIdentifier) return forge().util.hexToBytes(ski.subjectKeyIdentifier);
  return caCert.generateSubjectKeyIdentifier().getBytes();
}
