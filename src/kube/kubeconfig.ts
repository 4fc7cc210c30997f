// Reads kubeconfig files the way kubectl does, without a Kubernetes client
// library (the one this replaced cost the process 85 MiB of RSS at start):
// several files (KUBECONFIG) merge with the first file winning per named
// entry and for current-context; relative paths resolve against the
// directory of the file that named them. Only the context in use is checked,
// and what the product cannot honour is refused at start, naming the field
// and what to use instead. Nothing read here (tokens, keys) is ever put in
// an error message.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { isRecord } from '../resource/json.ts';

/** A PEM read from a file (`field` names where the path came from), or given inline (`-data`, base64 in the file, decoded here). */
export type Material = { file: string; field: string } | { data: Buffer };

export interface ExecPlugin {
  apiVersion: 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  provideClusterInfo: boolean;
  installHint?: string;
}

export interface ClusterTarget {
  server: string;
  ca?: Material;
  insecure: boolean;
  tlsServerName?: string;
}

export interface UserCredentials {
  cert?: Material;
  key?: Material;
  token?: string;
  tokenFile?: string;
  exec?: ExecPlugin;
}

/** The cluster and credentials of one context, resolved; `origin` names where they came from (no secrets). */
export interface KubeconfigTarget {
  origin: string;
  context: string;
  cluster: ClusterTarget;
  user: UserCredentials;
}

/** A kubeconfig that cannot be used; the message names the file and field. */
export class KubeconfigError extends Error {}

interface Entry {
  value: Record<string, unknown>;
  file: string;
  where: string;
}

const EXEC_VERSIONS = new Set<string>([
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
]);

/**
 * The target of `context` (default: the merged current-context) in `files`,
 * merged in order. A file that does not exist is skipped, as kubectl skips
 * KUBECONFIG entries, but at least one must exist.
 */
export function readKubeconfigs(files: readonly string[], context?: string): KubeconfigTarget {
  const existing = files.filter((file) => existsSync(file));
  if (existing.length === 0) {
    throw new KubeconfigError(
      `kubeconfig ${files.join(', ')}: no such file` +
        (files.length > 1 ? 's' : '') +
        ' (pass --kubeconfig or set KUBECONFIG to a file that exists)',
    );
  }
  const origin = existing.join(':');
  const maps = { clusters: new Map<string, Entry>(), users: new Map(), contexts: new Map() };
  let current: string | undefined;
  for (const file of existing) {
    let document: unknown;
    try {
      document = parse(readFileSync(file, 'utf8'));
    } catch (error) {
      // yaml's message quotes the line it failed on, which may hold a token.
      const line = (error as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
      throw new KubeconfigError(
        `kubeconfig ${file}: not valid YAML${line ? ` (line ${line})` : ''}`,
      );
    }
    if (document === null || document === undefined) continue;
    if (!isRecord(document)) throw new KubeconfigError(`kubeconfig ${file}: not a mapping`);
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      const list = document[key] ?? [];
      if (!Array.isArray(list))
        throw new KubeconfigError(`kubeconfig ${file}: ${key} is not a list`);
      list.forEach((item: unknown, i) => {
        const name = isRecord(item) ? item.name : undefined;
        if (!isRecord(item) || typeof name !== 'string' || name === '')
          throw new KubeconfigError(`kubeconfig ${file}: ${key}[${i}].name is missing`);
        const inner = item[key.slice(0, -1)] ?? {};
        if (!isRecord(inner))
          throw new KubeconfigError(
            `kubeconfig ${file}: ${key}["${name}"].${key.slice(0, -1)} is not a mapping`,
          );
        // First file wins, as kubectl merges.
        if (!maps[key].has(name))
          maps[key].set(name, {
            value: inner,
            file,
            where: `${key}["${name}"].${key.slice(0, -1)}`,
          });
      });
    }
    const named = document['current-context'];
    if (current === undefined && typeof named === 'string' && named !== '') current = named;
  }

  const contextName = context ?? current;
  if (!contextName) {
    throw new KubeconfigError(
      `kubeconfig ${origin}: current-context is not set (set it with kubectl config use-context, or choose a context)`,
    );
  }
  const chosen = maps.contexts.get(contextName);
  if (!chosen)
    throw new KubeconfigError(`kubeconfig ${origin}: context "${contextName}" not found`);
  const clusterName = string(chosen, 'cluster');
  const cluster = clusterName ? maps.clusters.get(clusterName) : undefined;
  if (!cluster) {
    throw new KubeconfigError(
      `kubeconfig ${chosen.file}: ${chosen.where}.cluster: ` +
        (clusterName ? `cluster "${clusterName}" not found` : 'is not set'),
    );
  }
  const userName = string(chosen, 'user');
  const user = userName ? maps.users.get(userName) : undefined;
  if (userName && !user) {
    throw new KubeconfigError(
      `kubeconfig ${chosen.file}: ${chosen.where}.user: user "${userName}" not found`,
    );
  }
  return {
    origin,
    context: contextName,
    cluster: clusterOf(cluster),
    user: user ? credentialsOf(user) : {},
  };
}

