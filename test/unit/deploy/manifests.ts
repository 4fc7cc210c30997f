// Helpers for the deploy/ tests: render a kustomization with the real kubectl
// and look objects up in the result. Not a test file itself.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** A rendered Kubernetes object; fields are read through the accessors in the tests. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

/** `kubectl kustomize <dir>` (dir relative to the repository), parsed. Rejects with kubectl's stderr. */
export async function render(dir: string): Promise<KubeObject[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], {
    cwd: REPO,
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout).map((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0];
    return doc.toJS() as KubeObject;
  });
}

export function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1)
    throw new Error(`expected exactly one ${kind} ${name}, found ${found.length}`);
  return found[0]!;
}

export function ofKind(objects: KubeObject[], kind: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}

export interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

/**
 * Every rule granted to a subject through the (Cluster)RoleBindings in
 * `objects`, with the namespace it applies in (undefined = cluster-wide).
 */
export function rulesOf(
  objects: KubeObject[],
  subject: Subject,
): { namespace?: string; rule: PolicyRule }[] {
  const granted: { namespace?: string; rule: PolicyRule }[] = [];
  for (const binding of objects.filter(
    (o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding',
  )) {
    const subjects = (binding.subjects ?? []) as Subject[];
    const matches = subjects.some(
      (s) =>
        s.kind === subject.kind && s.name === subject.name && s.namespace === subject.namespace,
    );
    if (!matches) continue;
    const roleRef = binding.roleRef as { kind: string; name: string };
    const role = objects.find(
      (o) =>
        o.kind === roleRef.kind &&
        o.metadata.name === roleRef.name &&
        (roleRef.kind === 'ClusterRole' || o.metadata.namespace === binding.metadata.namespace),
    );
    if (!role)
      throw new Error(
        `${binding.kind} ${binding.metadata.name} refers to a missing ${roleRef.kind} ${roleRef.name}`,
      );
    for (const rule of (role.rules ?? []) as PolicyRule[]) {
      granted.push({
        namespace: binding.kind === 'RoleBinding' ? binding.metadata.namespace : undefined,
        rule,
      });
    }
  }
  return granted;
}

/** The flags of `node dist/src/server/main.js`: the only ones a manifest may pass. */
export const SERVER_FLAGS = [
  '--webhook-bind-address',
  '--health-probe-bind-address',
  '--metrics-bind-address',
  '--metrics-secure',
  '--leader-elect',
  '--leader-election-namespace',
  '--leader-election-id',
  '--leader-elect-lease-duration',
  '--leader-elect-renew-deadline',
  '--leader-elect-retry-period',
  '--webhook-cert-path',
  '--webhook-cert-secret',
  '--webhook-cert-validity',
  '--webhook-config-name',
  '--webhook-service',
  '--allowed-target-secrets',
  '--default-target-secret',
  '--allow-cross-namespace-decrypt-secret',
  '--log-level',
] as const;

/** Splits `--name=value` / `--name` into its parts. */
export function parseFlag(arg: string): { name: string; value?: string } {
  const eq = arg.indexOf('=');
  return eq < 0 ? { name: arg } : { name: arg.slice(0, eq), value: arg.slice(eq + 1) };
}
