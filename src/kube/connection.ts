// Where the API server is and how to prove who we are, resolved once at
// start, in the order controller-runtime resolves it: an explicit kubeconfig
// (--kubeconfig), KUBECONFIG (files merged as kubectl merges them), the
// Pod's service account, ~/.kube/config. Each request then asks for its
// options: TLS (CA, client certificate, server name) and a bearer token kept
// current (a token file re-read each minute, an exec plugin's credential
// until it expires, either renewed at once after a 401).
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecCredential } from './exec-credential.ts';
import {
  KubeconfigError,
  readKubeconfigs,
  type ClusterTarget,
  type KubeconfigTarget,
  type Material,
  type UserCredentials,
} from './kubeconfig.ts';

/** The options of one request, and what to do if the API server answers it 401. */
export interface PreparedRequest {
  /** protocol, hostname, port, TLS and headers (authorization, user-agent); add method, path, agent. */
  options: RequestOptions & { headers: Record<string, string> };
  /** The credentials were refused: renew them if they can be; true if another try may succeed. */
  unauthorized(): boolean;
}

export interface Connection {
  /** The API server's base URL (a path in it prefixes every request). */
  readonly server: URL;
  /** Where the settings came from, for the start-up log (paths and a context name, no secrets). */
  readonly origin: string;
  prepare(): Promise<PreparedRequest>;
}

