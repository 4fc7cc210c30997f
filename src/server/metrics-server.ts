// The HTTPS endpoint GET /metrics, guarded by a TokenReview/SubjectAccessReview
// decision (metrics-auth.ts) and served with the webhook's certificate.

import { createServer } from 'node:https';
import { createServer as createPlainServer } from '../runtime/http.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { followCertificate, secureContextOptions } from '../tls/certificate.ts';
import type { ServingCertificate } from '../tls/certificate.ts';
import type { BindAddress } from '../flags/values.ts';
import { listen, type ListeningServer } from './listen.ts';
import { createAuthCache, type AuthCache, type AuthCacheOptions } from './metrics-auth.ts';
import type { AuthDecision, Authorize } from './metrics-auth.ts';

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export interface MetricsServerOptions {
  address: BindAddress;
  /** The serving certificate; consulted for each new connection, so rotation needs no restart. */
  tls: () => ServingCertificate;
  authorize: Authorize;
  registry: Registry;
  logger: Logger;
  cache?: AuthCacheOptions;
}

export interface PlainMetricsServerOptions {
  address: BindAddress;
  plain: true;
  registry: Registry;
  logger: Logger;
}

export type MetricsServer = ListeningServer;

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  cache: AuthCache | undefined,
  registry: Registry,
  logger: Logger,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://metrics').pathname;
  if (path !== '/metrics') return send(res, 404, 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  }
  if (cache && !(await authorized(req, res, cache, logger))) return;
  const body = await registry.metrics();
  res.writeHead(200, {
    'content-type': registry.contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answers 401/403/500 itself and returns false, unless the bearer token may get /metrics. */
async function authorized(
  req: IncomingMessage,
  res: ServerResponse,
  cache: AuthCache,
  logger: Logger,
): Promise<boolean> {
  const token = bearerToken(req);
  const remote = req.socket.remoteAddress;
  const refuse = (status: number, body: string, headers?: Record<string, string>) => {
    send(res, status, body, headers);
    return false;
  };
  if (!token) return refuse(401, 'Unauthorized\n', { 'www-authenticate': 'Bearer' });
  let decision: AuthDecision;
  try {
    decision = await cache.check(token);
  } catch (err) {
    logger.error({ remote, reason: (err as Error).message }, 'metrics authorization check failed');
    return refuse(500, 'authorization check failed\n');
  }
  if (decision === 'unauthenticated') {
    logger.debug({ remote }, 'metrics request with an invalid token');
    return refuse(401, 'Unauthorized\n', { 'www-authenticate': 'Bearer' });
  }
  if (decision === 'forbidden') {
    logger.debug({ remote }, 'metrics request forbidden');
    return refuse(403, 'Forbidden\n');
  }
  return true;
}

/**
 * HTTPS (TLS 1.2+) server for GET /metrics, guarded by `authorize` with a
 * decision cache; with `plain` (--metrics-secure=false) plain HTTP for anyone.
 */
export function startMetricsServer(
  options: MetricsServerOptions | PlainMetricsServerOptions,
): Promise<MetricsServer> {
  const { logger, registry } = options;
  const cache = 'plain' in options ? undefined : createAuthCache(options.authorize, options.cache);
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, cache, registry, logger).catch((err: unknown) => {
      logger.error({ reason: (err as Error).message }, 'metrics request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  };
  const plain = 'plain' in options;
  const server = plain
    ? createPlainServer(serve)
    : createServer(secureContextOptions(options.tls()), serve);
  if (!plain) followCertificate(server as ReturnType<typeof createServer>, options.tls);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const what = plain ? 'metrics (plain HTTP, no authentication)' : 'metrics (HTTPS)';
  return listen(server, options.address, logger, what);
}
