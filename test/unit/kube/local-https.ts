// An HTTPS server on 127.0.0.1 standing in for an API server in unit tests of
// the REST client, with a CA of its own for the kubeconfig to trust.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConnection, type Connection } from '../../../src/kube/connection.ts';
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
  /** A connection through a kubeconfig of its own: this server, its CA trusted, a token user. */
  connection(userAgent?: string, token?: string): Connection;
  close(): Promise<void>;
}

export async function listenLocal(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LocalServer> {
  const { certPem, keyPem } = localTls();
  const server = createServer({ cert: certPem, key: keyPem }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'local-https-'));
  let files = 0;
  return {
    server,
    url,
    connection: (userAgent = 'unit-test', token = 'not-a-secret') => {
      const file = join(dir, `kubeconfig-${files++}`);
      writeFileSync(
        file,
        stringify({
          clusters: [
            {
              name: 'c',
              cluster: {
                server: url,
                'certificate-authority-data': Buffer.from(localTls().caPem).toString('base64'),
              },
            },
          ],
          users: [{ name: 'u', user: { token } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
      );
      return loadConnection({ kubeconfig: file, userAgent, env: {} });
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
