// The webhook's serving certificate, from one of two sources:
//  - files (a Secret volume filled by cert-manager or by hand), re-read when
//    they change, without a restart; a broken new pair never replaces a good one;
//  - self-provisioned: a CA and a serving certificate made here, the CA
//    injected as caBundle into the webhook configurations, both renewed
//    before expiry with the old and the new CA trusted during the switch.
// Servers pick a new certificate up through setSecureContext, so connections
// opened after a change see it and open connections are left alone.

import { createPrivateKey, createHash, X509Certificate } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import type {
  KubeConfig,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
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
// Certificates from files

export interface CertificateWatcher {
  current(): ServingCertificate;
  /** Re-reads the files now; true when a new certificate was loaded. */
  reload(): boolean;
  stop(): void;
}

export interface WatchOptions {
  onChange?: (cert: ServingCertificate) => void;
  logger: Logger;
  /** Fallback poll interval (fs.watch can miss events, e.g. on some volume types). */
  pollMs?: number;
  /** Events come in bursts during a Secret volume update; wait for quiet. */
  debounceMs?: number;
  /** Optional CA file next to the pair (cert-manager writes ca.crt). */
  caName?: string;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Serves the pair `dir/certName` + `dir/keyName`. Kubernetes updates a Secret
 * volume by swapping the `..data` symlink, so the directory is watched, not
 * the files. Throws at once if the initial pair is unusable.
 */
export function watchCertificateFiles(
  dir: string,
  certName: string,
  keyName: string,
  options: WatchOptions,
): CertificateWatcher {
  const { logger, onChange } = options;
  const pollMs = options.pollMs ?? 10_000;
  const debounceMs = options.debounceMs ?? 100;
  const caName = options.caName ?? 'ca.crt';
  const certPath = join(dir, certName);
  const keyPath = join(dir, keyName);

  const read = (): { certPem: string; keyPem: string; caPem: string | undefined } => ({
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
    caPem: readOptional(join(dir, caName)),
  });
  const digest = (f: { certPem: string; keyPem: string; caPem: string | undefined }): string =>
    createHash('sha256')
      .update(f.certPem)
      .update('\0')
      .update(f.keyPem)
      .update('\0')
      .update(f.caPem ?? '')
      .digest('hex');

  let files;
  try {
    files = read();
  } catch (err) {
    throw new Error(
      `cannot read the serving certificate in ${dir}: ${(err as { code?: string }).code ?? String(err)}`,
      { cause: err },
    );
  }
  let current: ServingCertificate;
  try {
    current = parseServingCertificate(files.certPem, files.keyPem, files.caPem);
  } catch (err) {
    throw new Error(`serving certificate in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  let currentDigest = digest(files);
  let rejectedDigest: string | undefined;
  logger.info(
    { dir, fingerprint: fingerprint(current), notAfter: current.notAfter.toISOString() },
    'serving certificate loaded',
  );

  const reload = (): boolean => {
    let next;
    try {
      next = read();
    } catch (err) {
      // Mid-swap, or the volume is gone: keep serving; the next event or poll tries again.
      logger.debug(
        { dir, code: (err as { code?: string }).code },
        'serving certificate files not readable; keeping the current one',
      );
      return false;
    }
    const nextDigest = digest(next);
    if (nextDigest === currentDigest || nextDigest === rejectedDigest) return false;
    let cert: ServingCertificate;
    try {
      cert = parseServingCertificate(next.certPem, next.keyPem, next.caPem);
    } catch (err) {
      rejectedDigest = nextDigest; // log a broken pair once, not on every poll
      logger.error(
        { dir, reason: (err as Error).message },
        'new serving certificate rejected; keeping the current one',
      );
      return false;
    }
    current = cert;
    currentDigest = nextDigest;
    rejectedDigest = undefined;
    const notAfter = cert.notAfter.toISOString();
    if (cert.notAfter.getTime() < Date.now())
      logger.warn({ dir, notAfter }, 'new serving certificate has expired');
    logger.info({ dir, fingerprint: fingerprint(cert), notAfter }, 'serving certificate reloaded');
    onChange?.(cert);
    return true;
  };

  let debounce: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      reload();
    }, debounceMs);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, schedule);
    watcher.on('error', (err) => {
      logger.warn(
        { dir, code: (err as { code?: string }).code },
        'watching the certificate directory failed; polling only',
      );
      watcher?.close();
      watcher = undefined;
    });
  } catch (err) {
    logger.warn(
      { dir, code: (err as { code?: string }).code },
      'cannot watch the certificate directory; polling only',
    );
  }
  const poll = setInterval(reload, pollMs);
  poll.unref();

  return {
    current: () => current,
    reload,
    stop: () => {
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      watcher?.close();
      watcher = undefined;
    },
  };
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

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface CertificateRotatorOptions {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  logger: Logger;
  validityDays?: number;
  /** Renew when this fraction of the lifetime is left (cert-manager's default is 1/3). */
  renewBeforeFraction?: number;
  /** After the two-CA bundle is published, wait this long for API servers to pick it up before serving the new certificate. */
  propagationMs?: number;
  /** Keep the old CA in the bundle this long after the new certificate is served. */
  overlapMs?: number;
  /** Delay before retrying a failed caBundle publication. */
  retryMs?: number;
  /** Re-publish the current bundle this often (repairs a re-created webhook configuration); 0 = never. */
  republishMs?: number;
  /** Publishes the caBundle (e.g. with injectCaBundle); a rejection is retried. */
  publishCaBundle?: (caBundlePem: string) => Promise<void> | void;
  /** Called when the serving certificate changes (e.g. applySecureContext). */
  onServingChange?: (cert: ServingCertificate) => void;
  clock?: () => Date;
  timers?: Timers;
  /** Makes a CA and serving certificate; defaults to selfProvision. */
  provision?: (options: SelfProvisionOptions) => ProvisionedCertificates;
}

export type RotationPhase = 'new' | 'stable' | 'publishing' | 'overlap' | 'stopped';

// setTimeout fires at once for delays above 2^31-1 ms (about 24.8 days); wake
// up at least daily and look at the clock again.
const MAX_TIMER_MS = 24 * 60 * 60 * 1000;

/**
 * Self-provisioned serving certificate with rotation. The order keeps every
 * API server able to verify us throughout:
 *  1. at renewal time, make a new CA and certificate, publish `old CA + new CA`;
 *  2. once published (and `propagationMs` later), serve the new certificate;
 *  3. `overlapMs` later, publish the new CA alone.
 */
export class CertificateRotator {
  readonly #o: Required<Omit<CertificateRotatorOptions, 'publishCaBundle' | 'onServingChange'>> &
    Pick<CertificateRotatorOptions, 'publishCaBundle' | 'onServingChange'>;
  #phase: RotationPhase = 'new';
  #active: ProvisionedCertificates | undefined;
  #next: ProvisionedCertificates | undefined;
  #retiredCaPem: string | undefined;
  #timer: unknown;
  #republishTimer: unknown;
  // Publication: always of the latest bundle; waiters resolve once a bundle at least as new is out.
  #bundleVersion = 0;
  #publishedVersion = 0;
  #publishing = false;
  #waiters: { version: number; resolve: () => void }[] = [];

  constructor(options: CertificateRotatorOptions) {
    const f = options.renewBeforeFraction ?? 1 / 3;
    if (!(f > 0 && f < 1)) throw new Error('renewBeforeFraction must be between 0 and 1');
    this.#o = {
      validityDays: 365,
      propagationMs: 30_000,
      overlapMs: 10 * 60_000,
      retryMs: 10_000,
      republishMs: 0,
      clock: () => new Date(),
      timers: realTimers,
      provision: selfProvision,
      ...options,
      renewBeforeFraction: f,
    };
  }

  get phase(): RotationPhase {
    return this.#phase;
  }

  /** Makes the first CA and certificate; resolves once its caBundle has been published. */
  start(): Promise<void> {
    if (this.#phase !== 'new') throw new Error('CertificateRotator already started');
    this.#active = this.#provision();
    this.#phase = 'stable';
    this.#o.onServingChange?.(this.#active.serving);
    const published = this.#requestPublish();
    this.#scheduleRenewal();
    this.#scheduleRepublish();
    return published;
  }

  current(): ServingCertificate {
    if (!this.#active) throw new Error('CertificateRotator not started');
    return this.#active.serving;
  }

  /** The PEM bundle API servers must trust: one CA, or two during a switch. */
  caBundle(): string {
    if (!this.#active) throw new Error('CertificateRotator not started');
    const cas = [this.#retiredCaPem, this.#active.ca.certPem, this.#next?.ca.certPem];
    return cas.filter((c): c is string => c !== undefined).join('');
  }

  /** When the next rotation starts. */
  renewAt(): Date {
    const s = this.current();
    const life = s.notAfter.getTime() - s.notBefore.getTime();
    return new Date(s.notAfter.getTime() - life * this.#o.renewBeforeFraction);
  }

  stop(): void {
    this.#phase = 'stopped';
    this.#clear();
    if (this.#republishTimer !== undefined) this.#o.timers.clearTimeout(this.#republishTimer);
    this.#republishTimer = undefined;
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  #provision(): ProvisionedCertificates {
    return this.#o.provision({
      dnsNames: this.#o.dnsNames,
      ipAddresses: this.#o.ipAddresses,
      now: this.#o.clock(),
      validityDays: this.#o.validityDays,
    });
  }

  #clear(): void {
    if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs `fn` at `at` by the injected clock, in steps short enough for setTimeout. */
  #at(at: Date, fn: () => void): void {
    this.#clear();
    const tick = (): void => {
      this.#timer = undefined;
      if (this.#phase === 'stopped') return;
      const left = at.getTime() - this.#o.clock().getTime();
      if (left > 0) {
        this.#timer = this.#o.timers.setTimeout(tick, Math.min(left, MAX_TIMER_MS));
      } else {
        fn();
      }
    };
    tick();
  }

  #scheduleRenewal(): void {
    this.#at(this.renewAt(), () => this.#beginRotation());
  }

  #scheduleRepublish(): void {
    if (this.#o.republishMs <= 0 || this.#phase === 'stopped') return;
    this.#republishTimer = this.#o.timers.setTimeout(() => {
      this.#republishTimer = undefined;
      if (this.#phase === 'stopped') return;
      // Same bundle again: no write if the configurations already hold it.
      void this.#requestPublish();
      this.#scheduleRepublish();
    }, this.#o.republishMs);
  }

  #beginRotation(): void {
    this.#next = this.#provision();
    this.#phase = 'publishing';
    this.#o.logger.info(
      {
        fingerprint: fingerprint(this.#next.serving),
        notAfter: this.#next.serving.notAfter.toISOString(),
      },
      'rotating the serving certificate: publishing the new CA next to the old one',
    );
    void this.#requestPublish().then(() => {
      if (this.#phase !== 'publishing') return;
      const switchAt = new Date(this.#o.clock().getTime() + this.#o.propagationMs);
      this.#at(switchAt, () => this.#switchServing());
    });
  }

  #switchServing(): void {
    const next = this.#next!;
    this.#retiredCaPem = this.#active!.ca.certPem;
    this.#active = next;
    this.#next = undefined;
    this.#phase = 'overlap';
    this.#o.logger.info({ fingerprint: fingerprint(next.serving) }, 'serving the new certificate');
    this.#o.onServingChange?.(next.serving);
    const dropAt = new Date(this.#o.clock().getTime() + this.#o.overlapMs);
    this.#at(dropAt, () => this.#dropRetired());
  }

  #dropRetired(): void {
    this.#retiredCaPem = undefined;
    this.#phase = 'stable';
    this.#o.logger.info('old CA removed from the caBundle');
    void this.#requestPublish();
    this.#scheduleRenewal();
  }

  /** Resolves once the current bundle (or a newer one) has been published. */
  #requestPublish(): Promise<void> {
    const version = ++this.#bundleVersion;
    const done = new Promise<void>((resolve) => this.#waiters.push({ version, resolve }));
    void this.#publishLoop();
    return done;
  }

  async #publishLoop(): Promise<void> {
    if (this.#publishing) return;
    this.#publishing = true;
    try {
      while (this.#phase !== 'stopped' && this.#publishedVersion < this.#bundleVersion) {
        const version = this.#bundleVersion;
        const bundle = this.caBundle();
        try {
          await this.#o.publishCaBundle?.(bundle);
          this.#publishedVersion = Math.max(this.#publishedVersion, version);
          const ready = this.#waiters.filter((w) => w.version <= version);
          this.#waiters = this.#waiters.filter((w) => w.version > version);
          for (const w of ready) w.resolve();
        } catch (err) {
          this.#o.logger.warn(
            { reason: (err as Error).message },
            'publishing the caBundle failed; retrying',
          );
          await new Promise<void>((resolve) => this.#o.timers.setTimeout(resolve, this.#o.retryMs));
        }
      }
    } finally {
      this.#publishing = false;
    }
  }
}

// ---------------------------------------------------------------------------
// caBundle injection

/** The parts of a Validating/MutatingWebhookConfiguration this module touches; the rest is kept as read. */
export interface WebhookConfigurationObject {
  metadata?: { name?: string; resourceVersion?: string; [field: string]: unknown };
  webhooks?: {
    clientConfig?: { caBundle?: string; [field: string]: unknown };
    [field: string]: unknown;
  }[];
  [field: string]: unknown;
}

export type WebhookConfigurationKind = 'validating' | 'mutating';

/**
 * What injectCaBundle needs from the API server. Errors carry the HTTP
 * status in `code` (client-node's ApiException does).
 */
export interface WebhookConfigurationClient {
  read(kind: WebhookConfigurationKind, name: string): Promise<WebhookConfigurationObject>;
  replace(
    kind: WebhookConfigurationKind,
    name: string,
    body: WebhookConfigurationObject,
  ): Promise<unknown>;
}

/** The client over @kubernetes/client-node's AdmissionregistrationV1Api. */
export function webhookConfigurationClient(kubeConfig: KubeConfig): WebhookConfigurationClient {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  return {
    read: async (kind, name) =>
      kind === 'validating'
        ? ((await api.readValidatingWebhookConfiguration({ name })) as WebhookConfigurationObject)
        : ((await api.readMutatingWebhookConfiguration({ name })) as WebhookConfigurationObject),
    replace: (kind, name, body) =>
      kind === 'validating'
        ? api.replaceValidatingWebhookConfiguration({
            name,
            body: body as V1ValidatingWebhookConfiguration,
          })
        : api.replaceMutatingWebhookConfiguration({
            name,
            body: body as V1MutatingWebhookConfiguration,
          }),
  };
}

export type InjectionResult = 'updated' | 'unchanged' | 'not-found';

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Sets `webhooks[*].clientConfig.caBundle` of the Validating- and the
 * MutatingWebhookConfiguration called `name` to `caBundlePem` (base64 on the
 * wire). Read-modify-replace with the read resourceVersion, so a concurrent
 * edit is never overwritten; a 409 is retried with a fresh read. A missing
 * configuration is reported, not an error: it may not be installed yet.
 */
export async function injectCaBundle(
  client: WebhookConfigurationClient,
  name: string,
  caBundlePem: string,
  options: { maxAttempts?: number } = {},
): Promise<Record<WebhookConfigurationKind, InjectionResult>> {
  const encoded = Buffer.from(caBundlePem, 'utf8').toString('base64');
  const maxAttempts = options.maxAttempts ?? 5;
  const injectOne = async (kind: WebhookConfigurationKind): Promise<InjectionResult> => {
    for (let attempt = 1; ; attempt++) {
      let current: WebhookConfigurationObject;
      try {
        current = await client.read(kind, name);
      } catch (err) {
        if (statusCode(err) === 404) return 'not-found';
        throw err;
      }
      const webhooks = current.webhooks ?? [];
      if (webhooks.every((w) => w.clientConfig?.caBundle === encoded)) return 'unchanged';
      const body = structuredClone(current);
      for (const w of body.webhooks ?? [])
        w.clientConfig = { ...w.clientConfig, caBundle: encoded };
      try {
        await client.replace(kind, name, body);
        return 'updated';
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) return 'not-found';
        if (code !== 409 || attempt >= maxAttempts) {
          throw new Error(
            `updating the caBundle of ${kind} webhook configuration ${name} failed${code ? ` (HTTP ${code})` : ''}`,
            {
              cause: err,
            },
          );
        }
      }
    }
  };
  return { validating: await injectOne('validating'), mutating: await injectOne('mutating') };
}
