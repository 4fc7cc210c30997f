// Runs the product as a separate process against a test control plane, the
// way it runs in production: its own kubeconfig, its own ports, the webhook
// configurations of deploy/overlays/local pointed at it, its CA injected by
// the server itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, closeSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { ControlPlane } from './controlplane.ts';

const REPO = resolve(import.meta.dirname, '../..');
const MAIN = join(REPO, 'src/server/main.ts');
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface Product {
  name: string;
  webhookPort: number;
  probePort: number;
  metricsPort: number;
  pid(): number | undefined;
  /** Its log lines, parsed (JSON lines from pino). */
  logs(): Array<Record<string, unknown>>;
  logText(): string;
  ready(): Promise<boolean>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait for the exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash or an OOM kill would. */
  kill(): Promise<void>;
  /** Starts the process again with the same ports and flags. */
  restart(): Promise<void>;
}

export interface ProductOptions {
  name?: string;
  args?: string[];
  leaderElect?: boolean;
  webhookPort?: number;
  metricsPort?: number;
  /** A kubeconfig other than the control plane's admin one (e.g. a ServiceAccount's). */
  kubeconfigPath?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

export async function startProduct(
  cp: ControlPlane,
  options: ProductOptions = {},
): Promise<Product> {
  const name = options.name ?? 'product';
  const webhookPort = options.webhookPort ?? (await freePort());
  const probePort = await freePort();
  const metricsPort = options.metricsPort ?? (await freePort());
  const logPath = join(cp.dir, `${name}.log`);
  const args = [
    MAIN,
    `--kubeconfig=${options.kubeconfigPath ?? cp.kubeconfigPath}`,
    `--webhook-bind-address=127.0.0.1:${webhookPort}`,
    `--health-probe-bind-address=127.0.0.1:${probePort}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    '--webhook-host=127.0.0.1',
    '--log-level=debug',
    ...(options.leaderElect
      ? [
          '--leader-elect',
          '--leader-election-namespace=harikube-system',
          '--leader-elect-lease-duration=4s',
          '--leader-elect-renew-deadline=3s',
          '--leader-elect-retry-period=500ms',
        ]
      : []),
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);

  const launch = () => {
    const fd = openSync(logPath, 'a');
    child = spawn(process.execPath, args, {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, POD_NAMESPACE: 'harikube-system' },
    });
    closeSync(fd);
    live.add(child);
    const current = child;
    exited = new Promise((resolveExit) =>
      current.once('exit', (code) => {
        live.delete(current);
        resolveExit(code);
      }),
    );
  };
  launch();

  const logText = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const ready = () =>
    new Promise<boolean>((resolveReady) => {
      const request = http.get(
        { host: '127.0.0.1', port: probePort, path: '/readyz', timeout: 2000 },
        (res) => {
          res.resume();
          resolveReady(res.statusCode === 200);
        },
      );
      request.on('error', () => resolveReady(false));
      request.on('timeout', () => request.destroy());
    });
  const waitReady = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) {
        throw new Error(`${name} exited with ${child.exitCode}:\n${logText().slice(-3000)}`);
      }
      if (await ready()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} not ready after ${timeoutMs} ms:\n${logText().slice(-3000)}`);
  };

  return {
    name,
    webhookPort,
    probePort,
    metricsPort,
    pid: () => child?.pid,
    logText,
    logs: () =>
      logText()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    ready,
    waitReady,
    stop: async () => {
      if (!child || child.exitCode !== null) return child?.exitCode ?? null;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    kill: async () => {
      if (!child || child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    restart: async () => {
      launch();
      await waitReady();
    },
  };
}

/** Installs the namespaces, RBAC and webhook configurations of deploy/overlays/local, pointed at `port`. */
export async function registerWebhooks(cp: ControlPlane, port: number): Promise<void> {
  const rendered = await cp.kubectl(['kustomize', join(REPO, 'deploy/overlays/local')]);
  if (rendered.code !== 0) throw new Error(`kubectl kustomize failed: ${rendered.stderr}`);
  const manifest = rendered.stdout.replaceAll(
    'https://127.0.0.1:9443/',
    `https://127.0.0.1:${port}/`,
  );
  const applied = await cp.kubectl(['apply', '-f', '-'], { input: manifest });
  if (applied.code !== 0)
    throw new Error(`kubectl apply of the webhook configurations failed: ${applied.stderr}`);
}

export async function unregisterWebhooks(cp: ControlPlane): Promise<void> {
  await cp.kubectl([
    'delete',
    'validatingwebhookconfiguration,mutatingwebhookconfiguration',
    'topology-webhook',
    '--ignore-not-found',
  ]);
}
