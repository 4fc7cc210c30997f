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
process.on('exit', () => writeFileSync(process.env.LOADED_MODULES, JSON.stringify([...loaded])));
`;

/** The packages (under node_modules) and built-in modules (node:…) that `args` loads. */
async function packagesLoaded(name: string, args: string[]): Promise<Set<string>> {
  const hook = join(dir, 'hook.mjs');
  writeFileSync(hook, HOOK);
  const out = join(dir, `${name}.json`);
  await promisify(execFile)(process.execPath, ['--import', hook, ...args], {
    cwd: REPO,
    env: { ...process.env, LOADED_MODULES: out },
    timeout: 60_000,
  });
  const urls = JSON.parse(readFileSync(out, 'utf8')) as string[];
  const packages = urls
    .map(
      (url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? /^node:.*/.exec(url)?.[0],
    )
    .filter((p): p is string => p !== undefined);
  return new Set(packages);
}

test("the server's modules include neither @kubernetes/client-node nor node:child_process", async () => {
  const packages = await packagesLoaded('server', ['src/server/main.ts', '--help']);
  assert.ok(packages.has('fastify'), `the hook saw the server's packages: ${[...packages]}`);
  assert.ok(!packages.has('@kubernetes/client-node'), [...packages].join(', '));
  // Exec credential plugins load it only when a kubeconfig names one (~3 MiB of RSS).
  assert.ok(packages.has('node:https'), 'the hook saw built-in modules');
  assert.ok(!packages.has('node:child_process'), [...packages].join(', '));
});

test("the CLI's cluster commands do not load it either", async () => {
  const packages = await packagesLoaded('cli', [
    '--input-type=module',
    '-e',
    "await import('./src/cli/cluster.ts'); await import('./src/kube/connection.ts');",
  ]);
  assert.ok(packages.has('yaml'), `the hook saw the CLI's packages: ${[...packages]}`);
  assert.ok(!packages.has('@kubernetes/client-node'), [...packages].join(', '));
});
