// Starting and stopping the small operational servers (probes, metrics) the
// same way: listen on the configured address, report it, close promptly.
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { BindAddress } from '../flags/values.ts';

export interface ListeningServer {
  /** Where it listens (the port is useful when the address asked for port 0). */
  address(): AddressInfo;
  /** Stops listening and ends open keep-alive connections. */
  close(): Promise<void>;
}

export function listen(
  server: HttpServer | HttpsServer,
  bind: BindAddress,
  logger: Logger,
  what: string,
): Promise<ListeningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host || undefined, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      logger.info({ address: `${address.address}:${address.port}` }, `${what} listening`);
      resolve({
        address: () => address,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
