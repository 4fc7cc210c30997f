// Where the serving certificate comes from. Two implementations:
//  - file-source.ts: files (cert-manager, or by hand), re-read on change;
//  - shared-secret-source.ts: a self-provisioned CA and pair that every
//    replica shares through one Secret, rotated before expiry.
// Servers ask `current()` as each connection arrives (followCertificate), so a
// source needs no way to notify them.

import type { ServingCertificate } from './certificate.ts';

export interface CertificateSource {
  /** The pair to serve now; the same object until the pair changes. */
  current(): ServingCertificate;
  stop(): void;
}
