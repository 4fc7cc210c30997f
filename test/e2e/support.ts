// The one helper module of the end-to-end and fault tests: the environment
// (a real control plane, deploy/overlays/local's namespaces, RBAC and webhook
// configurations, the product as its own processes), kubectl the way a user
// runs it, reads straight from the API server (for polling and timing, where
// a kubectl process per poll is too coarse), and polling for the
// eventually-consistent outcomes of a controller.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before } from 'node:test';
import { ENDPOINT_KEYS_LABEL, ENDPOINT_KEYS_VALUE } from '../../src/resource/names.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import {
  freePort,
  registerWebhooks,
  startProduct,
  unregisterWebhooks,
  type Product,
  type ProductOptions,
} from '../harness/product.ts';
import { roundRobinProxy, type Proxy } from '../harness/round-robin.ts';

// --- the environment -----------------------------------------------------------

export interface EnvOptions {
  /**
   * Whether the webhook configurations stay registered, pointed at the first
   * product (default true). Without, they are removed, as if the webhook
   * were bypassed; the namespaces and RBAC stay.
   */
  webhooks?: boolean;
  /**
   * The webhook configurations point at a round-robin TCP proxy over every
   * product's webhook port (what a Service does), instead of at the first.
   */
  webhookProxy?: boolean;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: readonly string[];
  /** Namespaces created before the products start. */
  namespaces?: readonly string[];
  /** Flags of every product process, before each one's own `args`. */
  productArgs?: readonly string[];
  /**
   * One product process per entry (default: one, named "product"), started
   * together. A function is called once the namespaces and RBAC exist, for
   * options that need the control plane (a kubeconfig of their own).
   */
  products?: readonly ProductOptions[] | ((cp: ControlPlane) => Promise<ProductOptions[]>);
}

export interface Env {
  cp: ControlPlane;
  /** With `webhookProxy`: the proxy, and how many connections it gave each product. */
  proxy?: Proxy;
  /** The product processes, in the order of `options.products`. */
  products: Product[];
  /** The first product: the one the webhook configurations point at. */
  product: Product;
  /** Stops every product, then the control plane, even if a part fails. */
  stop(): Promise<void>;
}

/** Every target Secret in harikube/ is allowed, so that each test owns its own. */
export const ALLOW_HARIKUBE_TARGETS = '--allowed-target-secrets=harikube/*';

export async function startEnv(options: EnvOptions = {}): Promise<Env> {
  const cp = await startControlPlane({ apiServerArgs: options.apiServerArgs ?? [] });
  const products: Product[] = [];
  const proxy = options.webhookProxy ? await roundRobinProxy() : undefined;
  const stop = async () => {
    // Each one even if another fails: nothing may outlive the file.
    const results = await Promise.allSettled(products.map((p) => p.stop()));
    await proxy?.close();
    await cp.stop();
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  };
  try {
    const webhookPort = await freePort();
    await registerWebhooks(cp, proxy?.port ?? webhookPort);
    if (options.webhooks === false) await unregisterWebhooks(cp);
    for (const namespace of options.namespaces ?? []) await ensureNamespace(cp, namespace);
    const list =
      typeof options.products === 'function'
        ? await options.products(cp)
        : (options.products ?? [{}]);
    for (const [i, productOptions] of list.entries()) {
      products.push(
        await startProduct(cp, {
          ...productOptions,
          args: [...(options.productArgs ?? []), ...(productOptions.args ?? [])],
          ...(i === 0 ? { webhookPort } : {}),
        }),
      );
    }
    proxy?.setTargets(products.map((p) => p.webhookPort));
    // Ready together: replicas race (for the Lease, the shared TLS Secret) as in a Deployment.
    await Promise.all(products.map((p) => p.waitReady(60_000)));
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return { cp, products, product: products[0]!, stop, ...(proxy ? { proxy } : {}) };
}

/**
 * The environment of the current file (or suite): started in a `before`
 * hook, stopped in an `after` hook. Its fields are there once it has
 * started: inside tests and the hooks of suites. (node runs a file's
 * top-level `before` hooks as they are registered, without waiting for one
 * another, so setup that needs the environment goes into a suite's `before`.)
 */
export function useEnv(options: EnvOptions = {}): Env {
  let env: Env | undefined;
  before(async () => {
    env = await startEnv(options);
  });
  after(async () => {
    await env?.stop();
  });
  const started = () => env ?? assert.fail('the environment is started in a before hook');
  return {
    get cp() {
      return started().cp;
    },
    get products() {
      return started().products;
    },
    get proxy() {
      return started().proxy;
    },
    get product() {
      return started().product;
    },
    stop: () => started().stop(),
  };
}

/** Runs `body` with the environment; a failure also prints the last lines of each product's log. */
export async function withLogs(env: Env, body: (env: Env) => Promise<void>): Promise<void> {
  try {
    await body(env);
  } catch (error) {
    // The runner prints stderr beside the failure; an assertion's diff stays readable.
    for (const p of env.products)
      process.stderr.write(`--- ${p.name} log (last lines) ---\n${p.logText().slice(-8000)}\n`);
    throw error;
  }
}

// --- polling -------------------------------------------------------------------

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
  );
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- kubectl -------------------------------------------------------------------

