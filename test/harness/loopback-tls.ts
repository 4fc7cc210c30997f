// A throwaway CA and a serving certificate for a server on this machine's
// loopback (127.0.0.1 and localhost), for tests and benchmarks that stand up
// their own HTTPS servers. Short-lived: nothing outlives a run.
import {
  createCertificateAuthority,
  issueCertificate,
  type CertificateAndKey,
} from '../../src/crypto/certs.ts';

export interface LoopbackTls {
  /** The CA a client trusts (`ca.certPem`). */
  ca: CertificateAndKey;
  /** The server's certificate and key. */
  serving: CertificateAndKey;
}

export function loopbackTls(name: string, validityDays = 1): LoopbackTls {
  const ca = createCertificateAuthority({ commonName: `${name}-ca`, validityDays });
  const serving = issueCertificate(ca, {
    commonName: name,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays,
    usage: 'server',
  });
  return { ca, serving };
}
