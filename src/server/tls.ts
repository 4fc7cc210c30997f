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
