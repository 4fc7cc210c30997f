// Straight HTTPS to the test control plane's API server (its CA and admin
// token), for timing and for firing requests at once: a kubectl process per
// poll would measure kubectl, not the cluster.
import https from 'node:https';
import type { ControlPlane } from '../../test/harness/controlplane.ts';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export function apiAgent(cp: ControlPlane, maxSockets = 16): https.Agent {
  return new https.Agent({ keepAlive: true, maxSockets, ca: cp.caPem });
}

export function api<T = Record<string, unknown>>(
  cp: ControlPlane,
  agent: https.Agent,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse<T>> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${cp.server}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${cp.token}`,
          accept: 'application/json',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
        timeout: 60_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: keep the text.
          }
          resolve({ status: response.statusCode ?? 0, body: parsed as T });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on('error', reject);
    request.end(payload);
  });
}

export interface WatchEvent {
  type: string;
  object: {
    metadata: { name: string; namespace: string; generation?: number };
    status?: { deployStatus?: string; observedGeneration?: number };
  };
  /** performance.now() when the event arrived. */
  at: number;
}

export interface Watch {
  events: WatchEvent[];
  /** Resolves with the first event (already seen or to come) that satisfies `match`. */
  until(match: (event: WatchEvent) => boolean, timeoutMs: number): Promise<WatchEvent>;
  close(): void;
}

/** Watches a collection path (e.g. /apis/harikube.info/v1/namespaces/x/topologyconfigs) from now on. */
export async function watch(cp: ControlPlane, path: string): Promise<Watch> {
  const agent = apiAgent(cp, 1);
  const list = await api<{ metadata: { resourceVersion: string } }>(cp, agent, 'GET', path);
  if (list.status !== 200) throw new Error(`GET ${path}: ${list.status}`);
  const events: WatchEvent[] = [];
  const waiters = new Set<() => void>();
  const url = `${cp.server}${path}?watch=1&allowWatchBookmarks=false&resourceVersion=${list.body.metadata.resourceVersion}`;
  const request = https.get(url, {
    agent,
    headers: { authorization: `Bearer ${cp.token}`, accept: 'application/json' },
  });
  await new Promise<void>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`watch ${path}: ${response.statusCode}`));
        return;
      }
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (!line.trim()) continue;
          events.push({ ...(JSON.parse(line) as Omit<WatchEvent, 'at'>), at });
          for (const wake of waiters) wake();
        }
      });
      response.on('error', () => {});
      resolve();
    });
  });
  return {
    events,
    until(match, timeoutMs) {
      const found = events.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching watch event on ${path} within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          const event = events.find(match);
          if (!event) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(event);
        };
        waiters.add(check);
      });
    },
    close() {
      request.destroy();
      agent.destroy();
    },
  };
}

export async function ensureNamespaces(cp: ControlPlane, names: readonly string[]): Promise<void> {
  const agent = apiAgent(cp);
  try {
    for (const name of names) {
      const result = await api(cp, agent, 'POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name },
      });
      if (result.status !== 201 && result.status !== 409)
        throw new Error(`creating namespace ${name}: ${result.status}`);
    }
  } finally {
    agent.destroy();
  }
}

/** How many TopologyConfigs (matching `selector`) are Active for their generation, of how many. */
export async function activeConfigs(
  cp: ControlPlane,
  selector?: string,
): Promise<[number, number]> {
  const agent = apiAgent(cp, 1);
  try {
    const query = selector ? `?labelSelector=${encodeURIComponent(selector)}` : '';
    const r = await api<{
      items?: Array<{
        metadata: { generation?: number };
        status?: { deployStatus?: string; observedGeneration?: number };
      }>;
    }>(cp, agent, 'GET', `/apis/harikube.info/v1/topologyconfigs${query}`);
    const items = r.body.items ?? [];
    const active = items.filter(
      (c) =>
        c.status?.deployStatus === 'Active' &&
        c.status.observedGeneration === c.metadata.generation,
    );
    return [active.length, items.length];
  } finally {
    agent.destroy();
  }
}
