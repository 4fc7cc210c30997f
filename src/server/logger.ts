// Structured JSON logs. Redaction is the last line of defence: code should
// never log a secret, but if an object with an endpoint, key or token slips
// into a log call, pino replaces the value before it is written.

import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger } from 'pino';

export const REDACTED = '[REDACTED]';

// Field names that can hold a database connection string, key material,
// a bearer token or a CA bundle.
const SECRET_FIELDS = [
  'endpoint',
  'endpoints',
  'password',
  // Not a bare `key`: work-queue keys (`namespace/name`) are useful in logs.
  'keys',
  'keyPem',
  'privateKey',
  'aesKey',
  'token',
  'bearerToken',
  'authorization',
  'Authorization',
  'cookie',
  'caBundle',
  'data',
  'stringData',
];

// fast-redact wildcards match one level, so list the depths at which these
// fields plausibly appear (a Secret's data, a backend, request headers, ...).
function redactPaths(): string[] {
  const prefixes = ['', '*.', '*.*.', '*.*.*.', '*.*.*.*.'];
  const paths = prefixes.flatMap((p) => SECRET_FIELDS.map((f) => `${p}${f}`));
  // Arrays of backends: spec.backends[*].endpoint and the like.
  paths.push('*[*].endpoint', '*.*[*].endpoint', '*.*.*[*].endpoint', '*.*.*.*[*].endpoint');
  return paths;
}

/**
 * pino's `,"time":"<ISO 8601>"` field, as pino.stdTimeFunctions.isoTime
 * writes it, but formatting a Date only once a second: the webhook logs
 * thousands of lines a second and toISOString() was the dearest part of each.
 */
export function isoTimestamp(now: () => number = Date.now): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const ms = now();
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      // "2026-11-27T19:45:09.000Z" without "000Z": every ISO string of this second starts so.
      prefix = `,"time":"${new Date(s * 1000).toISOString().slice(0, -4)}`;
    }
    const milli = ms - s * 1000;
    return `${prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z"`;
  };
}

export interface LoggerOptions {
  /** Extra fields on every line (e.g. the pod name). */
  base?: Record<string, unknown>;
}

/**
 * A JSON logger at `level`. Without a destination it writes to stdout
 * asynchronously (call {@link flushLogger} before exiting).
 */
export function createLogger(
  level: LogLevel,
  destination?: DestinationStream,
  options: LoggerOptions = {},
): Logger {
  const dest = destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level,
      base: { ...options.base },
      timestamp: isoTimestamp(),
      // Level names rather than numbers: log pipelines filter on "level":"error".
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths(), censor: REDACTED },
    },
    dest,
  );
}

// The parts of sonic-boom (pino.destination) that tell whether lines are
// still on their way to the file descriptor. Its flush() returns at once when
// minLength is 0, with a write possibly in flight, so we wait for 'drain'.
interface SonicBoomView {
  fd: number;
  _writing: boolean;
  /** Bytes buffered or being written. */
  _len: number;
  once(event: 'ready' | 'drain' | 'error', listener: () => void): unknown;
}

function isSonicBoom(stream: unknown): stream is SonicBoomView {
  const s = stream as Partial<SonicBoomView> | undefined;
  return (
    typeof s?.fd === 'number' &&
    typeof s._writing === 'boolean' &&
    typeof s._len === 'number' &&
    typeof s.once === 'function'
  );
}

/**
 * Waits until every line logged so far has been handed to the operating
 * system. Resolves after at most `timeoutMs` even if the destination is stuck
 * or failing: we are exiting anyway. The logger stays usable.
 */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    if (!isSonicBoom(stream)) {
      try {
        logger.flush(() => done());
      } catch {
        done();
      }
      return;
    }
    const check = (): void => {
      // 'ready' fires just before the buffered lines start to be written: look again a tick later.
      if (stream.fd < 0) stream.once('ready', () => setImmediate(check));
      else if (stream._writing || stream._len > 0) stream.once('drain', check);
      else done();
    };
    stream.once('error', done);
    check();
  });
}
