// Self-provisioned webhook TLS shared by every replica through ONE Secret.
//
// Each replica making its own CA does not work with two replicas: each
// injects its own CA as caBundle, the last one wins, and the API server then
// rejects the other replica's certificate. So the CA and the serving pair live
// in one Secret (`<webhook-config-name>-tls` in the pod's namespace):
//  - at start a replica reads it, or creates it (the loser of a create race
//    reads the winner's), serves its pair and injects its CA;
//  - every replica re-reads it every poll interval and follows changes, and
//    re-injects the bundle it just read (a no-op when already there);
//  - rotation steps are written to the Secret with its resourceVersion, so of
//    the replicas that find a step due at the same moment exactly one wins;
//    the others get a 409, re-read and follow. No leader election needed.
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
import type { Logger } from 'pino';
import { ApiError, isAlreadyExists, isConflict, isNotFound, paths } from '../kube/rest.ts';
import type { RestClient } from '../kube/rest.ts';
import { describe } from '../kube/informer.ts';
import { formatNamespacedName, type NamespacedName } from '../resource/names.ts';
import { fingerprint, parseServingCertificate, selfProvision } from './tls.ts';
import type {
  ProvisionedCertificates,
  SelfProvisionOptions,
  ServingCertificate,
  Timers,
} from './tls.ts';

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

export interface TlsSecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  type?: string;
  /** Base64 values, as on the wire. */
  data?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * The one Secret, as the API server keeps it. Errors carry the HTTP status
 * (ApiError): 409 AlreadyExists from create, 409 Conflict from a replace
 * whose resourceVersion is stale.
 */
export interface TlsSecretStore {
  /** undefined when the Secret does not exist. */
  get(): Promise<TlsSecretObject | undefined>;
  create(secret: TlsSecretObject): Promise<TlsSecretObject>;
  /** Succeeds only if `secret.metadata.resourceVersion` is still the current one. */
  replace(secret: TlsSecretObject): Promise<TlsSecretObject>;
}

