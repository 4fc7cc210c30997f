// Small helpers shared by the end-to-end tests: kubectl the way a user runs
// it, and polling for the eventually-consistent outcomes of a controller.
import assert from 'node:assert/strict';
import type { ControlPlane } from '../harness/controlplane.ts';

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
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
  );
}

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

export async function getJson<T = Record<string, any>>(
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

export async function topologyConfig(cp: ControlPlane, namespace: string, name: string) {
  return getJson(cp, ['topologyconfig', '-n', namespace, name]);
}

/** The decoded data of a Secret, or undefined when it does not exist. */
export async function secretData(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<Record<string, string> | undefined> {
  const secret = await getJson<{ data?: Record<string, string> }>(cp, [
    'secret',
    '-n',
    namespace,
    name,
  ]);
  if (!secret) return undefined;
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString('utf8'),
    ]),
  );
}

/** Waits until the config reports `state` for its current generation; returns the object. */
export async function waitForStatus(
  cp: ControlPlane,
  namespace: string,
  name: string,
  state: 'Active' | 'Error',
  timeoutMs = 30_000,
) {
  return waitFor(
    `${namespace}/${name} to be ${state}`,
    async () => {
      const object = await topologyConfig(cp, namespace, name);
      const status = object?.status;
      return status?.deployStatus === state &&
        status.observedGeneration === object?.metadata.generation
        ? object
        : undefined;
    },
    timeoutMs,
  );
}

export async function ensureNamespace(cp: ControlPlane, name: string): Promise<void> {
  await cp.kubectl(['create', 'namespace', name]);
}

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