/** `kubectl apply -f -`; resolves to kubectl's result (code, stdout, stderr). */
export function apply(cp: ControlPlane, yaml: string, extraArgs: string[] = []) {
  return cp.kubectl(['apply', '-f', '-', ...extraArgs], { input: yaml });
}

export async function mustApply(
  cp: ControlPlane,
  yaml: string,
  extraArgs: string[] = [],
): Promise<string> {
  const result = await apply(cp, yaml, extraArgs);
  assert.equal(result.code, 0, `kubectl apply failed: ${result.stderr}`);
  return result.stdout + result.stderr;
}

/**
 * `kubectl delete topologyconfig`; `flag` is `--wait=false` (return once the
 * deletion is accepted) or `--timeout=…` (wait until the object is gone).
 */
export function deleteConfig(cp: ControlPlane, namespace: string, name: string, flag: string) {
  return cp.kubectl(['delete', 'topologyconfig', '-n', namespace, name, flag]);
}

export async function mustDeleteConfig(
  cp: ControlPlane,
  namespace: string,
  name: string,
  flag: string,
): Promise<void> {
  const result = await deleteConfig(cp, namespace, name, flag);
  assert.equal(result.code, 0, result.stderr);
}

/** The annotation that lets an Active config be changed unsafely or deleted. */
export const OVERRIDE = { 'harikube.info/allow-unsafe-routing-change': 'true' };

