// A real Kubernetes control plane for end-to-end tests: etcd, kube-apiserver
// and kube-controller-manager (built by test/controlplane/build.sh) on free
// loopback ports, with throwaway certificates, an admin kubeconfig and the CRD
// installed. The controller manager runs the controllers a namespace's life
// depends on (namespace deletion, the `default` ServiceAccount and its token,
// kube-root-ca.crt, ownerReference garbage collection), so those behave here
// as in a cluster.
// Flags follow controller-runtime's envtest. Nothing here mocks the API server.
//
//   const cp = await startControlPlane();
//   after(() => cp.stop());
//   const { code, stdout } = await cp.kubectl(['get', 'topologyconfigs', '-A']);
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  createCertificateAuthority,
  issueCertificate,
  type CertificateAndKey,
} from '../../src/crypto/certs.ts';
import { CRD_NAME } from '../../src/resource/schema.ts';
import {
  findOnPath,
  freePorts,
  installExitHooks,
  isExecutable,
  launch,
  terminate,
  trackDir,
  untrackDir,
  type Managed,
} from './processes.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUILD_SCRIPT = join(REPO, 'test/controlplane/build.sh');
const CRD_FILE = join(REPO, `deploy/crd/${CRD_NAME}.yaml`);

export interface ControlPlaneOptions {
  /** Directory holding kube-apiserver, kube-controller-manager and etcd; default: whatever build.sh prints (building if needed). */
  binDir?: string;
  /** kubectl binary; default kubectlPath(). */
  kubectl?: string;
  /** Install deploy/crd (default true). */
  installCrd?: boolean;
  /** Extra kube-apiserver flags, appended last (so they win). */
  apiServerArgs?: readonly string[];
  /** Start kube-controller-manager (default true). */
  controllerManager?: boolean;
  /** Time allowed for each component to become ready; default 60 s. */
  readyTimeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  input?: string;
  /** Default 60 s; on expiry kubectl is killed and the result's code is 124. */
  timeoutMs?: number;
}

export interface RestartOptions {
  /** SIGKILL instead of SIGTERM: a crash rather than a graceful stop. */
  crash?: boolean;
}

/** Start-up phases in milliseconds (etcd starts while the certificates are made). */
export interface StartupTimings {
  /** build.sh: a cache lookup once the binaries exist. */
  buildMs: number;
  /** Free ports, launching etcd, certificates, keys and files. */
  certsMs: number;
  /** Further wait until etcd is healthy and the version check is done. */
  etcdMs: number;
  /** kube-apiserver from launch to /readyz. */
  apiServerMs: number;
  /** kubectl apply of the CRD until it is Established. */
  crdMs: number;
  /**
   * kube-controller-manager from launch until the `default` namespace has its
   * ServiceAccount and kube-root-ca.crt (it starts with the CRD install, so
   * the start-up it adds is at most this). 0 without it.
   */
  controllerManagerMs: number;
  totalMs: number;
}

