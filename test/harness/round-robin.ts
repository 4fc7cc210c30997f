// A TCP round-robin over several replicas' webhook ports, on loopback: what
// a Service in front of a Deployment does. TLS passes through untouched, so
// the API server talks to each replica as it would in a cluster. Each new
// connection goes to the next replica; the API server opens many.
import net from 'node:net';

export interface Proxy {
  port: number;
  connections: number[];
  setTargets(ports: number[]): void;
  close(): Promise<void>;
}

/** A TCP round-robin over the replicas' webhook ports (TLS passes through). */
export async function roundRobinProxy(): Promise<Proxy> {
  let targets: number[] = [];
  let next = 0;
  const connections: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (targets.length === 0) return client.destroy();
    const i = next++ % targets.length;
    connections[i] = (connections[i] ?? 0) + 1;
    const upstream = net.connect(targets[i]!, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    connections,
    setTargets(ports) {
      targets = ports;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