export interface LoadOptions {
  /** A kubeconfig path (or several, joined as in KUBECONFIG); the server's --kubeconfig. */
  kubeconfig?: string;
  /** Another context than the current-context. */
  context?: string;
  userAgent: string;
  env?: Record<string, string | undefined>;
  home?: string;
  /** The service account's mounted files (a test's own directory). */
  serviceAccountDir?: string;
  now?: () => number;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a token or client certificate read from a file is used before it is read again (both rotate). */
export const CREDENTIAL_FILE_TTL_MS = 60_000;
/** An exec credential is renewed this long before it expires, so no request carries one that lapses in flight. */
const EXPIRY_MARGIN_MS = 10_000;

export function loadConnection(options: LoadOptions): Connection {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const target = resolveTarget(options, env);
  const server = new URL(target.cluster.server);
  const ca = target.cluster.ca ? read(target.cluster.ca) : undefined;
  const tls: RequestOptions = {
    protocol: 'https:',
    // A URL keeps an IPv6 address in brackets; a socket wants it bare.
    hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: server.port || 443,
    ...(ca ? { ca } : {}),
    ...(target.cluster.tlsServerName ? { servername: target.cluster.tlsServerName } : {}),
    ...(target.cluster.insecure ? { rejectUnauthorized: false } : {}),
  };
  const credentials = credentialSource(target, ca, env, now);
  return {
    server,
    origin: target.origin,
    prepare: async () => {
      const held = await credentials.current();
      return {
        options: {
          ...tls,
          ...(held.cert ? { cert: held.cert, key: held.key } : {}),
          headers: {
            'user-agent': options.userAgent,
            ...(held.token ? { authorization: `Bearer ${held.token}` } : {}),
          },
        },
        unauthorized: () => credentials.renew(held),
      };
    },
  };
}

function resolveTarget(
  options: LoadOptions,
  env: Record<string, string | undefined>,
): KubeconfigTarget {
  const list = (value: string) => value.split(':').filter((file) => file !== '');
  if (options.kubeconfig) return readKubeconfigs(list(options.kubeconfig), options.context);
  if (env.KUBECONFIG) return readKubeconfigs(list(env.KUBECONFIG), options.context);
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    if (options.context)
      throw new KubeconfigError(
        `context "${options.context}": in a Pod there is no kubeconfig to choose from`,
      );
    return inCluster(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  }
  const home = join(options.home ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return readKubeconfigs([home], options.context);
  throw new KubeconfigError(
    'no cluster to talk to: pass --kubeconfig, set KUBECONFIG, run in a Pod with a service account, or create ~/.kube/config',
  );
}

/** The Pod's service account, as client-go's in-cluster config reads it. */
function inCluster(env: Record<string, string | undefined>, dir: string): KubeconfigTarget {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const tokenFile = join(dir, 'token');
  if (!existsSync(tokenFile)) {
    throw new KubeconfigError(
      `in-cluster: ${tokenFile} does not exist (is the service account token mounted? automountServiceAccountToken)`,
    );
  }
  const caFile = join(dir, 'ca.crt');
  return {
    origin: `in-cluster service account (${dir})`,
    context: 'in-cluster',
    cluster: {
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT}`,
      insecure: false,
      // Without it, the system's roots (as client-go does).
      ...(existsSync(caFile) ? { ca: { file: caFile, field: `in-cluster: ${caFile}` } } : {}),
    },
    user: { tokenFile },
  };
}

function read(material: Material): Buffer {
  if ('data' in material) return material.data;
  try {
    return readFileSync(material.file);
  } catch (error) {
    throw new KubeconfigError(
      `${material.field}: ${material.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

interface Held {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
}

interface CredentialSource {
  current(): Promise<Held>;
  /** `held` was refused: forget it (if it is still the current one); true if what comes next may differ. */
  renew(held: Held): boolean;
}

function credentialSource(
  target: KubeconfigTarget,
  caData: Buffer | undefined,
  env: Record<string, string | undefined>,
  now: () => number,
): CredentialSource {
  const user: UserCredentials = target.user;
  if (user.exec) {
    const plugin = user.exec;
    const cluster: ClusterTarget & { caData?: Buffer } = {
      ...target.cluster,
      ...(caData ? { caData } : {}),
    };
    return renewing(
      // Loaded only for a plugin: node:child_process alone is ~3 MiB of RSS.
      async () => (await import('./exec-credential.ts')).runExecPlugin(plugin, cluster, env),
      (credential: ExecCredential) =>
        credential.expiresAt === undefined || credential.expiresAt - EXPIRY_MARGIN_MS > now(),
    );
  }
  // Files are read again once a minute (and after a 401): bound service
  // account tokens rotate, and so do client certificates (a kubelet-style
  // rotation replaces the file). Inline credentials never change.
  const rotates =
    [user.cert, user.key].some((m) => m !== undefined && 'file' in m) ||
    (!user.token && user.tokenFile !== undefined);
  const readAll = (): Held & { readAt: number } => ({
    ...(user.cert && user.key ? { cert: read(user.cert), key: read(user.key) } : {}),
    // A token in the kubeconfig wins over its tokenFile, as in client-go.
    ...(user.token
      ? { token: user.token }
      : user.tokenFile
        ? { token: readToken(user.tokenFile) }
        : {}),
    readAt: now(),
  });
  // Read once now, so a missing or unreadable file fails the start.
  const first = readAll();
  if (!rotates) return { current: async () => first, renew: () => false };
  return renewing(
    async () => readAll(),
    (held) => now() - held.readAt < CREDENTIAL_FILE_TTL_MS,
    first,
  );
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new KubeconfigError(
      `token file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** One credential at a time, fetched by `fetch` while `fresh` holds; concurrent callers share one fetch. */
function renewing<T extends Held>(
  fetch: () => Promise<T>,
  fresh: (held: T) => boolean,
  initial?: T,
): CredentialSource {
  let held: T | undefined = initial;
  let fetching: Promise<T> | undefined;
  return {
    current: async () => {
      if (held && fresh(held)) return held;
      fetching ??= fetch().finally(() => (fetching = undefined));
      held = await fetching;
      return held;
    },
    renew: (refused) => {
      if (held === refused) held = undefined;
      return true;
    },
  };
}

/** `name/version (role)`, the version from the product's package.json. */
export function userAgent(name: string, role: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: string };
      return `${name}/${version ?? 'unknown'} (${role})`;
    }
    const parent = dirname(dir);
    if (parent === dir) return `${name}/unknown (${role})`;
    dir = parent;
  }
}