export function restTlsSecretStore(rest: RestClient, ref: NamespacedName): TlsSecretStore {
  return {
    get: async () => {
      try {
        return await rest.get<TlsSecretObject>(paths.secret(ref.namespace, ref.name));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    create: (secret) => rest.create<TlsSecretObject>(paths.secrets(ref.namespace), secret),
    replace: (secret) =>
      rest.replace<TlsSecretObject>(paths.secret(ref.namespace, ref.name), secret),
  };
}

// ---------------------------------------------------------------------------
// The state kept in the Secret

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

// ---------------------------------------------------------------------------
// When to do what (pure)

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

// ---------------------------------------------------------------------------
// The replica's side

export interface SharedCertificateOptions {
  store: TlsSecretStore;
  /** The Secret (for metadata, logs and error messages). */
  ref: NamespacedName;
  /** Names this replica must be reachable at. */
  names: RequiredNames;
  /**
   * Makes `caBundlePem` the caBundle of the webhook configurations; resolves
   * to true if that changed anything (injectCaBundle writes nothing otherwise).
   */
  publish(caBundlePem: string): Promise<boolean>;
  logger: Logger;
  timing?: Partial<RotationTiming>;
  onServingChange?: (cert: ServingCertificate) => void;
  clock?: () => Date;
  timers?: Timers;
  /** Makes a CA and serving certificate; defaults to selfProvision. */
  provision?: (options: SelfProvisionOptions) => ProvisionedCertificates;
  /** Delay between start-up attempts after an API error. */
  retryMs?: number;
}

export interface SharedCertificate {
  current(): ServingCertificate;
  /** The bundle of the state this replica follows. */
  caBundle(): string;
  phase(): SharedPhase;
  /** Reads the Secret, follows it, publishes its bundle and writes a due rotation step. */
  sync(): Promise<void>;
  stop(): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const statusOf = (error: unknown): number | undefined =>
  error instanceof ApiError
    ? error.status
    : typeof (error as { code?: unknown } | null)?.code === 'number'
      ? (error as { code: number }).code
      : undefined;

/** 401/403 will not heal by retrying: the RBAC or the credentials are wrong. */
const isDenied = (error: unknown): boolean => {
  const status = statusOf(error);
  return status === 401 || status === 403;
};

/** The API server refused this replica access to the Secret or the webhook configurations. */
export class AccessDeniedError extends Error {
  readonly status: number;
  constructor(what: string, status: number, options?: ErrorOptions) {
    super(
      `self-provisioned TLS: access to ${what} denied (HTTP ${status}); the ServiceAccount needs get, create and update on the shared TLS Secret and get and update on the webhook configurations (see deploy/rbac)`,
      options,
    );
    this.name = 'AccessDeniedError';
    this.status = status;
  }
}

/**
 * Starts following the shared Secret; resolves once this replica has a
 * certificate to serve and its bundle has been published. Rejects at once
 * when RBAC denies access (the message says which permission), and keeps
 * retrying other API errors.
 */
export async function startSharedCertificate(
  options: SharedCertificateOptions,
): Promise<SharedCertificate> {
  const { store, ref, logger } = options;
  const secretName = formatNamespacedName(ref);
  const timing: RotationTiming = {
    ...rotationTiming(options.timing?.validityMs ?? 365 * 86_400_000),
    ...options.timing,
  };
  const clock = options.clock ?? (() => new Date());
  const timers = options.timers ?? realTimers;
  const provisionFn = options.provision ?? selfProvision;
  let state: SharedTlsState | undefined;
  let read: TlsSecretObject | undefined;
  let stopped = false;
  let timer: unknown;
  let running: Promise<void> | undefined;

  const provision = (names: RequiredNames): ProvisionedCertificates =>
    provisionFn({
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
      now: clock(),
      validityDays: timing.validityMs / 86_400_000,
    });
  const fresh = (): SharedTlsState => {
    const made = provision(options.names);
    return { phase: 'stable', serving: { ...made.serving, caPem: made.ca.certPem } };
  };

  const adopt = (secret: TlsSecretObject, next: SharedTlsState): void => {
    read = secret;
    const previous = state;
    const same = previous?.serving.certPem === next.serving.certPem;
    // The same object while the pair is unchanged: servers swap their TLS context on a new one.
    state = same ? { ...next, serving: previous!.serving } : next;
    if (!same) {
      logger.info(
        {
          secret: secretName,
          fingerprint: fingerprint(next.serving),
          notAfter: next.serving.notAfter.toISOString(),
          phase: next.phase,
        },
        previous
          ? 'serving the rotated certificate from the shared Secret'
          : 'serving certificate loaded from the shared Secret',
      );
      options.onServingChange?.(next.serving);
    } else if (previous.phase !== next.phase) {
      logger.info({ secret: secretName, phase: next.phase }, 'certificate rotation step');
    }
  };

  /** Writes `next` over what was read; false when another replica wrote first. */
  const write = async (next: SharedTlsState, what: string): Promise<boolean> => {
    try {
      const written = await store.replace(encodeTlsSecret(next, ref, read));
      adopt(written, next);
      logger.info(
        { secret: secretName, step: what, phase: next.phase },
        'shared TLS Secret updated',
      );
      return true;
    } catch (error) {
      if (!isConflict(error) && !isNotFound(error)) throw error;
      logger.debug(
        { secret: secretName, step: what },
        'another replica updated the shared TLS Secret first',
      );
      return false;
    }
  };

  /** Reads the Secret, creating or repairing it; returns the state to serve. */
  const load = async (): Promise<[TlsSecretObject, SharedTlsState]> => {
    for (let attempt = 1; ; attempt++) {
      let secret = await store.get();
      if (!secret) {
        // Gone (or never made): put back what we serve, so that no replica changes CA.
        const initial = state ?? fresh();
        try {
          secret = await store.create(encodeTlsSecret(initial, ref));
          logger.info(
            { secret: secretName, fingerprint: fingerprint(initial.serving) },
            state ? 'shared TLS Secret re-created' : 'shared TLS Secret created',
          );
          return [secret, initial];
        } catch (error) {
          if (!isAlreadyExists(error) || attempt >= 5) throw error;
          continue; // another replica created it: read theirs
        }
      }
      let decoded: SharedTlsState | undefined;
      let problem: string;
      try {
        decoded = decodeTlsSecret(secret);
        problem =
          decoded.serving.notAfter.getTime() <= clock().getTime()
            ? 'the serving certificate has expired'
            : '';
      } catch (error) {
        problem = (error as Error).message;
      }
      if (decoded && !problem) return [secret, decoded];
      // Nothing in it can be served. A running replica puts back what it serves
      // (no CA change for anyone); otherwise a new pair is the only way forward.
      const keep = state !== undefined && state.serving.notAfter.getTime() > clock().getTime();
      const repaired = keep ? state! : fresh();
      try {
        const written = await store.replace(encodeTlsSecret(repaired, ref, secret));
        logger.warn(
          { secret: secretName, problem },
          keep
            ? 'shared TLS Secret was unusable; put back the certificate this replica serves'
            : 'shared TLS Secret was unusable; replaced it with a new CA and certificate',
        );
        return [written, repaired];
      } catch (error) {
        if (!(isConflict(error) || isNotFound(error)) || attempt >= 5) throw error;
      }
    }
  };

  // Denials are reported with what was denied; other errors as they are.
  const guard = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (!isDenied(error)) throw error;
      throw new AccessDeniedError(what, statusOf(error)!, { cause: error });
    }
  };

  const syncOnce = async (): Promise<void> => {
    const [secret, loaded] = await guard(`Secret ${secretName}`, load);
    adopt(secret, loaded);
    const publish = () =>
      guard('the webhook configurations', () => options.publish(caBundleOf(state!)));
    const bundleJustWritten = await publish();
    // At most one step per sync; the next sync (scheduled at once) takes the next.
    const step = nextStep(state!, clock(), options.names, timing, bundleJustWritten);
    if (step.step === 'none' || stopped) return;
    const current = state!;
    const next = applyStep(current, step, clock(), timing, () => {
      // The union of names, so replicas of two configurations (a rolling update) converge.
      const had = namesOf(current.serving);
      return provision({
        dnsNames: [...new Set([...had.dnsNames, ...options.names.dnsNames])],
        ipAddresses: [...new Set([...had.ipAddresses, ...options.names.ipAddresses])],
      });
    });
    if (step.step === 'begin') {
      logger.info(
        { secret: secretName, why: step.why, fingerprint: fingerprint(next.next!) },
        'rotating the serving certificate: publishing the new CA next to the old one',
      );
    }
    if (await guard(`Secret ${secretName}`, () => write(next, step.step))) await publish();
  };

  const wakeDelay = (): number => {
    if (!state) return timing.pollMs;
    const step = nextStep(state, clock(), options.names, timing, false);
    const until = step.step === 'none' ? step.wakeAt.getTime() - clock().getTime() : 0;
    return Math.max(0, Math.min(timing.pollMs, until));
  };

  let lastFailed = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = timers.setTimeout(
      () => {
        timer = undefined;
        void sync().finally(schedule);
      },
      lastFailed ? timing.pollMs : wakeDelay(),
    );
  };

  const sync = (): Promise<void> => {
    // One at a time: a timer tick and an explicit call share the run in progress.
    running ??= syncOnce()
      .then(
        () => {
          lastFailed = false;
        },
        (error: unknown) => {
          lastFailed = true;
          logger.warn(
            { secret: secretName, reason: describe(error) },
            'following the shared TLS Secret failed; keeping the current certificate',
          );
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const retryMs = options.retryMs ?? 2_000;
  for (;;) {
    try {
      await syncOnce();
      break;
    } catch (error) {
      if (error instanceof AccessDeniedError) throw error;
      logger.warn(
        { secret: secretName, reason: describe(error), retryInMs: retryMs },
        'setting up the shared TLS Secret failed; retrying',
      );
      await new Promise<void>((resolve) => timers.setTimeout(resolve, retryMs));
    }
  }
  schedule();

  return {
    current: () => state!.serving,
    caBundle: () => caBundleOf(state!),
    phase: () => state!.phase,
    sync,
    stop: () => {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    },
  };
}
