// Credentials of ServiceAccounts for the end-to-end tests: tokens from the
// TokenRequest API (`kubectl create token`) and kubeconfig files that use
// them, so the product or kubectl runs with exactly a ServiceAccount's RBAC.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ControlPlane } from '../harness/controlplane.ts';

export async function createServiceAccount(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<void> {
  const result = await cp.kubectl(['create', 'serviceaccount', name, '-n', namespace]);
  assert.equal(result.code, 0, `kubectl create serviceaccount: ${result.stderr}`);
}

/** A bound token of the ServiceAccount, from the TokenRequest API. */
export async function serviceAccountToken(
  cp: ControlPlane,
  namespace: string,
  name: string,
  duration = '1h',
): Promise<string> {
  const result = await cp.kubectl([
    'create',
    'token',
    name,
    '-n',
    namespace,
    `--duration=${duration}`,
  ]);
  assert.equal(result.code, 0, `kubectl create token: ${result.stderr}`);
  const token = result.stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  return token;
}

/** The context of the kubeconfigs written for a token. */
export const TOKEN_CONTEXT = 'e2e';

/** Writes a kubeconfig for `token` against the control plane (mode 0600); returns its path. */
export async function writeTokenKubeconfig(
  cp: ControlPlane,
  token: string,
  fileName: string,
): Promise<string> {
  const path = join(cp.dir, fileName);
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'e2e',
        cluster: {
          server: cp.server,
          'certificate-authority-data': Buffer.from(cp.caPem).toString('base64'),
        },
      },
    ],
    users: [{ name: 'service-account', user: { token } }],
    contexts: [{ name: TOKEN_CONTEXT, context: { cluster: 'e2e', user: 'service-account' } }],
    'current-context': TOKEN_CONTEXT,
  };
  await writeFile(path, stringify(kubeconfig), { mode: 0o600 });
  return path;
}

/**
 * The product's own credentials: a token of its ServiceAccount
 * (harikube-system/topology-webhook, created by deploy/) and a kubeconfig
 * that uses it, so that it runs with exactly the RBAC of deploy/.
 */
export async function productCredentials(
  cp: ControlPlane,
): Promise<{ token: string; kubeconfigPath: string; context: string }> {
  const token = await serviceAccountToken(cp, 'harikube-system', 'topology-webhook');
  const kubeconfigPath = await writeTokenKubeconfig(cp, token, 'product.kubeconfig');
  return { token, kubeconfigPath, context: TOKEN_CONTEXT };
}

/** kubectl as the holder of `token` (the flag overrides the admin kubeconfig's credentials). */
export function kubectlAs(cp: ControlPlane, token: string, args: string[]) {
  return cp.kubectl([`--token=${token}`, ...args]);
}
