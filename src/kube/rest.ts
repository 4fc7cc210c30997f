// A small typed REST client over the API server: exact status codes (404,
// 409, 422 drive the reconciler's decisions), conditional writes, and patch
// content types, with the connection's TLS and credentials (connection.ts);
// writes name their field manager.
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import { ApiError } from '../resource/errors.ts';
import { parseJson, stringifyJson } from '../resource/json.ts';
import type { Connection } from './connection.ts';

export type PatchType = 'merge' | 'json';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
};

export interface RestClient {
  /** `accept`: another representation (e.g. metadata only, or aggregated discovery). */
  get<T>(path: string, accept?: string): Promise<T>;
  create<T>(path: string, body: unknown): Promise<T>;
  replace<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, type: PatchType, body: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
}

/**
 * `bound`: what `timeoutMs` bounds. `idle` (reads of any size: a long list
 * that keeps coming is not cut): the socket's silence. `call`: the whole
 * call, from when it is made: credentials, waiting for a socket, connecting
 * and an answer however slowly it trickles, none of which an idle timeout
 * bounds; a fenced writer and a Lease renewal rely on it.
 */
export function createRestClient(
  connection: Connection,
  timeoutMs = 15_000,
  bound: 'idle' | 'call' = 'idle',
  /** The managedFields manager of this client's writes (the API server's default is "unknown"). */
  fieldManager?: string,
): RestClient {
  const base = connection.server;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  const managed = (path: string) =>
    fieldManager
      ? `${path}${path.includes('?') ? '&' : '?'}fieldManager=${encodeURIComponent(fieldManager)}`
      : path;

  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    accept = 'application/json',
  ): Promise<T> {
    const began = performance.now();
    try {
      return await send<T>(began, method, path, body, contentType, accept);
    } catch (error) {
      // Refused credentials that can be renewed (an exec plugin's, a rotated
      // token file's) are renewed and the call made once more: a 401 means
      // the API server did nothing.
      if (error instanceof Unauthorized && error.renewed)
        return send<T>(began, method, path, body, contentType, accept);
      throw error;
    }
  }

  async function send<T>(
    began: number,
    method: string,
    path: string,
    body: unknown,
    contentType: string,
    accept: string,
  ): Promise<T> {
    const whole = bound === 'call';
    const timedOut = () =>
      new ApiError(504, 'Timeout', `${method} ${path}: timed out after ${timeoutMs} ms`);
    const prepared = await connection.prepare();
    const options: https.RequestOptions = {
      ...prepared.options,
      method,
      path: base.pathname.replace(/\/$/, '') + path,
      headers: {
        ...prepared.options.headers,
        accept,
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      agent,
      ...(whole ? {} : { timeout: timeoutMs }),
    };
    const left = timeoutMs - (performance.now() - began);
    if (whole && left <= 0) throw timedOut();
    const payload = body === undefined ? undefined : stringifyJson(body);
    let timer: NodeJS.Timeout | undefined;
    let req!: ClientRequest;
    const answer = new Promise<T>((resolvePromise, rejectPromise) => {
      // The agent keeps a socket's first request, with its listeners, for as
      // long as the socket lives (its TLS session callback): once settled,
      // they must hold nothing of the call. Holding the promise (so its
      // answer) and the body's chunks, they kept a list page or a Secret per
      // socket: ~19 MB at 10,000 configs.
      let settle: { resolve: (value: T) => void; reject: (error: unknown) => void } | undefined = {
        resolve: resolvePromise,
        reject: rejectPromise,
      };
      const settled = () => {
        const pending = settle;
        settle = undefined;
        return pending;
      };
      const reject = (error: unknown) => settled()?.reject(error);
      req = https.request(options, (res) => {
        let chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          chunks = [];
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? parseJson(text) : undefined;
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) return settled()?.resolve(parsed as T);
          const statusObject = (parsed ?? {}) as { reason?: string; message?: string };
          const message = `${method} ${path}: ${status} ${statusObject.message ?? text.slice(0, 200)}`;
          const reason = statusObject.reason ?? 'Unknown';
          reject(
            status === 401
              ? new Unauthorized(reason, message, prepared.unauthorized())
              : new ApiError(status, reason, message),
          );
        });
      });
      const fail = () => {
        const error = timedOut();
        reject(error);
        req.destroy(error);
      };
      if (whole) timer = setTimeout(fail, left);
      else req.on('timeout', fail);
      req.on('error', reject);
    });
    // Sent from here, not from the listeners' scope, so that they do not hold the body either.
    req.end(payload);
    return answer.finally(() => clearTimeout(timer));
  }

  return {
    get: (path, accept) => request('GET', path, undefined, undefined, accept),
    create: (path, body) => request('POST', managed(path), body),
    replace: (path, body) => request('PUT', managed(path), body),
    patch: (path, type, body) => request('PATCH', managed(path), body, PATCH_CONTENT_TYPES[type]),
    delete: (path) => request('DELETE', path),
  };
}

/** A 401; `renewed`: the credentials were renewed, so one more try may pass. */
class Unauthorized extends ApiError {
  readonly renewed: boolean;
  constructor(reason: string, message: string, renewed: boolean) {
    super(401, reason, message);
    this.renewed = renewed;
  }
}

/** REST paths of the objects this product reads and writes. */
export const paths = {
  topologyConfigs: () => '/apis/harikube.info/v1/topologyconfigs',
  topologyConfig: (namespace: string, name: string) =>
    `/apis/harikube.info/v1/namespaces/${encodeURIComponent(namespace)}/topologyconfigs/${encodeURIComponent(name)}`,
  routingGrants: () => '/apis/harikube.info/v1/topologyroutinggrants',
  namespaces: () => '/api/v1/namespaces',
  subjectAccessReviews: () => '/apis/authorization.k8s.io/v1/subjectaccessreviews',
  secrets: (namespace?: string) =>
    namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets` : '/api/v1/secrets',
  secret: (namespace: string, name: string) =>
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
  events: (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
  lease: (namespace: string, name: string) =>
    `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`,
  leases: (namespace: string) =>
    `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`,
  validatingWebhookConfiguration: (name: string) =>
    `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${encodeURIComponent(name)}`,
  mutatingWebhookConfiguration: (name: string) =>
    `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(name)}`,
};

/** A write refused because this replica may not write (it is not, or may no longer be, the leader). */
export class NotLeaderError extends Error {
  constructor() {
    super('not the leader: the write was not sent');
  }
}

/** A fenced client also says when the writes it sent have all ended. */
export interface FencedRestClient extends RestClient {
  /** Resolves once no write it sent is in flight (answered, failed or timed out). */
  settled(): Promise<void>;
}

/**
 * Sends writes only while `mayWrite()` says so, checked as each is sent (the
 * caller's own check may be an await older). Reads pass.
 */
export function fenced(rest: RestClient, mayWrite: () => boolean): FencedRestClient {
  const inFlight = new Set<Promise<unknown>>();
  const guard =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      if (!mayWrite()) return Promise.reject(new NotLeaderError());
      const sent = write(...args);
      const ended = sent.then(
        () => {},
        () => {},
      );
      inFlight.add(ended);
      void ended.then(() => inFlight.delete(ended));
      return sent;
    };
  return {
    get: (path) => rest.get(path),
    create: guard((path, body) => rest.create(path, body)),
    replace: guard((path, body) => rest.replace(path, body)),
    patch: guard((path, type, body) => rest.patch(path, type, body)),
    delete: guard((path) => rest.delete(path)),
    settled: async () => {
      // Once mayWrite() is false no write joins, so this ends.
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
  };
}
