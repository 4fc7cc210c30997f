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
// The rotation itself is rotation.ts; the Secret's layout secret-codec.ts.

import type { Logger } from 'pino';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../resource/errors.ts';
import { describe } from '../resource/errors.ts';
import { formatNamespacedName, type NamespacedName } from '../resource/names.ts';
import { fingerprint, selfProvision } from './certificate.ts';
import type {
  ProvisionedCertificates,
  SelfProvisionOptions,
  ServingCertificate,
} from './certificate.ts';
import { applyStep, caBundleOf, namesOf, nextStep, rotationTiming } from './rotation.ts';
import type { RequiredNames, RotationTiming, SharedPhase, SharedTlsState } from './rotation.ts';
import { decodeTlsSecret, encodeTlsSecret, type TlsSecretObject } from './secret-codec.ts';
import type { TlsSecretStore } from './secret-store.ts';
import type { CertificateSource } from './source.ts';
import { realClock, sleep, type Clock, type Timer } from '../time/clock.ts';

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
  /** Rotation decisions and the timers that wake this source run on it. */
  clock?: Clock;
  /** Makes a CA and serving certificate; defaults to selfProvision. */
  provision?: (options: SelfProvisionOptions) => ProvisionedCertificates;
  /** Delay between start-up attempts after an API error. */
  retryMs?: number;
}

export interface SharedCertificate extends CertificateSource {
  /** The bundle of the state this replica follows. */
  caBundle(): string;
  phase(): SharedPhase;
  /** Reads the Secret, follows it, publishes its bundle and writes a due rotation step. */
  sync(): Promise<void>;
}

const statusOf = (error: unknown): number | undefined =>
  error instanceof ApiError ? error.status : undefined;

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
  const timers = options.clock ?? realClock;
  const clock = (): Date => new Date(timers.now());
  const provisionFn = options.provision ?? selfProvision;
  let state: SharedTlsState | undefined;
  let read: TlsSecretObject | undefined;
  let stopped = false;
  let timer: Timer | undefined;
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
    // The wake-ups of a certificate never keep the process alive.
    timer.unref?.();
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
      await sleep(timers, retryMs);
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
