// The shared TLS Secret's layout: which data key holds what, the step-at
// annotation, and the decoding (with every check a replica relies on) and
// encoding of a rotation state.

import { X509Certificate } from 'node:crypto';
import type { NamespacedName } from '../resource/names.ts';
import type { SecretObject } from '../resource/secret.ts';
import { parseServingCertificate } from './certificate.ts';
import type { ServingCertificate } from './certificate.ts';
import type { SharedTlsState } from './rotation.ts';

/** When the current rotation step ends (publishing: switch; overlap: drop the old CA). */
export const STEP_AT_ANNOTATION = 'harikube.info/tls-rotation-step-at';

// Not app.kubernetes.io/managed-by=topology-webhook: that label marks the
// reconciler's target Secrets, and the reconciler would merge configs into
// (overwrite) any Secret carrying it.
const LABELS = {
  'app.kubernetes.io/name': 'topology-webhook',
  'app.kubernetes.io/component': 'webhook-tls',
};

/** Data keys. tls.crt/tls.key/ca.crt follow cert-manager's layout. */
const KEY = {
  cert: 'tls.crt',
  key: 'tls.key',
  ca: 'ca.crt',
  nextCert: 'next-tls.crt',
  nextKey: 'next-tls.key',
  nextCa: 'next-ca.crt',
  retiredCa: 'retired-ca.crt',
} as const;

export type TlsSecretObject = SecretObject;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

function parsePair(
  data: Record<string, string>,
  certKey: string,
  keyKey: string,
  caKey: string,
): ServingCertificate & { caPem: string } {
  const [certPem, keyPem, caPem] = [certKey, keyKey, caKey].map((k) =>
    data[k] === undefined ? undefined : unb64(data[k]),
  );
  const missing = [
    [certKey, certPem],
    [keyKey, keyPem],
    [caKey, caPem],
  ].filter(([, v]) => !v);
  if (missing.length > 0) throw new Error(`${missing.map(([k]) => k).join(', ')} missing`);
  let cert: ServingCertificate;
  try {
    cert = parseServingCertificate(certPem!, keyPem!, caPem);
  } catch (error) {
    throw new Error(`${certKey}: ${(error as Error).message}`, { cause: error });
  }
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(caPem!);
  } catch {
    throw new Error(`${caKey} is not a PEM X.509 certificate`);
  }
  if (!ca.ca || !new X509Certificate(certPem!).verify(ca.publicKey)) {
    throw new Error(`${certKey} is not signed by the CA in ${caKey}`);
  }
  return { ...cert, caPem: caPem! };
}

/**
 * Reads the state out of the Secret. Throws an Error that says what is wrong
 * and never contains key material.
 */
export function decodeTlsSecret(secret: TlsSecretObject): SharedTlsState {
  const data = secret.data ?? {};
  const serving = parsePair(data, KEY.cert, KEY.key, KEY.ca);
  const hasNext = data[KEY.nextCert] !== undefined;
  const hasRetired = data[KEY.retiredCa] !== undefined;
  if (hasNext && hasRetired) throw new Error(`both ${KEY.nextCert} and ${KEY.retiredCa} present`);
  if (!hasNext && !hasRetired) return { phase: 'stable', serving };
  const text = secret.metadata.annotations?.[STEP_AT_ANNOTATION];
  const stepAt = text === undefined ? NaN : Date.parse(text);
  if (!Number.isFinite(stepAt)) throw new Error(`annotation ${STEP_AT_ANNOTATION} missing or bad`);
  if (hasNext) {
    const next = parsePair(data, KEY.nextCert, KEY.nextKey, KEY.nextCa);
    return { phase: 'publishing', serving, next, stepAt: new Date(stepAt) };
  }
  const retiredCaPem = unb64(data[KEY.retiredCa]!);
  try {
    if (!new X509Certificate(retiredCaPem).ca) throw new Error('not a CA');
  } catch {
    throw new Error(`${KEY.retiredCa} is not a PEM X.509 CA certificate`);
  }
  return { phase: 'overlap', serving, retiredCaPem, stepAt: new Date(stepAt) };
}

/**
 * The Secret holding `state`. `base` (the Secret as read) keeps its metadata,
 * type and resourceVersion, so a replace is conditional on what was read.
 */
export function encodeTlsSecret(
  state: SharedTlsState,
  ref: NamespacedName,
  base?: TlsSecretObject,
): TlsSecretObject {
  const data: Record<string, string> = {
    [KEY.cert]: b64(state.serving.certPem),
    [KEY.key]: b64(state.serving.keyPem),
    [KEY.ca]: b64(state.serving.caPem),
  };
  if (state.next) {
    data[KEY.nextCert] = b64(state.next.certPem);
    data[KEY.nextKey] = b64(state.next.keyPem);
    data[KEY.nextCa] = b64(state.next.caPem);
  }
  if (state.retiredCaPem !== undefined) data[KEY.retiredCa] = b64(state.retiredCaPem);
  const annotations = { ...base?.metadata.annotations };
  delete annotations[STEP_AT_ANNOTATION];
  if (state.stepAt) annotations[STEP_AT_ANNOTATION] = state.stepAt.toISOString();
  return {
    ...base,
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...base?.metadata,
      name: ref.name,
      namespace: ref.namespace,
      labels: { ...base?.metadata.labels, ...LABELS },
      annotations,
    },
    // The type of an existing Secret cannot change; a new one is a TLS Secret.
    type: base?.type ?? 'kubernetes.io/tls',
    data,
  };
}
