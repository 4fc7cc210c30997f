// Helpers for the Helm chart tests: render deploy/chart/topology-webhook with
// the real helm, and compare it with a kustomize rendering after dropping what
// Helm adds. Not a test file itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { kubernetesVersion } from '../../harness/controlplane.ts';
import { helmBin } from '../../harness/tools.ts';
import { REPO, type KubeObject } from './manifests.ts';

export const CHART = join(REPO, 'deploy/chart/topology-webhook');
export const RELEASE = 'topology-webhook';
export const NAMESPACE = 'harikube-system';
/**
 * The Kubernetes version `helm template` and `helm lint` render for: the test
 * control plane's (a helm built by `go install` defaults to v1.20, below the
 * chart's kubeVersion).
 */
export const KUBE_VERSION = kubernetesVersion();

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with its own empty config, cache and data homes (nothing of the user's is read). */
export async function helm(args: readonly string[], chart = CHART): Promise<HelmResult> {
  const home = mkdtempSync(join(tmpdir(), 'helm-home-'));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      await helmBin(),
      args.map((a) => a.replaceAll('$CHART', chart)),
      {
        maxBuffer: 32 * 1024 * 1024,
        env: {
          ...process.env,
          HELM_CONFIG_HOME: join(home, 'config'),
          HELM_CACHE_HOME: join(home, 'cache'),
          HELM_DATA_HOME: join(home, 'data'),
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Writes values to a temporary file and returns helm's `--values FILE` arguments. */
export function valuesArgs(values: object | undefined): { args: string[]; cleanup: () => void } {
  if (!values) return { args: [], cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'helm-values-'));
  const file = join(dir, 'values.yaml');
  writeFileSync(file, stringify(values));
  return { args: ['--values', file], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw doc.errors[0];
      return doc.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}

/** `helm template` of the chart; rejects with helm's stderr. */
export async function template(
  values?: object,
  extra: readonly string[] = [],
  chart = CHART,
): Promise<KubeObject[]> {
  const v = valuesArgs(values);
  try {
    const result = await helm(
      [
        'template',
        RELEASE,
        '$CHART',
        '--namespace',
        NAMESPACE,
        '--kube-version',
        KUBE_VERSION,
        ...v.args,
        ...extra,
      ],
      chart,
    );
    if (result.code !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
    return parseObjects(result.stdout);
  } finally {
    v.cleanup();
  }
}

/** The labels (and annotation) Helm puts on objects that deploy/ does not have. */
const HELM_LABELS = [
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
];
const HELM_ANNOTATIONS = ['helm.sh/resource-policy'];

function dropKeys(map: unknown, keys: readonly string[]): unknown {
  if (!map || typeof map !== 'object') return map;
  const out = Object.fromEntries(
    Object.entries(map as Record<string, unknown>).filter(([k]) => !keys.includes(k)),
  );
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * One object as both trees must agree on it: without Helm's labels (wherever
 * labels or selectors are), without Helm's keep annotation, and without the
 * image tag (the chart pins its appVersion; kustomize users set theirs with
 * `images:`). Keys whose value becomes empty are removed.
 */
export function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    let next: unknown = v;
    if (key === 'labels' || key === 'matchLabels' || key === 'selector')
      next = dropKeys(v, HELM_LABELS);
    else if (key === 'annotations') next = dropKeys(v, HELM_ANNOTATIONS);
    else if (key === 'image' && typeof v === 'string') next = v.replace(/[:@][^/]*$/, '');
    next = normalise(next);
    if (next !== undefined) out[key] = next;
  }
  return out;
}

const keyOf = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Objects by "Kind namespace/name", normalised. */
export function byKey(objects: KubeObject[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of [...objects].sort((a, b) => keyOf(a).localeCompare(keyOf(b)))) {
    const key = keyOf(o);
    if (key in out) throw new Error(`${key} rendered twice`);
    out[key] = normalise(o);
  }
  return out;
}

/** The same objects, after normalising both; a failure names the object that differs. */
export function assertSameObjects(chart: KubeObject[], kustomize: KubeObject[]): void {
  const a = byKey(chart);
  const b = byKey(kustomize);
  assert.deepEqual(Object.keys(a), Object.keys(b), 'the same objects by kind, namespace and name');
  for (const key of Object.keys(a)) assert.deepEqual(a[key], b[key], `${key} differs`);
}
