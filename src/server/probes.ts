// Liveness and readiness endpoints for the kubelet. /healthz answers as long
// as the event loop turns; /readyz answers 200 only when every check passes,
// and otherwise names the failing ones, in the style of kube-apiserver's
// `/readyz?verbose`, so `kubectl describe pod` shows why a replica is unready.

import { createServer } from '../runtime/http.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BindAddress } from '../flags/values.ts';
import { listen, type ListeningServer } from './listen.ts';

export interface ReadinessCheck {
  /** Short kebab-case name, e.g. `informers-synced`. */
  name: string;
  /** true when ready; false or a reason (never a secret) when not. */
  ready(): boolean | string;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  reason?: string;
}

export function runChecks(checks: readonly ReadinessCheck[]): CheckResult[] {
  return checks.map((check) => {
    try {
      const r = check.ready();
      if (r === true) return { name: check.name, ok: true };
      return { name: check.name, ok: false, reason: r === false ? 'not ready' : r };
    } catch (err) {
      return {
        name: check.name,
        ok: false,
        reason: err instanceof Error ? err.message : String(err),
      };
    }
  });
}

/** The /readyz answer: status and plain-text body. */
export function readinessReport(
  checks: readonly ReadinessCheck[],
  verbose: boolean,
): { status: number; body: string } {
  const results = runChecks(checks);
  const ok = results.every((r) => r.ok);
  if (ok && !verbose) return { status: 200, body: 'ok\n' };
  const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason}`));
  lines.push(ok ? 'readyz check passed' : 'readyz check failed');
  return { status: ok ? 200 : 503, body: `${lines.join('\n')}\n` };
}

export interface ProbeServerOptions {
  address: BindAddress;
  checks: readonly ReadinessCheck[];
  logger: Logger;
}

export type ProbeServer = ListeningServer;

function send(res: ServerResponse, status: number, body: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(head ? undefined : body);
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  checks: readonly ReadinessCheck[],
  logger: Logger,
): void {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'method not allowed\n', false);
    return;
  }
  const url = new URL(req.url ?? '/', 'http://probe');
  switch (url.pathname) {
    case '/healthz':
    case '/livez':
      send(res, 200, 'ok\n', head);
      return;
    case '/readyz': {
      const report = readinessReport(checks, url.searchParams.has('verbose'));
      if (report.status !== 200) logger.debug({ body: report.body }, 'readiness check failed');
      send(res, report.status, report.body, head);
      return;
    }
    default:
      send(res, 404, 'not found\n', head);
  }
}

/** Plain HTTP: probes come from the kubelet on the pod network and carry nothing secret. */
export function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const { checks, logger } = options;
  const server: Server = createServer((req, res) => handle(req, res, checks, logger));
  // A probe is tiny; do not let a slow client hold a socket.
  server.requestTimeout = 5_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  return listen(server, options.address, logger, 'health probes');
}
