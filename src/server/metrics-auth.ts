// Who may scrape /metrics: callers the API server vouches for. TokenReview
// says who the bearer token belongs to, SubjectAccessReview whether they may
// `get` the non-resource URL /metrics (the seed's metrics-reader ClusterRole);
// the decisions are cached so that scrapes cost the API server little.

import { createHash } from 'node:crypto';
import type { RestClient } from '../kube/rest.ts';

/** The parts of authentication.k8s.io/v1 TokenReview this reads and writes. */
export interface TokenReview {
  apiVersion: 'authentication.k8s.io/v1';
  kind: 'TokenReview';
  spec: { token: string };
  status?: {
    authenticated?: boolean;
    user?: {
      username?: string;
      uid?: string;
      groups?: string[];
      extra?: Record<string, string[]>;
    };
  };
}

/** The parts of authorization.k8s.io/v1 SubjectAccessReview this reads and writes. */
export interface SubjectAccessReview {
  apiVersion: 'authorization.k8s.io/v1';
  kind: 'SubjectAccessReview';
  spec: {
    user: string;
    uid?: string;
    groups?: string[];
    extra?: Record<string, string[]>;
    nonResourceAttributes: { path: string; verb: string };
  };
  status?: { allowed?: boolean };
}

export type AuthDecision = 'ok' | 'unauthenticated' | 'forbidden';
export type Authorize = (token: string) => Promise<AuthDecision>;

/** What reviewAuthorizer needs from the API server. */
export interface ReviewApis {
  createTokenReview(body: TokenReview): Promise<TokenReview>;
  createSubjectAccessReview(body: SubjectAccessReview): Promise<SubjectAccessReview>;
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

/** reviewAuthorizer over the product's REST client. */
export function kubeAuthorizer(rest: RestClient): Authorize {
  return reviewAuthorizer({
    createTokenReview: (body) =>
      rest.create<TokenReview>('/apis/authentication.k8s.io/v1/tokenreviews', body),
    createSubjectAccessReview: (body) =>
      rest.create<SubjectAccessReview>('/apis/authorization.k8s.io/v1/subjectaccessreviews', body),
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
