// The rotation of the shared self-provisioned certificate as a pure state
// machine: what the Secret holds, and which step is due when. No I/O here;
// shared-secret-source.ts reads, writes and publishes.
//
// A rotation keeps every API server able to verify every replica throughout:
//  stable      serve A, bundle = CA(A)
//  publishing  serve A, bundle = CA(A) + CA(B), B waiting in the Secret
//  overlap     serve B, bundle = CA(A) + CA(B)   (replicas follow within a poll)
//  stable      serve B, bundle = CA(B)
// The switch to B happens only once a replica found the two-CA bundle already
// in both webhook configurations (injection wrote nothing) and that had been
// so for `propagationMs`; `overlapMs` is several poll intervals, so every
// replica serves B before CA(A) leaves the bundle.
//
// No CA private key is stored: every rotation makes a new CA, which is why the
// bundle needs two CAs during the switch.

import { X509Certificate } from 'node:crypto';
import type { ProvisionedCertificates, ServingCertificate } from './certificate.ts';

export type SharedPhase = 'stable' | 'publishing' | 'overlap';

export interface SharedTlsState {
  phase: SharedPhase;
  /** The pair every replica serves now; `caPem` is the CA that signed it. */
  serving: ServingCertificate & { caPem: string };
  /** publishing: the pair served after the switch. */
  next?: ServingCertificate & { caPem: string };
  /** overlap: the CA of the pair served before the switch. */
  retiredCaPem?: string;
  /** publishing and overlap: when the step ends. */
  stepAt?: Date;
}

/** The PEM bundle API servers must trust: one CA, or two during a rotation. */
export function caBundleOf(state: SharedTlsState): string {
  return [state.retiredCaPem, state.serving.caPem, state.next?.caPem]
    .filter((pem): pem is string => pem !== undefined)
    .join('');
}

// ---------------------------------------------------------------------------
export interface RotationTiming {
  /** Lifetime of each CA and serving certificate. */
  validityMs: number;
  /** Renew when this fraction of the lifetime is left (cert-manager's default: 1/3). */
  renewBeforeFraction: number;
  /** Time the two-CA bundle must have been in place before the new pair is served. */
  propagationMs: number;
  /** Time both CAs stay trusted after the switch; several poll intervals. */
  overlapMs: number;
  /** How often every replica re-reads the Secret. */
  pollMs: number;
}

const clamp = (value: number, min: number, max: number): number =>
  Math.min(max, Math.max(min, value));

/**
 * Timing for a validity: the production values (30 s propagation, 10 min
 * overlap, 30 s poll) for a long validity, scaled down for short ones (tests)
 * so that a whole rotation fits well inside the last third of a lifetime.
 */
export function rotationTiming(validityMs: number): RotationTiming {
  const pollMs = clamp(validityMs / 40, 250, 30_000);
  return {
    validityMs,
    renewBeforeFraction: 1 / 3,
    propagationMs: clamp(validityMs / 20, 500, 30_000),
    overlapMs: clamp(validityMs / 10, 4 * pollMs, 10 * 60_000),
    pollMs,
  };
}

/** When a stable pair is renewed. */
export function renewAt(cert: ServingCertificate, fraction: number): Date {
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  return new Date(cert.notAfter.getTime() - life * fraction);
}

export interface RequiredNames {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

/** The required names the certificate does not cover. */
export function uncoveredNames(cert: ServingCertificate, names: RequiredNames): string[] {
  const x509 = new X509Certificate(cert.certPem);
  return [
    ...names.dnsNames.filter((n) => x509.checkHost(n, { subject: 'never' }) === undefined),
    ...names.ipAddresses.filter((ip) => x509.checkIP(ip) === undefined),
  ];
}

/** The names in a certificate's subjectAltName. */
export function namesOf(cert: ServingCertificate): RequiredNames {
  const san = new X509Certificate(cert.certPem).subjectAltName ?? '';
  const entries = san
    .split(', ')
    .map((e) => e.trim())
    .filter(Boolean);
  return {
    dnsNames: entries.filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4)),
    ipAddresses: entries.filter((e) => e.startsWith('IP Address:')).map((e) => e.slice(11)),
  };
}

export type RotationStep =
  | { step: 'none'; wakeAt: Date }
  | { step: 'begin'; why: string }
  | { step: 'postpone' }
  | { step: 'switch' }
  | { step: 'finish' };

/**
 * The step a replica should write now. `bundleJustWritten`: publishing the
 * current bundle had to change a webhook configuration, so API servers may
 * not trust it yet.
 */
export function nextStep(
  state: SharedTlsState,
  now: Date,
  names: RequiredNames,
  timing: RotationTiming,
  bundleJustWritten: boolean,
): RotationStep {
  const t = now.getTime();
  if (state.phase === 'stable') {
    const missing = uncoveredNames(state.serving, names);
    if (missing.length > 0) return { step: 'begin', why: `does not cover ${missing.join(', ')}` };
    const at = renewAt(state.serving, timing.renewBeforeFraction);
    if (t >= at.getTime()) return { step: 'begin', why: 'renewal due' };
    return { step: 'none', wakeAt: at };
  }
  const stepAt = state.stepAt!;
  if (t < stepAt.getTime()) return { step: 'none', wakeAt: stepAt };
  if (state.phase === 'publishing')
    return bundleJustWritten ? { step: 'postpone' } : { step: 'switch' };
  return { step: 'finish' };
}

/** The state after `step` (a new pair, for 'begin', comes from `provision`). */
export function applyStep(
  state: SharedTlsState,
  step: Exclude<RotationStep, { step: 'none' }>,
  now: Date,
  timing: RotationTiming,
  provision: () => ProvisionedCertificates,
): SharedTlsState {
  const after = (ms: number) => new Date(now.getTime() + ms);
  switch (step.step) {
    case 'begin': {
      const made = provision();
      return {
        phase: 'publishing',
        serving: state.serving,
        next: { ...made.serving, caPem: made.ca.certPem },
        stepAt: after(timing.propagationMs),
      };
    }
    case 'postpone':
      return { ...state, stepAt: after(timing.propagationMs) };
    case 'switch':
      return {
        phase: 'overlap',
        serving: state.next!,
        retiredCaPem: state.serving.caPem,
        stepAt: after(timing.overlapMs),
      };
    case 'finish':
      return { phase: 'stable', serving: state.serving };
  }
}
