// A fault injector in front of the REAL kube-apiserver — not a mock (see
// proxy.ts): every request is forwarded and its answer piped back unchanged,
// except that the FIRST attempt of each write (POST, PUT, PATCH; keyed by
// method and path) is answered with 409 Conflict, the way a stale
// resourceVersion or a racing writer makes the API server answer.
import type { ControlPlane } from '../harness/controlplane.ts';
import { pathOf, startProxy, type Proxy } from './proxy.ts';

export interface ConflictProxy extends Proxy {
  /** 409s injected, per `METHOD path`. */
  injected: Map<string, number>;
  /** Requests forwarded to the API server, by method. */
  forwarded: Map<string, number>;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH']);
const REVIEWS = /^\/apis\/(authorization|authentication)\.k8s\.io\//;

export async function startConflictProxy(cp: ControlPlane): Promise<ConflictProxy> {
  const seen = new Set<string>();
  const injected = new Map<string, number>();
  const forwarded = new Map<string, number>();
  const proxy = await startProxy(cp, 'chaos-conflict-proxy', {
    handle: (req, res, forward) => {
      const method = req.method ?? 'GET';
      const path = pathOf(req);
      const key = `${method} ${path}`;
      // TokenReviews and SubjectAccessReviews are questions, not writes of state: a real
      // API server never answers them 409, so they pass.
      if (WRITES.has(method) && !REVIEWS.test(path) && !seen.has(key)) {
        seen.add(key);
        injected.set(key, (injected.get(key) ?? 0) + 1);
        req.resume(); // the body is not needed: drain it
        req.once('end', () => {
          const body = JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: `Operation cannot be fulfilled on ${path}: injected by the chaos test (first attempt of ${method})`,
            reason: 'Conflict',
            code: 409,
          });
          res.writeHead(409, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        });
        return;
      }
      forwarded.set(method, (forwarded.get(method) ?? 0) + 1);
      forward(req, res);
    },
  });
  return { ...proxy, injected, forwarded };
}
