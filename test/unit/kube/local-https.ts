// An HTTPS server on 127.0.0.1 standing in for an API server in unit tests of
// the REST client, with a CA of its own for the kubeconfig to trust.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loopbackTls } from '../../harness/loopback-tls.ts';

let tls: { caPem: string; certPem: string; keyPem: string } | undefined;

/** One CA and serving certificate per test process (key generation is slow). */
export function localTls() {
  if (!tls) {
    const { ca, serving } = loopbackTls('unit-test-api');
    tls = { caPem: ca.certPem, certPem: serving.certPem, keyPem: serving.keyPem };
  }
  return tls;
}

export interface LocalServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function listenLocal(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LocalServer> {
  const { certPem, keyPem } = localTls();
  const server = createServer({ cert: certPem, key: keyPem }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
