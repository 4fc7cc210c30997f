// Runs the product as a separate process against a test control plane, the
// way it runs in production: its own kubeconfig, its own ports, the webhook
// configurations of deploy/overlays/local pointed at it, its CA injected by
// the server itself.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import type { ControlPlane } from './controlplane.ts';
import { freePorts, launch, terminate, type Managed } from './processes.ts';

const REPO = resolve(import.meta.dirname, '../..');
const MAIN = join(REPO, 'src/server/main.ts');

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
  /** The entry point (default src/server/main.ts; the image runs the compiled dist/src/server/main.js). */
  main?: string;
  /** Node and V8 flags before the entry point (e.g. --max-old-space-size=…). */
  nodeArgs?: readonly string[];
  /** Extra environment (e.g. NODE_OPTIONS as the image sets it). */
  env?: Record<string, string>;
  /** Rewrites the command line, e.g. to start the process inside a memory cgroup. */
  wrap?: (bin: string, args: readonly string[]) => [string, string[]];
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
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
    ...(options.nodeArgs ?? []),
    options.main ?? MAIN,
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
    // The suites that test the merge run with every namespace a platform
    // one; tenancy.test.ts passes its own --platform-namespaces.
    ...(options.args?.some((a) => a.startsWith('--platform-namespaces'))
      ? []
      : ['--platform-namespaces=*']),
    ...(options.args ?? []),
  ];
  let proc: Managed;
  const start = () => {
    const [bin, argv] = options.wrap?.(process.execPath, args) ?? [process.execPath, args];
    proc = launch(name, bin, argv, logPath, {
      ...process.env,
      POD_NAMESPACE: 'harikube-system',
      ...options.env,
    });
  };
  start();

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
      if (proc.done) throw new Error(`${name} ${await proc.exited}:\n${logText().slice(-3000)}`);
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
    pid: () => proc.child.pid,
    logText,
    logs: () =>
      logText()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    ready,
    waitReady,
    stop: async () => {
      await terminate(proc, 'SIGTERM', 30_000);
      return proc.child.exitCode;
    },
    kill: () => terminate(proc, 'SIGKILL'),
    restart: async () => {
      start();
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
