// A fault injector in front of the REAL kube-apiserver — not a mock: every
// request is forwarded to the API server of the test control plane and its
// answer (watch streams included) is piped back unchanged, except that the
// FIRST attempt of each write (POST, PUT, PATCH; keyed by method and path)
// is answered with 409 Conflict, the way a stale resourceVersion or a racing
// writer makes the API server answer. The product is pointed at it through a
// kubeconfig of its own (the proxy's URL and CA, the admin token, which the
// proxy forwards untouched).
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/certs.ts';
import type { ControlPlane } from '../harness/controlplane.ts';

export interface ConflictProxy {
  url: string;
  /** A kubeconfig for the product: the proxy's URL and CA, the control plane's admin token. */
  kubeconfigPath: string;
  /** 409s injected, per `METHOD path`. */
  injected: Map<string, number>;
  /** Requests forwarded to the API server, by method. */
  forwarded: Map<string, number>;
  close(): Promise<void>;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH']);
const REVIEWS = /^\/apis\/(authorization|authentication)\.k8s\.io\//;
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

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

export async function startConflictProxy(cp: ControlPlane): Promise<ConflictProxy> {
  const ca = createCertificateAuthority({ commonName: 'chaos-conflict-proxy-ca', validityDays: 1 });
  const serving = issueCertificate(ca, {
    commonName: 'chaos-conflict-proxy',
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
    usage: 'server',
  });
  const upstream = new URL(cp.server);
  const agent = new https.Agent({ keepAlive: true, ca: cp.caPem });
  const seen = new Set<string>();
  const injected = new Map<string, number>();
  const forwarded = new Map<string, number>();

  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'https://proxy').pathname;
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
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        // Watch events must reach the client as they come.
        res.flushHeaders();
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    outgoing.once('error', (error) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(error.message);
    });
    // A client that goes away (a watch being stopped) ends the upstream request too.
    res.once('close', () => outgoing.destroy());
    req.pipe(outgoing);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeconfigPath = join(cp.dir, 'conflict-proxy.kubeconfig');
  await writeFile(
    kubeconfigPath,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'via-proxy',
          cluster: {
            server: url,
            'certificate-authority-data': Buffer.from(ca.certPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'admin', user: { token: cp.token } }],
      contexts: [{ name: 'via-proxy', context: { cluster: 'via-proxy', user: 'admin' } }],
      'current-context': 'via-proxy',
    }),
    { mode: 0o600 },
  );

  return {
    url,
    kubeconfigPath,
    injected,
    forwarded,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
