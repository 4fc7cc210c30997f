// A fault injector in front of the REAL kube-apiserver (not a mock): every
// request is forwarded and its answer piped back, except that while the
// Lease is stalled, requests for leader-election Leases are held: neither
// answered nor refused, as a slow or partitioned API server would hold a
// renewal (the client sees a request that hangs until its own timeout).
//
// It records each write it forwards (every method but GET) from when the
// request reached the proxy until the API server's answer ended, with the
// status and the resourceVersion the API server answered. The API server
// handles a request inside that window, so two replicas whose windows never
// overlap never had writes in flight at the API server at the same time. A
// write whose client gave up is still followed to the API server's answer
// (the server may commit it after the client left).
import { writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/certs.ts';
import type { ControlPlane } from '../harness/controlplane.ts';

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
  /** Lease requests held so far (each one once). */
  heldLeaseRequests(): number;
  /** Holds every Lease request from now on, until `release`. */
  stallLease(): void;
  /** Forwards the held requests whose clients still wait; forwards all from now on. */
  release(): void;
  /** Closes the proxy; waits for no write in flight. */
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);
const endToEnd = (headers: IncomingHttpHeaders): IncomingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));

const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/[^/]+\/leases(\/|$)/;

function resourceVersionOf(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { metadata?: { resourceVersion?: string } };
    return parsed.metadata?.resourceVersion;
  } catch {
    return undefined;
  }
}

export async function startStallProxy(cp: ControlPlane, name: string): Promise<StallProxy> {
  const ca = createCertificateAuthority({ commonName: `${name}-ca`, validityDays: 1 });
  const serving = issueCertificate(ca, {
    commonName: name,
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
    usage: 'server',
  });
  const upstream = new URL(cp.server);
  const agent = new https.Agent({ keepAlive: true, ca: cp.caPem });
  const writes: WriteWindow[] = [];
  let stalled = false;
  let heldCount = 0;
  const held: Array<{ req: IncomingMessage; res: ServerResponse; start: number; gone: boolean }> =
    [];

  const forward = (req: IncomingMessage, res: ServerResponse, start: number) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'https://proxy').pathname;
    const isWrite = method !== 'GET';
    let clientGone = false;
    const record = (status: number, body?: Buffer) => {
      if (!isWrite) return;
      writes.push({
        method,
        path,
        start,
        end: performance.now(),
        status,
        resourceVersion: body ? resourceVersionOf(body) : undefined,
        clientGone,
      });
    };
    const outgoing = https.request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method,
        path: req.url,
        headers: { ...endToEnd(req.headers), host: upstream.host },
        agent,
      },
      (answer) => {
        if (!res.destroyed) {
          res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
          // Watch events must reach the client as they come.
          res.flushHeaders();
          answer.pipe(res);
        }
        const chunks: Buffer[] = [];
        if (isWrite) answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.once('end', () => record(answer.statusCode ?? 0, Buffer.concat(chunks)));
        answer.once('error', () => {
          record(answer.statusCode ?? 0);
          res.destroy();
        });
      },
    );
    outgoing.once('error', (error) => {
      record(0);
      if (res.headersSent || res.destroyed) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(error.message);
    });
    res.once('close', () => {
      clientGone = !res.writableFinished;
      // A reader that goes away (a watch being stopped) ends the upstream
      // request; a write is followed to its answer.
      if (!isWrite) outgoing.destroy();
    });
    req.pipe(outgoing);
  };

  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const start = performance.now();
    const path = new URL(req.url ?? '/', 'https://proxy').pathname;
    if (stalled && LEASES.test(path)) {
      heldCount++;
      const entry = { req, res, start, gone: false };
      res.once('close', () => (entry.gone = true));
      held.push(entry);
      return;
    }
    forward(req, res, start);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigPath = join(cp.dir, `${name}.kubeconfig`);
  await writeFile(
    kubeconfigPath,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name,
          cluster: {
            server: url,
            'certificate-authority-data': Buffer.from(ca.certPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'admin', user: { token: cp.token } }],
      contexts: [{ name, context: { cluster: name, user: 'admin' } }],
      'current-context': name,
    }),
    { mode: 0o600 },
  );
  const release = () => {
    stalled = false;
    // A held request whose client timed out is gone; the others go on, late.
    for (const { req, res, start, gone } of held.splice(0)) if (!gone) forward(req, res, start);
  };
  return {
    kubeconfigPath,
    writes,
    heldLeaseRequests: () => heldCount,
    stallLease: () => {
      stalled = true;
    },
    release,
    close: async () => {
      release();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
