// Exec credential plugins (client.authentication.k8s.io/v1 and v1beta1), as
// kubectl runs them: the command with its args and env, the request in
// KUBERNETES_EXEC_INFO, an ExecCredential on stdout whose status holds a
// token or a client certificate and key, valid until expirationTimestamp.
// The plugin's stderr is its own (it goes where ours goes, as kubectl lets
// it); its stdout holds secrets and never reaches a message.
import { spawn } from 'node:child_process';
import { isRecord } from '../resource/json.ts';
import type { ClusterTarget, ExecPlugin } from './kubeconfig.ts';

export interface ExecCredential {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** Epoch ms; undefined: valid until the API server refuses it. */
  expiresAt?: number;
}

/** A plugin that has not answered by then is killed (a plugin that waits for a browser never will). */
const EXEC_TIMEOUT_MS = 60_000;

export function runExecPlugin(
  plugin: ExecPlugin,
  cluster: ClusterTarget & { caData?: Buffer },
  env: Record<string, string | undefined>,
  timeoutMs = EXEC_TIMEOUT_MS,
): Promise<ExecCredential> {
  const name = `exec plugin ${plugin.command}`;
  const info = {
    apiVersion: plugin.apiVersion,
    kind: 'ExecCredential',
    spec: {
      interactive: false,
      ...(plugin.provideClusterInfo
        ? {
            cluster: {
              server: cluster.server,
              ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
              ...(cluster.insecure ? { 'insecure-skip-tls-verify': true } : {}),
              ...(cluster.caData
                ? { 'certificate-authority-data': cluster.caData.toString('base64') }
                : {}),
            },
          }
        : {}),
    },
  };
  const childEnv: Record<string, string | undefined> = { ...env };
  for (const { name: key, value } of plugin.env) childEnv[key] = value;
  childEnv.KUBERNETES_EXEC_INFO = JSON.stringify(info);

  return new Promise((resolve, reject) => {
    const child = spawn(plugin.command, plugin.args, {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: timeoutMs,
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const hint = plugin.installHint ? `: ${plugin.installHint}` : '';
      reject(
        new Error(
          error.code === 'ENOENT'
            ? `${name} not found${hint}`
            : `${name} could not be run (${error.code ?? 'error'})`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (signal) return reject(new Error(`${name} ended by ${signal}`));
      if (code !== 0) return reject(new Error(`${name} exited with code ${code}`));
      try {
        resolve(readCredential(Buffer.concat(chunks).toString('utf8'), plugin.apiVersion, name));
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

/** The status of the plugin's ExecCredential; errors say what is wrong, never what it held. */
export function readCredential(stdout: string, apiVersion: string, name: string): ExecCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`${name}: its output is not JSON`);
  }
  if (!isRecord(parsed) || parsed.kind !== 'ExecCredential')
    throw new Error(`${name}: its output is not an ExecCredential`);
  if (parsed.apiVersion !== apiVersion)
    throw new Error(
      `${name}: its ExecCredential is ${String(parsed.apiVersion)}, not ${apiVersion}`,
    );
  const status = parsed.status;
  if (!isRecord(status)) throw new Error(`${name}: its ExecCredential has no status`);
  const { token, clientCertificateData: cert, clientKeyData: key } = status;
  const expiry = status.expirationTimestamp;
  let expiresAt: number | undefined;
  if (expiry !== undefined && expiry !== null) {
    expiresAt = typeof expiry === 'string' ? Date.parse(expiry) : NaN;
    if (Number.isNaN(expiresAt))
      throw new Error(`${name}: status.expirationTimestamp is not an RFC 3339 time`);
  }
  const hasToken = typeof token === 'string' && token !== '';
  const hasCert = typeof cert === 'string' && cert !== '';
  const hasKey = typeof key === 'string' && key !== '';
  if (hasCert !== hasKey)
    throw new Error(`${name}: status has only one of clientCertificateData and clientKeyData`);
  if (!hasToken && !hasCert)
    throw new Error(
      `${name}: status has neither a token nor clientCertificateData and clientKeyData`,
    );
  return {
    ...(hasToken ? { token } : {}),
    ...(hasCert ? { cert: Buffer.from(cert), key: Buffer.from(key as string) } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}
