// Helpers of the CLI tests: the command as a child process, and TopologyConfig
// manifests in the shape users write.
import { after, before } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function topology(args: string[], input?: string | Buffer, cwd?: string): Run {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    cwd,
    input: input ?? '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface ConfigOptions {
  name: string;
  namespace?: string;
  position?: number;
  backend?: string;
  endpoint?: string;
  prefix?: string;
  decryptSecret?: string;
}

export function config(o: ConfigOptions): string {
  return `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: ${o.name}
${o.namespace ? `  namespace: ${o.namespace}\n` : ''}spec:
${o.position ? `  position: ${o.position}\n` : ''}${o.decryptSecret ? `  endpointDecryptSecret: ${o.decryptSecret}\n` : ''}  backends:
  - name: ${o.backend ?? o.name}
    endpoint: ${JSON.stringify(o.endpoint ?? `mysql://root:pw@tcp(${o.name}.db:3306)/kine`)}
    connectionPool:
      maxIdle: 5
      maxOpen: 90
      maxLifeTime: 300000000000
    prefix:
      prefix: ${o.prefix ?? `/registry/${o.name}/`}
`;
}

/** A temporary directory for the file's tests (made before, removed after them). */
export function useTempDir(prefix: string) {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = (name: string) => join(dir, name);
  const fixture = (name: string, text: string): string => {
    writeFileSync(path(name), text);
    return path(name);
  };
  return { path, fixture };
}
