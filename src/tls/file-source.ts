// Certificates from files (a Secret volume filled by cert-manager or by hand),
// re-read when they change, without a restart; a broken new pair never
// replaces a good one.

import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { realClock, type Clock, type Timer } from '../time/clock.ts';
import { fingerprint, parseServingCertificate } from './certificate.ts';
import type { ServingCertificate } from './certificate.ts';
import type { CertificateSource } from './source.ts';

export interface CertificateWatcher extends CertificateSource {
  /** Re-reads the files now; true when a new certificate was loaded. */
  reload(): boolean;
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
  /** The poll, the debounce and the expiry check run on it. */
  clock?: Clock;
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
  const clock = options.clock ?? realClock;
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
    if (cert.notAfter.getTime() < clock.now())
      logger.warn({ dir, notAfter }, 'new serving certificate has expired');
    logger.info({ dir, fingerprint: fingerprint(cert), notAfter }, 'serving certificate reloaded');
    onChange?.(cert);
    return true;
  };

  let debounce: Timer | undefined;
  const schedule = (): void => {
    if (debounce) clock.clearTimeout(debounce);
    debounce = clock.setTimeout(() => {
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
  // Each poll arms the next; unref'd, so that polling alone holds no process open.
  let poll: Timer | undefined;
  let stopped = false;
  const armPoll = (): void => {
    poll = clock.setTimeout(() => {
      reload();
      if (!stopped) armPoll();
    }, pollMs);
    poll.unref?.();
  };
  armPoll();

  return {
    current: () => current,
    reload,
    stop: () => {
      stopped = true;
      clock.clearTimeout(poll);
      if (debounce) clock.clearTimeout(debounce);
      watcher?.close();
      watcher = undefined;
    },
  };
}
