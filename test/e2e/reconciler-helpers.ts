// Shared by the reconciler's end-to-end tests: one control plane per file,
// the product as a separate process, fast reads straight from the API server
// (for polling and timing, where a kubectl process per poll is too coarse),
// and the product's log tail attached to any failure.
import https from 'node:https';
import type { ControlPlane } from '../harness/controlplane.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import type { Product, ProductOptions } from '../harness/product.ts';
import {
  freePort,
  registerWebhooks,
  startProduct,
  unregisterWebhooks,
} from '../harness/product.ts';
import { waitFor } from './support.ts';

export interface Env {
  cp: ControlPlane;
  products: Product[];
  /** Starts another product process on this control plane (stopped by stop()). */
  addProduct(options?: ProductOptions): Promise<Product>;
  stop(): Promise<void>;
}

/** Every target Secret in harikube/ is allowed, so that each test owns its own. */
export const ALLOW_HARIKUBE_TARGETS = '--allowed-target-secrets=harikube/*';

/**
 * A control plane with deploy/overlays/local's namespaces and RBAC. With
 * `webhooks`, the product's webhook configurations point at the first
 * product; without, they are removed, as if the webhook were bypassed.
 */
export async function startEnv(options: {
  webhooks: boolean;
  products?: ProductOptions[];
}): Promise<Env> {
  const cp = await startControlPlane();
  const products: Product[] = [];
  const env: Env = {
    cp,
    products,
    async addProduct(productOptions = {}) {
      const product = await startProduct(cp, {
        ...productOptions,
        args: [ALLOW_HARIKUBE_TARGETS, ...(productOptions.args ?? [])],
      });
      products.push(product);
      await product.waitReady(60_000);
      return product;
    },
    async stop() {
      // Each one even if another fails: nothing may outlive the file.
      const results = await Promise.allSettled(products.map((p) => p.stop()));
      await cp.stop();
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
  };
  try {
    const webhookPort = await freePort();
    await registerWebhooks(cp, webhookPort);
    if (!options.webhooks) await unregisterWebhooks(cp);
    for (const [i, productOptions] of (options.products ?? [{}]).entries()) {
      await env.addProduct({ ...productOptions, ...(i === 0 ? { webhookPort } : {}) });
    }
  } catch (error) {
    await env.stop().catch(() => {});
    throw error;
  }
  return env;
}

/** Runs `body`; a failure carries the last log lines of each product. */
export async function withLogs(products: () => Product[], body: () => Promise<void>) {
  try {
    await body();
  } catch (error) {
    // The runner prints stderr beside the failure; an assertion's diff stays readable.
    for (const p of products())
      process.stderr.write(`--- ${p.name} log (last lines) ---\n${p.logText().slice(-6000)}\n`);
    throw error;
  }
}

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

/** The config, or undefined when it does not exist. */
export async function readConfig(cp: ControlPlane, namespace: string, name: string) {
  const response = await api<ConfigObject>(cp, 'GET', configPath(namespace, name));
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET config: ${response.status}`);
  return response.body as ConfigObject;
}

/** The parts of a TopologyConfig the tests read. */
export interface ConfigObject {
  metadata: {
    name: string;
    namespace: string;
    generation: number;
    creationTimestamp: string;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  spec: { targetSecret?: string; position?: number };
  status?: { deployStatus?: string; deployStatusReason?: string; observedGeneration?: number };
}

/** A config whose status has been written. */
export type ReportedConfig = ConfigObject & {
  status: { deployStatus: string; deployStatusReason: string; observedGeneration: number };
};

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

export async function readSecret(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<SecretView | undefined> {
  const response = await api<SecretObject>(cp, 'GET', secretPath(namespace, name));
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET secret: ${response.status}`);
  const secret = response.body;
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

/** Whether the config reports `state` for its current generation. */
export function reports(config: ConfigObject | undefined, state: string): boolean {
  return (
    config?.status?.deployStatus === state &&
    config.status.observedGeneration === config.metadata.generation
  );
}

/** Waits (polling the API directly) until the config reports `state` at its current generation. */
export function waitForState(
  cp: ControlPlane,
  namespace: string,
  name: string,
  state: 'Active' | 'Error',
  timeoutMs = 30_000,
) {
  return waitFor(
    `${namespace}/${name} to be ${state} at its generation`,
    async () => {
      const config = await readConfig(cp, namespace, name);
      return reports(config, state) ? (config as ReportedConfig) : undefined;
    },
    timeoutMs,
    50,
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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The data key of a config in the merged Secret: 10-digit position, namespace, name. */
export const entryKey = (position: number, namespace: string, name: string) =>
  `${String(position).padStart(10, '0')}-${namespace}.${name}.yaml`;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