export interface ControlPlane {
  /** The temporary directory holding certificates, data, logs and the kubeconfig. */
  dir: string;
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of an admin user (group system:masters). */
  token: string;
  /** CA of the API server's serving certificate. */
  caPem: string;
  /** The CA the API server trusts for client certificates (issue some with issueCertificate; O= are groups). */
  clientCa: CertificateAndKey;
  etcdUrl: string;
  binDir: string;
  kubectlBin: string;
  /** Server version as kube-apiserver reports it, e.g. v1.34.4. */
  version: string;
  timings: StartupTimings;
  /** Runs kubectl against this control plane as the admin user. */
  kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult>;
  /** Stops and starts kube-apiserver (same port, same etcd); resolves when it is ready again. */
  restartApiServer(options?: RestartOptions): Promise<void>;
  /**
   * Stops and starts etcd (same data); resolves when the API server is ready again.
   * A graceful stop takes etcd several seconds while the API server holds
   * watches open; `crash: true` (SIGKILL) is fast and loses nothing: without
   * fsync, writes still reach the page cache, which a process kill keeps.
   */
  restartEtcd(options?: RestartOptions): Promise<void>;
  /** Process ids of the running components (for fault tests: SIGSTOP, SIGKILL, ...). */
  pids(): { etcd?: number; apiServer?: number; controllerManager?: number };
  /** Last lines of a component's log. */
  logTail(component: Component, lines?: number): string;
  /** Stops kube-controller-manager, kube-apiserver, then etcd, and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager';

/** The Kubernetes version the wrapper module builds (test/controlplane/kube-apiserver/go.mod). */
export function kubernetesVersion(): string {
  const goMod = readFileSync(join(REPO, 'test/controlplane/kube-apiserver/go.mod'), 'utf8');
  const match = /^\s*(?:require\s+)?k8s\.io\/kubernetes (v\d+\.\d+\.\d+)/m.exec(goMod);
  if (!match?.[1])
    throw new Error('cannot read the k8s.io/kubernetes version from the wrapper go.mod');
  return match[1];
}

/**
 * A kubectl within one minor version of the API server: the Google Cloud
 * SDK installs versioned binaries (kubectl.1.33, ...) beside its `kubectl`;
 * the first of the server's minor, one below, one above wins. Otherwise
 * `kubectl` from PATH (startControlPlane then checks the skew).
 */
export function kubectlPath(serverMinor = minorOf(kubernetesVersion())): string {
  const onPath = findOnPath('kubectl');
  if (!onPath) return 'kubectl';
  const dir = dirname(realpathSync(onPath));
  for (const minor of [serverMinor, serverMinor - 1, serverMinor + 1]) {
    const candidate = join(dir, `kubectl.1.${minor}`);
    if (isExecutable(candidate)) return candidate;
  }
  return onPath;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  installExitHooks();
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const t0 = performance.now();
  const lap = (() => {
    let last = t0;
    return () => {
      const now = performance.now();
      const ms = Math.round(now - last);
      last = now;
      return ms;
    };
  })();

  const binDir = options.binDir ?? (await runBuildScript());
  const buildMs = lap();
  const kubectlBin = options.kubectl ?? kubectlPath();
  const dir = await mkdtemp(join(tmpdir(), 'topology-controlplane-'));
  trackDir(dir);
  const procs: { etcd?: Managed; apiServer?: Managed; controllerManager?: Managed } = {};
  let stopping: Promise<void> | undefined;

  // Idempotent: a second call waits for the first.
  const stop = () =>
    (stopping ??= (async () => {
      // Clients first: stopping etcd under the API server makes it log errors and retry.
      if (procs.controllerManager) await terminate(procs.controllerManager);
      if (procs.apiServer) await terminate(procs.apiServer);
      if (procs.etcd) await terminate(procs.etcd);
      await rm(dir, { recursive: true, force: true });
      untrackDir(dir);
    })());

  try {
    const [etcdPort, etcdPeerPort, apiPort, kcmPort] = await freePorts(4);

    // etcd and the version check run while the certificates are made.
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcdArgs = [
      '--name=etcd0',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=etcd0=${peerUrl}`,
      '--initial-cluster-state=new',
      // Test data: durability is not worth the fsync latency.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ];
    const etcdLog = join(dir, 'etcd.log');
    const startEtcd = () => {
      procs.etcd = launch('etcd', join(binDir, 'etcd'), etcdArgs, etcdLog);
      return waitUntil(
        procs.etcd,
        async () => (await httpGet(`${etcdUrl}/health`)).body.includes('"health":"true"'),
        readyTimeoutMs,
      );
    };
    const background = Promise.all([
      checkVersionSkew(join(binDir, 'kube-apiserver'), kubectlBin),
      startEtcd(),
    ]);
    background.catch(() => {}); // awaited below; this only marks it handled meanwhile

    // Certificates and keys.
    const ca = createCertificateAuthority({
      commonName: 'topology-test-apiserver-ca',
      validityDays: 2,
    });
    const serving = issueCertificate(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      validityDays: 2,
      usage: 'server',
    });
    const clientCa = createCertificateAuthority({
      commonName: 'topology-test-client-ca',
      validityDays: 2,
    });
    const serviceAccount = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    // The controller manager's own identity, which the bootstrap RBAC policy
    // binds; each controller then acts as its own ServiceAccount in kube-system.
    const kcmClient = issueCertificate(clientCa, {
      commonName: 'system:kube-controller-manager',
      validityDays: 2,
      usage: 'client',
    });
    const token = randomBytes(24).toString('hex');
    const files = {
      ca: join(dir, 'ca.crt'),
      cert: join(dir, 'apiserver.crt'),
      key: join(dir, 'apiserver.key'),
      clientCa: join(dir, 'client-ca.crt'),
      saPub: join(dir, 'sa.pub'),
      saKey: join(dir, 'sa.key'),
      tokens: join(dir, 'tokens.csv'),
      kubeconfig: join(dir, 'kubeconfig'),
      kcmKubeconfig: join(dir, 'kube-controller-manager.kubeconfig'),
    };
    await Promise.all([
      writeFile(files.ca, ca.certPem),
      writeFile(files.cert, serving.certPem),
      writeFile(files.key, serving.keyPem, { mode: 0o600 }),
      writeFile(files.clientCa, clientCa.certPem),
      writeFile(files.saPub, serviceAccount.publicKey),
      writeFile(files.saKey, serviceAccount.privateKey, { mode: 0o600 }),
      // token,user,uid,"groups"
      writeFile(files.tokens, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 }),
      mkdir(join(dir, 'cert-dir')),
      mkdir(join(dir, 'kcm-cert-dir')),
      mkdir(join(dir, 'kubectl-cache')),
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    await Promise.all([
      writeFile(files.kubeconfig, kubeconfig(server, ca.certPem, { token }), { mode: 0o600 }),
      writeFile(
        files.kcmKubeconfig,
        kubeconfig(server, ca.certPem, {
          'client-certificate-data': Buffer.from(kcmClient.certPem).toString('base64'),
          'client-key-data': Buffer.from(kcmClient.keyPem).toString('base64'),
        }),
        { mode: 0o600 },
      ),
    ]);
    const certsMs = lap();

    const [version] = await background;
    const etcdMs = lap();

    // kube-apiserver.
    const apiServerArgs = [
      '--advertise-address=127.0.0.1',
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${join(dir, 'cert-dir')}`,
      `--tls-cert-file=${files.cert}`,
      `--tls-private-key-file=${files.key}`,
      `--client-ca-file=${files.clientCa}`,
      `--token-auth-file=${files.tokens}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      // Only a setting for service IP allocation: nothing is ever routed there.
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      ...(options.apiServerArgs ?? []),
    ];
    const apiLog = join(dir, 'kube-apiserver.log');
    const readyz = async () => {
      const response = await httpGet(`${server}/readyz`, { ca: ca.certPem, token });
      return response.status === 200;
    };
    const startApiServer = async () => {
      procs.apiServer = launch(
        'kube-apiserver',
        join(binDir, 'kube-apiserver'),
        apiServerArgs,
        apiLog,
      );
      await waitUntil(procs.apiServer, readyz, readyTimeoutMs);
    };
    await startApiServer();
    const apiServerMs = lap();

    const kubectl = (args: readonly string[], kubectlOptions: KubectlOptions = {}) =>
      runKubectl(
        kubectlBin,
        [`--kubeconfig=${files.kubeconfig}`, `--cache-dir=${join(dir, 'kubectl-cache')}`, ...args],
        kubectlOptions,
      );

    // The controller manager starts while the CRD is installed.
    const kcmLog = join(dir, 'kube-controller-manager.log');
    const withControllerManager = options.controllerManager ?? true;
    const controllerManagerReady = withControllerManager
      ? (async () => {
          const started = performance.now();
          procs.controllerManager = launch(
            'kube-controller-manager',
            join(binDir, 'kube-controller-manager'),
            [
              `--kubeconfig=${files.kcmKubeconfig}`,
              '--bind-address=127.0.0.1',
              `--secure-port=${kcmPort}`,
              `--cert-dir=${join(dir, 'kcm-cert-dir')}`,
              '--leader-elect=false',
              '--use-service-account-credentials=true',
              `--controllers=${CONTROLLERS.join(',')}`,
              // Signs the legacy token Secrets; the API server verifies with sa.pub.
              `--service-account-private-key-file=${files.saKey}`,
              // Published as kube-root-ca.crt in every namespace.
              `--root-ca-file=${files.ca}`,
              // Only a setting for service IP allocation (as the API server's).
              '--service-cluster-ip-range=10.0.0.0/24',
              // Namespaces are short-lived in tests: sync them often.
              '--namespace-sync-period=1m',
              '--concurrent-namespace-syncs=5',
            ],
            kcmLog,
          );
          await waitUntil(
            procs.controllerManager,
            async () =>
              (
                await Promise.all([
                  httpGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, {
                    ca: ca.certPem,
                    token,
                  }),
                  httpGet(`${server}/api/v1/namespaces/default/configmaps/kube-root-ca.crt`, {
                    ca: ca.certPem,
                    token,
                  }),
                ])
              ).every((r) => r.status === 200),
            readyTimeoutMs,
          );
          return Math.round(performance.now() - started);
        })()
      : Promise.resolve(0);
    controllerManagerReady.catch(() => {}); // awaited below

    if (options.installCrd ?? true) {
      // Server-side: no last-applied annotation, which a large CRD can overflow.
      await mustKubectl(kubectl, ['apply', '--server-side', '-f', CRD_FILE]);
      await mustKubectl(kubectl, [
        'wait',
        '--for=condition=Established',
        `crd/${CRD_NAME}`,
        `--timeout=${Math.ceil(readyTimeoutMs / 1000)}s`,
      ]);
    }
    const crdMs = lap();
    const controllerManagerMs = await controllerManagerReady;
    lap();

    const logs: Record<Component, string> = {
      etcd: etcdLog,
      'kube-apiserver': apiLog,
      'kube-controller-manager': kcmLog,
    };
    const logTail = (component: Component, lines = 40) => tail(logs[component], lines);

    return {
      dir,
      kubeconfigPath: files.kubeconfig,
      server,
      token,
      caPem: ca.certPem,
      clientCa,
      etcdUrl,
      binDir,
      kubectlBin,
      version,
      timings: {
        buildMs,
        certsMs,
        etcdMs,
        apiServerMs,
        crdMs,
        controllerManagerMs,
        totalMs: Math.round(performance.now() - t0),
      },
      kubectl,
      async restartApiServer(restart: RestartOptions = {}) {
        if (procs.apiServer)
          await terminate(procs.apiServer, restart.crash ? 'SIGKILL' : 'SIGTERM');
        await startApiServer();
      },
      async restartEtcd(restart: RestartOptions = {}) {
        if (procs.etcd) await terminate(procs.etcd, restart.crash ? 'SIGKILL' : 'SIGTERM');
        await startEtcd();
        // The API server reconnects by itself; wait until it has.
        await waitUntil(procs.apiServer!, readyz, readyTimeoutMs);
      },
      pids: () => ({
        ...(procs.etcd && !procs.etcd.done ? { etcd: procs.etcd.child.pid } : {}),
        ...(procs.apiServer && !procs.apiServer.done
          ? { apiServer: procs.apiServer.child.pid }
          : {}),
        ...(procs.controllerManager && !procs.controllerManager.done
          ? { controllerManager: procs.controllerManager.child.pid }
          : {}),
      }),
      logTail,
      stop,
    };
  } catch (error) {
    const logs = [
      ['etcd', join(dir, 'etcd.log')],
      ['kube-apiserver', join(dir, 'kube-apiserver.log')],
      ['kube-controller-manager', join(dir, 'kube-controller-manager.log')],
    ]
      .map(([name, path]) => `--- ${name} log (last lines) ---\n${tail(path!, 30)}`)
      .join('\n');
    await stop();
    throw new Error(
      `control plane in ${dir} failed to start: ${(error as Error).message}\n${logs}`,
      {
        cause: error,
      },
    );
  }
}

// --- processes ---------------------------------------------------------------

// Polls `ready` until it returns true; fails early when the process exits.
async function waitUntil(
  proc: Managed,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError = 'not ready';
  while (performance.now() < deadline) {
    if (proc.done) throw new Error(`${proc.name} ${await proc.exited} before it was ready`);
    try {
      if (await ready()) return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${proc.name} was not ready after ${timeoutMs} ms (${lastError})`);
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// --- helpers -----------------------------------------------------------------

/** Runs a build script of the Go tools (cached; builds on a fresh machine); the bin dir it prints. */
export function runBuildScript(script = BUILD_SCRIPT): Promise<string> {
  return new Promise((resolve, reject) => {
    // A cold build takes minutes; a warm one is a cache lookup.
    execFile(
      'bash',
      [script],
      { timeout: 60 * 60_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const binDir = stdout.trim().split('\n').pop() ?? '';
        if (error || !binDir) {
          reject(new Error(`${relative(REPO, script)} failed: ${error?.message}\n${stderr}`));
        } else {
          resolve(binDir);
        }
      },
    );
  });
}

function runKubectl(
  bin: string,
  args: readonly string[],
  options: KubectlOptions,
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${bin}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(kubectl killed after ${options.timeoutMs ?? 60_000} ms)`;
      resolve({ code: timedOut ? 124 : (code ?? 128 + (signal ? 9 : 0)), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // kubectl may exit before reading its input
    child.stdin.end(options.input ?? '');
  });
}

async function mustKubectl(
  kubectl: (args: readonly string[]) => Promise<KubectlResult>,
  args: readonly string[],
): Promise<string> {
  const result = await kubectl(args);
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

// Fails clearly when kubectl and kube-apiserver are more than one minor
// version apart (Kubernetes' supported skew). Returns the server version.
async function checkVersionSkew(apiServerBin: string, kubectlBin: string): Promise<string> {
  const [server, client] = await Promise.all([
    execText(apiServerBin, ['--version']),
    execText(kubectlBin, ['version', '--client', '-o', 'json']),
  ]);
  const serverVersion = /Kubernetes (v\d+\.\d+\.\d+)/.exec(server)?.[1];
  const clientVersion = (JSON.parse(client) as { clientVersion?: { gitVersion?: string } })
    .clientVersion?.gitVersion;
  if (!serverVersion || !clientVersion) {
    throw new Error(
      `cannot read versions (kube-apiserver: ${server.trim()}; kubectl: ${client.trim()})`,
    );
  }
  if (Math.abs(minorOf(serverVersion) - minorOf(clientVersion)) > 1) {
    throw new Error(
      `kubectl ${kubectlBin} is ${clientVersion} but kube-apiserver is ${serverVersion}: ` +
        'use a kubectl within one minor version (pass options.kubectl)',
    );
  }
  return serverVersion;
}

function execText(bin: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 30_000 }, (error, stdout) =>
      error ? reject(new Error(`${bin} ${args.join(' ')}: ${error.message}`)) : resolve(stdout),
    );
  });
}

function minorOf(version: string): number {
  const minor = /^v?\d+\.(\d+)/.exec(version)?.[1];
  if (minor === undefined) throw new Error(`not a version: ${version}`);
  return Number(minor);
}

function httpGet(
  url: string,
  auth?: { ca: string; token: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? https : http).get(
      url,
      {
        timeout: 5_000,
        ...(auth ? { ca: auth.ca, headers: { authorization: `Bearer ${auth.token}` } } : {}),
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

// What a namespace's life needs, as a cluster has it (kube-controller-manager's
// own names for them, `--controllers`).
const CONTROLLERS = [
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'garbage-collector-controller',
];

function kubeconfig(server: string, caPem: string, user: Record<string, string>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'topology-test',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: 'admin', user }],
    contexts: [
      {
        name: 'topology-test',
        context: { cluster: 'topology-test', user: 'admin', namespace: 'default' },
      },
    ],
    'current-context': 'topology-test',
  });
}