/** `kubectl annotate` of OVERRIDE onto an existing config. */
export async function annotateOverride(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<void> {
  const result = await cp.kubectl([
    'annotate',
    'topologyconfig',
    '-n',
    namespace,
    name,
    'harikube.info/allow-unsafe-routing-change=true',
  ]);
  assert.equal(result.code, 0, result.stderr);
}

export async function getJson<T = unknown>(
  cp: ControlPlane,
  args: string[],
): Promise<T | undefined> {
  const result = await cp.kubectl(['get', ...args, '-o', 'json']);
  if (result.code !== 0) {
    if (/NotFound|not found/.test(result.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(' ')}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

export interface EventObject {
  reason: string;
  type: string;
  message: string;
}

/** The Events recorded for the objects named `name` in `namespace`. */
export async function eventsOf(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<EventObject[]> {
  const list = await getJson<{ items: EventObject[] }>(cp, [
    'events',
    '-n',
    namespace,
    `--field-selector=involvedObject.name=${name}`,
  ]);
  return list?.items ?? [];
}

/** `kubectl create namespace`; one that exists already is left as it is. */
export async function ensureNamespace(cp: ControlPlane, name: string): Promise<void> {
  await cp.kubectl(['create', 'namespace', name]);
}

// --- the API server, directly ------------------------------------------------------

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** One request to the API server as the admin user; JSON in and out. */
export function api<T = unknown>(
  cp: ControlPlane,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<ApiResponse<T>> {
  const url = new URL(path, cp.server);
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method,
        ca: cp.caPem,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${cp.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': contentType }),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on('error', reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export const configPath = (namespace: string, name: string) =>
  `/apis/harikube.info/v1/namespaces/${namespace}/topologyconfigs/${name}`;
export const secretPath = (namespace: string, name: string) =>
  `/api/v1/namespaces/${namespace}/secrets/${name}`;

/** The parts of a TopologyConfig the tests read. */
export interface ConfigObject {
  metadata: {
    name: string;
    namespace: string;
    generation: number;
    creationTimestamp: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    finalizers?: string[];
  };
  spec: { targetSecret?: string; position?: number };
  status?: {
    deployStatus?: string;
    deployStatusReason?: string;
    observedGeneration?: number;
    keptInSecret?: boolean;
  };
}

/** A config whose status has been written. */
export type ReportedConfig = ConfigObject & {
  status: { deployStatus: string; deployStatusReason: string; observedGeneration: number };
};

/** GET of one object; undefined when it does not exist. */
async function getObject<T>(cp: ControlPlane, path: string): Promise<T | undefined> {
  const response = await api<T>(cp, 'GET', path);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status}`);
  return response.body;
}

/** The config, or undefined when it does not exist. */
export function readConfig(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<ConfigObject | undefined> {
  return getObject<ConfigObject>(cp, configPath(namespace, name));
}

interface SecretObject {
  type: string;
  metadata: { resourceVersion: string; labels?: Record<string, string>; finalizers?: string[] };
  data?: Record<string, string>;
}

export interface SecretView {
  resourceVersion: string;
  labels: Record<string, string>;
  finalizers: string[];
  type: string;
  /** Decoded data, keys in the API server's (lexical) order. */
  data: Record<string, string>;
}

/** A Secret with its data decoded, or undefined when it does not exist. */
export async function readSecret(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<SecretView | undefined> {
  const secret = await getObject<SecretObject>(cp, secretPath(namespace, name));
  if (!secret) return undefined;
  return {
    resourceVersion: secret.metadata.resourceVersion,
    labels: secret.metadata.labels ?? {},
    finalizers: secret.metadata.finalizers ?? [],
    type: secret.type,
    data: Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString('utf8'),
      ]),
    ),
  };
}

/** Waits until the config reports `state` for its current generation; returns it. */
export function waitForStatus(
  cp: ControlPlane,
  namespace: string,
  name: string,
  state: 'Active' | 'Error',
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<ReportedConfig> {
  return waitFor(
    `${namespace}/${name} to be ${state} at its generation`,
    async () => {
      const config = await readConfig(cp, namespace, name);
      return config?.status?.deployStatus === state &&
        config.status.observedGeneration === config.metadata.generation
        ? (config as ReportedConfig)
        : undefined;
    },
    timeoutMs,
    intervalMs,
  );
}

/** Waits until the config no longer exists (its finalizers released). */
export async function waitForGone(
  cp: ControlPlane,
  namespace: string,
  name: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `${namespace}/${name} to disappear`,
    async () => (await readConfig(cp, namespace, name)) === undefined,
    timeoutMs,
  );
}

/** Waits until the Secret's data keys are exactly `keys` (in order); returns the Secret. */
export function waitForSecretKeys(
  cp: ControlPlane,
  namespace: string,
  name: string,
  keys: string[],
  timeoutMs = 30_000,
) {
  let last: string[] | undefined;
  return waitFor(
    `Secret ${namespace}/${name} to hold exactly ${JSON.stringify(keys)}`,
    async () => {
      const secret = await readSecret(cp, namespace, name);
      last = secret ? Object.keys(secret.data) : undefined;
      return JSON.stringify(last) === JSON.stringify(keys) ? secret : undefined;
    },
    timeoutMs,
    50,
  ).catch((error: Error) => {
    error.message += ` (last seen: ${JSON.stringify(last)})`;
    throw error;
  });
}

// --- manifests and the Secret's entries --------------------------------------------

/** A TopologyConfig manifest with one customresource-routed backend per entry. */
export function configYaml(options: {
  name: string;
  namespace: string;
  position?: number;
  targetSecret?: string;
  backends: Array<{
    name: string;
    endpoint: string;
    group?: string;
    kind?: string;
    extra?: string;
  }>;
  annotations?: Record<string, string>;
  endpointDecryptSecret?: string;
}): string {
  const lines = [
    'apiVersion: harikube.info/v1',
    'kind: TopologyConfig',
    'metadata:',
    `  name: ${options.name}`,
    `  namespace: ${options.namespace}`,
  ];
  if (options.annotations) {
    lines.push('  annotations:');
    for (const [k, v] of Object.entries(options.annotations))
      lines.push(`    ${k}: ${JSON.stringify(v)}`);
  }
  lines.push('spec:');
  if (options.position !== undefined) lines.push(`  position: ${options.position}`);
  if (options.targetSecret) lines.push(`  targetSecret: ${options.targetSecret}`);
  if (options.endpointDecryptSecret)
    lines.push(`  endpointDecryptSecret: ${options.endpointDecryptSecret}`);
  lines.push('  backends:');
  for (const b of options.backends) {
    lines.push(`  - name: ${b.name}`, `    endpoint: ${JSON.stringify(b.endpoint)}`);
    if (b.extra) lines.push(...b.extra.split('\n').map((l) => `    ${l}`));
    else
      lines.push(
        '    customresource:',
        `      group: ${b.group ?? 'stable.example.com'}`,
        `      kind: ${b.kind ?? b.name}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

/** A key Secret as the product expects it: labelled, one raw AES key per data entry. */
export function keySecretYaml(
  namespace: string,
  name: string,
  keys: Record<string, Buffer>,
): string {
  return [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    '  labels:',
    `    ${ENDPOINT_KEYS_LABEL}: "${ENDPOINT_KEYS_VALUE}"`,
    'data:',
    ...Object.entries(keys).map(([key, value]) => `  ${key}: ${value.toString('base64')}`),
    '',
  ].join('\n');
}

/** The data key of a config in the merged Secret: 10-digit position, namespace, name. */
export const entryKey = (position: number, namespace: string, name: string) =>
  `${String(position).padStart(10, '0')}-${namespace}.${name}.yaml`;

/**
 * The entry a config of customresource-routed backends (configYaml's
 * default routing) must have in the Secret, written out independently of
 * the product's renderer.
 */
export const expectedEntry = (backends: Array<{ name: string; endpoint: string; kind?: string }>) =>
  `backends:\n${backends
    .map(
      (b) =>
        `- name: ${b.name}\n  endpoint: ${b.endpoint}\n  customresource:\n    group: stable.example.com\n    kind: ${b.kind ?? b.name}\n`,
    )
    .join('')}`;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
