// A fault injector in front of the REAL kube-apiserver (not a mock; see
// proxy.ts): every request is forwarded and its answer piped back, except
// that while the Lease is stalled, requests for leader-election Leases are
// held: neither answered nor refused, as a slow or partitioned API server
// would hold a renewal (the client sees a request that hangs until its own
// timeout).
//
// It records each write it forwards (every method but GET) from when the
// request reached the proxy until the API server's answer ended, with the
// status and the resourceVersion the API server answered. The API server
// handles a request inside that window, so two replicas whose windows never
// overlap never had writes in flight at the API server at the same time. A
// write whose client gave up is still followed to the API server's answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlPlane } from '../harness/controlplane.ts';
import { pathOf, startProxy } from './proxy.ts';

export interface WriteWindow {
  method: string;
  path: string;
  /** performance.now() when the request reached the proxy and when the API server's answer ended. */
  start: number;
  end: number;
  /** The API server's status code (0: no answer, the connection failed). */
  status: number;
  /** metadata.resourceVersion of the object the API server answered, if any. */
  resourceVersion?: string;
  /** Whether the client had gone (its timeout) before the answer ended. */
  clientGone: boolean;
}

export interface StallProxy {
  kubeconfigPath: string;
  /** Every write forwarded, in the order their answers ended. */
  writes: WriteWindow[];
  /** Lease requests held so far. */
  heldLeaseRequests(): number;
  /** Holds every Lease request from now on, until `release`. */
  stallLease(): void;
  /** Forwards the held requests whose clients still wait; forwards all from now on. */
  release(): void;
  /**
   * From now on each write but the Lease's waits `ms` before it is forwarded
   * (a slow link): a write whose client gives up meanwhile is not sent.
   */
  slowWrites(ms: number): void;
  /** Writes waiting to be forwarded or waiting for their answer. */
  writesInFlight(): number;
  close(): Promise<void>;
}

const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/[^/]+\/leases(\/|$)/;

function resourceVersionOf(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { metadata?: { resourceVersion?: string } };
    return parsed.metadata?.resourceVersion;
  } catch {
    return undefined;
  }
}

interface Held {
  req: IncomingMessage;
  res: ServerResponse;
  start: number;
  gone: boolean;
}

export async function startStallProxy(cp: ControlPlane, name: string): Promise<StallProxy> {
  const writes: WriteWindow[] = [];
  let stalled = false;
  let heldCount = 0;
  const held: Held[] = [];
  let delayMs = 0;
  let inFlight = 0;
  const proxy = await startProxy(cp, name, {
    handle: (req, res, forward) => {
      const start = performance.now();
      const lease = LEASES.test(pathOf(req));
      if (stalled && lease) {
        heldCount++;
        const entry: Held = { req, res, start, gone: false };
        res.once('close', () => (entry.gone = true));
        held.push(entry);
        return;
      }
      if (req.method === 'GET' || lease) return forward(req, res, start);
      inFlight++;
      if (delayMs === 0) return forward(req, res, start);
      let gone = false;
      res.once('close', () => (gone = true));
      setTimeout(() => {
        if (!gone) forward(req, res, start);
        else inFlight--;
      }, delayMs);
    },
    onWrite: ({ body, ...write }) => {
      if (!LEASES.test(write.path)) inFlight--;
      writes.push({ ...write, resourceVersion: resourceVersionOf(body) });
    },
  });
  const release = () => {
    stalled = false;
    // A held request whose client timed out is gone; the others go on, late.
    for (const { req, res, start, gone } of held.splice(0))
      if (!gone) proxy.forward(req, res, start);
  };
  return {
    kubeconfigPath: proxy.kubeconfigPath,
    writes,
    heldLeaseRequests: () => heldCount,
    stallLease: () => {
      stalled = true;
    },
    release,
    slowWrites: (ms) => {
      delayMs = ms;
    },
    writesInFlight: () => inFlight,
    close: async () => {
      release();
      await proxy.close();
    },
  };
}