function clusterOf(entry: Entry): ClusterTarget {
  refuse(entry, 'proxy-url', 'the product connects directly; reach the API server without a proxy');
  const server = string(entry, 'server');
  if (!server) throw fieldError(entry, 'server', 'is not set');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw fieldError(entry, 'server', 'is not a URL');
  }
  if (url.protocol !== 'https:')
    throw fieldError(entry, 'server', `${url.protocol}// is not supported: use https://`);
  const insecure = entry.value['insecure-skip-tls-verify'] === true;
  const ca = material(entry, 'certificate-authority');
  if (insecure && ca) {
    throw fieldError(
      entry,
      'insecure-skip-tls-verify',
      'is set with a certificate authority: choose one of them',
    );
  }
  const tlsServerName = string(entry, 'tls-server-name');
  return {
    server,
    insecure,
    ...(ca ? { ca } : {}),
    ...(tlsServerName ? { tlsServerName } : {}),
  };
}

function credentialsOf(entry: Entry): UserCredentials {
  refuse(entry, 'auth-provider', 'use an exec credential plugin (exec) instead');
  refuse(
    entry,
    'username',
    'basic authentication is not supported: use a token or a client certificate',
  );
  refuse(
    entry,
    'password',
    'basic authentication is not supported: use a token or a client certificate',
  );
  for (const field of ['as', 'as-uid', 'as-groups', 'as-user-extra'])
    refuse(entry, field, 'impersonation is not supported: use the credentials of that user');
  const cert = material(entry, 'client-certificate');
  const key = material(entry, 'client-key');
  if (Boolean(cert) !== Boolean(key)) {
    const missing = cert ? 'client-key' : 'client-certificate';
    throw fieldError(
      entry,
      missing,
      `is not set (nor ${missing}-data): a client certificate needs both`,
    );
  }
  const token = string(entry, 'token');
  const tokenFile = string(entry, 'tokenFile');
  const exec = execOf(entry);
  if (exec && (token || tokenFile || cert)) {
    throw fieldError(
      entry,
      'exec',
      'is set with a token or client certificate: choose one of them',
    );
  }
  return {
    ...(cert && key ? { cert, key } : {}),
    ...(token ? { token } : {}),
    ...(tokenFile ? { tokenFile: resolve(dirname(entry.file), tokenFile) } : {}),
    ...(exec ? { exec } : {}),
  };
}

function execOf(entry: Entry): ExecPlugin | undefined {
  const exec = entry.value.exec;
  if (exec === undefined || exec === null) return undefined;
  const at = (field: string) => `kubeconfig ${entry.file}: ${entry.where}.exec.${field}`;
  if (!isRecord(exec))
    throw new KubeconfigError(`kubeconfig ${entry.file}: ${entry.where}.exec is not a mapping`);
  const apiVersion = exec.apiVersion;
  if (typeof apiVersion !== 'string' || !EXEC_VERSIONS.has(apiVersion)) {
    throw new KubeconfigError(
      `${at('apiVersion')}: ${JSON.stringify(apiVersion ?? null)} is not supported: use ${[...EXEC_VERSIONS].join(' or ')}`,
    );
  }
  const command = exec.command;
  if (typeof command !== 'string' || command === '')
    throw new KubeconfigError(`${at('command')}: is not set`);
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw new KubeconfigError(`${at('args')}: is not a list of strings`);
  const env = exec.env ?? [];
  if (
    !Array.isArray(env) ||
    !env.every((e) => isRecord(e) && typeof e.name === 'string' && typeof e.value === 'string')
  )
    throw new KubeconfigError(`${at('env')}: is not a list of {name, value} strings`);
  // The product never has a terminal to ask on.
  if (exec.interactiveMode === 'Always') {
    throw new KubeconfigError(
      `${at('interactiveMode')}: Always is not supported (the product runs unattended): use a plugin that can run with IfAvailable or Never`,
    );
  }
  return {
    apiVersion: apiVersion as ExecPlugin['apiVersion'],
    // A command with a directory in it is relative to the kubeconfig; a bare name is looked up on PATH.
    command: command.includes('/') ? resolve(dirname(entry.file), command) : command,
    args: args as string[],
    env: env as ExecPlugin['env'],
    provideClusterInfo: exec.provideClusterInfo === true,
    ...(typeof exec.installHint === 'string' ? { installHint: exec.installHint } : {}),
  };
}

function string(entry: Entry, field: string): string | undefined {
  const value = entry.value[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw fieldError(entry, field, 'is not a string');
  return value;
}

/** `field` (a path, relative to the file's directory) or `field-data` (base64); the data wins, as in kubectl. */
function material(entry: Entry, field: string): Material | undefined {
  const data = string(entry, `${field}-data`);
  if (data) return { data: Buffer.from(data, 'base64') };
  const file = string(entry, field);
  if (!file) return undefined;
  return {
    file: isAbsolute(file) ? file : resolve(dirname(entry.file), file),
    field: `kubeconfig ${entry.file}: ${entry.where}.${field}`,
  };
}

function refuse(entry: Entry, field: string, instead: string): void {
  const value = entry.value[field];
  if (value !== undefined && value !== null && value !== '')
    throw fieldError(entry, field, `is not supported: ${instead}`);
}

function fieldError(entry: Entry, field: string, problem: string): KubeconfigError {
  return new KubeconfigError(`kubeconfig ${entry.file}: ${entry.where}.${field} ${problem}`);
}
