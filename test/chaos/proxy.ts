// What the fault-injecting proxies share: a TLS server on loopback in front
// of the REAL kube-apiserver of a test control plane (not a mock), a
// kubeconfig for the product (the proxy's URL and CA, the admin token, which
// the proxy forwards untouched), and forwarding that pipes every answer back
// unchanged, watch streams included. Each proxy decides per request whether
// to forward it, answer it itself, or hold it.
import { writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loopbackTls } from '../harness/loopback-tls.ts';
import type { ControlPlane } from '../harness/controlplane.ts';

/** A write as it went through: from when it reached the proxy until the API server's answer ended. */
export interface ForwardedWrite {
  method: string;
  path: string;
  /** performance.now() values. */
  start: number;
  end: number;
  /** The API server's status code (0: no answer, the connection failed). */
  status: number;
  /** The API server's answer. */
  body: Buffer;
  /** Whether the client had gone (its timeout) before the answer ended. */
  clientGone: boolean;
}

/**
 * Forwards one request to the API server and pipes the answer back. A reader
 * that goes away (a watch being stopped) ends the upstream request; a write
 * is followed to the API server's answer, which may commit it after the
 * client left.
 */
export type Forward = (req: IncomingMessage, res: ServerResponse, start?: number) => void;

export interface Proxy {
  url: string;
  kubeconfigPath: string;
  /** Forwards a request the proxy held back. */
  forward: Forward;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** Decides what happens to each request; `forward` sends it on. */
  handle(req: IncomingMessage, res: ServerResponse, forward: Forward): void;
  /** Called for each write (every method but GET) once the API server's answer ended. */
  onWrite?(write: ForwardedWrite): void;
}

// Hop-by-hop headers belong to one connection, not to the request.
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

/** The path of a request, without its query. */
export const pathOf = (req: IncomingMessage): string =>
  new URL(req.url ?? '/', 'https://proxy').pathname;

export async function startProxy(
  cp: ControlPlane,
  name: string,
  options: ProxyOptions,
): Promise<Proxy> {
  const { ca, serving } = loopbackTls(name);
  const upstream = new URL(cp.server);
  const agent = new https.Agent({ keepAlive: true, ca: cp.caPem });

  const forward: Forward = (req, res, start = performance.now()) => {
    const method = req.method ?? 'GET';
    const isWrite = method !== 'GET';
    let clientGone = false;
    const chunks: Buffer[] = [];
    let recorded = false;
    const record = (status: number) => {
      if (!isWrite || recorded) return;
      recorded = true;
      options.onWrite?.({
        method,
        path: pathOf(req),
        start,
        end: performance.now(),
        status,
        body: Buffer.concat(chunks),
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
        if (isWrite) answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.once('end', () => record(answer.statusCode ?? 0));
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
      if (!isWrite) outgoing.destroy();
    });
    req.pipe(outgoing);
  };

  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) =>
    options.handle(req, res, forward),
  );
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
  return {
    url,
    kubeconfigPath,
    forward,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
