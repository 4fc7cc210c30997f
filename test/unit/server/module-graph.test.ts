// The server never loads @kubernetes/client-node (it alone took the process
// from 41 to 129 MiB of RSS at start); the project keeps it as a test oracle
// only. Every module the server's entry point loads (all of its static
// imports, as `--help` loads them) and the CLI's cluster commands load is
// recorded by a module hook in a child process, so a new import of it, direct
// or through another package, fails here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const REPO = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'module-graph-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOOK = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const loaded = new Set();
registerHooks({
  load(url, context, next) {
    loaded.add(url);
    return next(url, context);
  },
});
process.on('exit', () =>
  writeFileSync(
    process.env.LOADED_MODULES,
    JSON.stringify({ urls: [...loaded], internal: process.moduleLoadList }),
  ),
);
`;

interface Loaded {
  /** Packages (under node_modules) and built-in modules (node:…). */
  packages: Set<string>;
  /** Node's own internal modules (process.moduleLoadList). */
  internal: string[];
}

/** What `args` loads. */
async function modulesLoaded(name: string, args: string[]): Promise<Loaded> {
  const hook = join(dir, 'hook.mjs');
  writeFileSync(hook, HOOK);
  const out = join(dir, `${name}.json`);
  await promisify(execFile)(process.execPath, ['--import', hook, ...args], {
    cwd: REPO,
    env: { ...process.env, LOADED_MODULES: out },
    timeout: 60_000,
  });
  const { urls, internal } = JSON.parse(readFileSync(out, 'utf8')) as {
    urls: string[];
    internal: string[];
  };
  const packages = urls
    .map(
      (url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? /^node:.*/.exec(url)?.[0],
    )
    .filter((p): p is string => p !== undefined);
  return { packages: new Set(packages), internal };
}

// The server's entry point, as `--help` loads it (every static import).
let server: Promise<Loaded> | undefined;
const serverModules = () => (server ??= modulesLoaded('server', ['src/server/main.ts', '--help']));

test("the server's modules include neither @kubernetes/client-node nor node:child_process", async () => {
  const { packages } = await serverModules();
  assert.ok(packages.has('fastify'), `the hook saw the server's packages: ${[...packages]}`);
  assert.ok(!packages.has('@kubernetes/client-node'), [...packages].join(', '));
  // Exec credential plugins load it only when a kubeconfig names one (~3 MiB of RSS).
  assert.ok(packages.has('node:https'), 'the hook saw built-in modules');
  assert.ok(!packages.has('node:child_process'), [...packages].join(', '));
});

// An ESM import of node:http builds its namespace from every export, and its
// lazy getters load Node's bundled undici (fetch, WebSocket); node-forge is
// needed only to issue certificates. Neither is needed to start.
test("the server starts without node-forge and without Node's bundled undici", async () => {
  const { packages, internal } = await serverModules();
  assert.ok(packages.has('fastify'), `the hook saw the server's packages: ${[...packages]}`);
  assert.ok(!packages.has('node-forge'), [...packages].join(', '));
  assert.ok(internal.includes('NativeModule http'), 'the internal list is read');
  const undici = internal.filter((m) => m.includes('undici'));
  assert.deepEqual(undici, [], 'an ESM import of node:http is back');
});

test("the CLI's cluster commands do not load it either", async () => {
  const { packages } = await modulesLoaded('cli', [
    '--input-type=module',
    '-e',
    "await import('./src/cli/cluster.ts'); await import('./src/kube/connection.ts');",
  ]);
  assert.ok(packages.has('yaml'), `the hook saw the CLI's packages: ${[...packages]}`);
  assert.ok(!packages.has('@kubernetes/client-node'), [...packages].join(', '));
});
