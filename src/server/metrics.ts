// Prometheus metrics on their own registry, and the HTTPS endpoint that
// serves them to callers the API server vouches for: TokenReview says who the
// bearer token belongs to, SubjectAccessReview whether they may `get` the
// non-resource URL /metrics (the seed's metrics-reader ClusterRole).
//
// Label values come from closed sets only (operation, webhook, result, state):
// never an object name, an endpoint or anything else a user controls.

import { createHash } from 'node:crypto';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthenticationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1SubjectAccessReview, V1TokenReview } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BindAddress } from './config.ts';
import { followCertificate, secureContextOptions } from './tls.ts';
import type { ServingCertificate } from './tls.ts';
import { listen, type ListeningServer } from './listen.ts';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | 'UNKNOWN';
export type WebhookKind = 'validating' | 'mutating';
export type ReconcileResult = 'success' | 'error' | 'conflict';
export type ConfigState = 'Active' | 'Pending' | 'Error';

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
const CONFIG_STATES: readonly ConfigState[] = ['Active', 'Pending', 'Error'];

export interface Metrics {
  registry: Registry;
  admissionRequests: Counter<'operation' | 'webhook' | 'allowed'>;
  admissionDuration: Histogram<'webhook'>;
  reconcileTotal: Counter<'result'>;
  reconcileDuration: Histogram;
  workqueueDepth: Gauge;
  leader: Gauge;
  configs: Gauge<'state'>;
  /** One admission answered. `operation` is the request's, normalised to a known value. */
  observeAdmission(o: {
    operation: string | undefined;
    webhook: WebhookKind;
    allowed: boolean;
    seconds: number;
  }): void;
  observeReconcile(result: ReconcileResult, seconds: number): void;
  setLeader(isLeader: boolean): void;
  setWorkqueueDepth(depth: number): void;
  /** Number of configs per status.deployStatus; states left out are set to 0. */
  setConfigCounts(counts: Partial<Record<ConfigState, number>>): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const admissionRequests = new Counter({
    name: 'topology_admission_requests_total',
    help: 'Admission reviews answered, by operation, webhook and decision.',
    labelNames: ['operation', 'webhook', 'allowed'] as const,
    registers: [registry],
  });
  const admissionDuration = new Histogram({
    name: 'topology_admission_duration_seconds',
    help: 'Time to answer an admission review.',
    labelNames: ['webhook'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const reconcileTotal = new Counter({
    name: 'topology_reconcile_total',
    help: 'Reconciliations of a target Secret, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'topology_reconcile_duration_seconds',
    help: 'Time to reconcile a target Secret.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const workqueueDepth = new Gauge({
    name: 'topology_workqueue_depth',
    help: 'Target Secrets waiting to be reconciled.',
    registers: [registry],
  });
  const leader = new Gauge({
    name: 'topology_leader',
    help: '1 if this replica is the leader (reconciles), else 0.',
    registers: [registry],
  });
  const configs = new Gauge({
    name: 'topology_configs',
    help: 'TopologyConfigs by status.deployStatus.',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  // Every series exists from the start, so rate() and alerts see zeros, not gaps.
  leader.set(0);
  workqueueDepth.set(0);
  for (const state of CONFIG_STATES) configs.set({ state }, 0);
  for (const result of ['success', 'error', 'conflict'] as const) reconcileTotal.inc({ result }, 0);

  return {
    registry,
    admissionRequests,
    admissionDuration,
    reconcileTotal,
    reconcileDuration,
    workqueueDepth,
    leader,
    configs,
    observeAdmission({ operation, webhook, allowed, seconds }) {
      const op = operation !== undefined && OPERATIONS.includes(operation) ? operation : 'UNKNOWN';
      admissionRequests.inc({ operation: op, webhook, allowed: allowed ? 'true' : 'false' });
      admissionDuration.observe({ webhook }, seconds);
    },
    observeReconcile(result, seconds) {
      reconcileTotal.inc({ result });
      reconcileDuration.observe(seconds);
    },
    setLeader(isLeader) {
      leader.set(isLeader ? 1 : 0);
    },
    setWorkqueueDepth(depth) {
      workqueueDepth.set(depth);
    },
    setConfigCounts(counts) {
      for (const state of CONFIG_STATES) configs.set({ state }, counts[state] ?? 0);
    },
  };
}

// ---------------------------------------------------------------------------
// Authentication and authorization of scrapers

export type AuthDecision = 'ok' | 'unauthenticated' | 'forbidden';
export type Authorize = (token: string) => Promise<AuthDecision>;

/** What reviewAuthorizer needs from the API server. */
export interface ReviewApis {
  createTokenReview(body: V1TokenReview): Promise<V1TokenReview>;
  createSubjectAccessReview(body: V1SubjectAccessReview): Promise<V1SubjectAccessReview>;
}

/**
 * TokenReview, then SubjectAccessReview for `verb` on the non-resource `path`.
 * API errors reject (the caller answers 500 and does not cache).
 */
export function reviewAuthorizer(apis: ReviewApis, path = '/metrics', verb = 'get'): Authorize {
  return async (token) => {
    const review = await apis.createTokenReview({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token },
    });
    const user = review.status?.user;
    if (!review.status?.authenticated || !user?.username) return 'unauthenticated';
    const access = await apis.createSubjectAccessReview({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: user.username,
        ...(user.uid !== undefined ? { uid: user.uid } : {}),
        ...(user.groups !== undefined ? { groups: user.groups } : {}),
        ...(user.extra !== undefined ? { extra: user.extra } : {}),
        nonResourceAttributes: { path, verb },
      },
    });
    return access.status?.allowed === true ? 'ok' : 'forbidden';
  };
}

/** reviewAuthorizer over @kubernetes/client-node. */
export function kubeAuthorizer(kubeConfig: KubeConfig): Authorize {
  const authn = kubeConfig.makeApiClient(AuthenticationV1Api);
  const authz = kubeConfig.makeApiClient(AuthorizationV1Api);
  return reviewAuthorizer({
    createTokenReview: (body) => authn.createTokenReview({ body }),
    createSubjectAccessReview: (body) => authz.createSubjectAccessReview({ body }),
  });
}

export interface AuthCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export interface AuthCache {
  check(token: string): Promise<AuthDecision>;
  /** The cache keys (SHA-256 of tokens), for tests and diagnostics. */
  keys(): string[];
}

/**
 * Caches decisions, positive and negative, for `ttlMs`, so a scrape every few
 * seconds costs the API server two reviews per token per TTL. Keys are
 * SHA-256 digests: the token itself is not kept. Concurrent checks of one
 * token share one review; failures are not cached.
 */
export function createAuthCache(authorize: Authorize, options: AuthCacheOptions = {}): AuthCache {
  const ttlMs = options.ttlMs ?? 10_000;
  const maxEntries = options.maxEntries ?? 1024;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { expires: number; decision: Promise<AuthDecision> }>();
  return {
    check(token) {
      const key = createHash('sha256').update(token).digest('hex');
      const t = now();
      const hit = entries.get(key);
      if (hit && hit.expires > t) return hit.decision;
      entries.delete(key);
      // Bound memory against a flood of random tokens: drop the oldest entry (Map keeps insertion order).
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      const decision = authorize(token);
      entries.set(key, { expires: t + ttlMs, decision });
      decision.catch(() => {
        if (entries.get(key)?.decision === decision) entries.delete(key);
      });
      return decision;
    },
    keys: () => [...entries.keys()],
  };
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

// ---------------------------------------------------------------------------
// The HTTPS endpoint

export interface MetricsServerOptions {
  address: BindAddress;
  /** The serving certificate; consulted for each new connection, so rotation needs no restart. */
  tls: () => ServingCertificate;
  authorize: Authorize;
  registry: Registry;
  logger: Logger;
  cache?: AuthCacheOptions;
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
  cache: AuthCache,
  registry: Registry,
  logger: Logger,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://metrics').pathname;
  if (path !== '/metrics') return send(res, 404, 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  }
  const token = bearerToken(req);
  const remote = req.socket.remoteAddress;
  if (!token) return send(res, 401, 'Unauthorized\n', { 'www-authenticate': 'Bearer' });
  let decision: AuthDecision;
  try {
    decision = await cache.check(token);
  } catch (err) {
    logger.error({ remote, reason: (err as Error).message }, 'metrics authorization check failed');
    return send(res, 500, 'authorization check failed\n');
  }
  if (decision === 'unauthenticated') {
    logger.debug({ remote }, 'metrics request with an invalid token');
    return send(res, 401, 'Unauthorized\n', { 'www-authenticate': 'Bearer' });
  }
  if (decision === 'forbidden') {
    logger.debug({ remote }, 'metrics request forbidden');
    return send(res, 403, 'Forbidden\n');
  }
  const body = await registry.metrics();
  res.writeHead(200, {
    'content-type': registry.contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** HTTPS (TLS 1.2+) server for GET /metrics, guarded by `authorize` with a decision cache. */
export function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { logger, registry } = options;
  const cache = createAuthCache(options.authorize, options.cache);
  const server = createServer(secureContextOptions(options.tls()), (req, res) => {
    handle(req, res, cache, registry, logger).catch((err: unknown) => {
      logger.error({ reason: (err as Error).message }, 'metrics request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  followCertificate(server, options.tls);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return listen(server, options.address, logger, 'metrics (HTTPS)');
}
