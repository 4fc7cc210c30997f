// The final image's file set, rebuilt without Docker the way the Dockerfile
// builds it: the dependencies stage's own `npm ci --omit=dev ...` in a clean
// directory, the compiled dist/src beside it, package.json; then the server
// must start from that tree alone (`--help`), with no dev dependency present.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { npmCiCommands, parseCopy, readDockerfile } from './dockerfile.ts';
import { REPO, SERVER_FLAGS } from './manifests.ts';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(file: string, args: string[], cwd: string, timeout: number): Promise<Result> {
  try {
    const r = await promisify(execFile)(file, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? err.message ?? '',
    };
  }
}

interface LockPackage {
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
}
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockPackage>;
};
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// The dependencies stage's install command, read from the Dockerfile so this
// test follows it.
const stages = readDockerfile();
const final = stages.at(-1)!;
const depsFrom = final.instructions
  .filter((i) => i.keyword === 'COPY')
  .map((i) => parseCopy(i.args))
  .find((c) => c.dest.replace(/^\.\/|\/$/g, '') === 'node_modules')?.from;
const depsInstall = npmCiCommands(stages.find((s) => s.name === depsFrom)!)[0]!;

// The final stage's `ln -s <target> /manager` (and the chmod before it), so the
// test lays out what the image holds at /manager.
const managerLink = (() => {
  for (const run of final.instructions.filter((i) => i.keyword === 'RUN')) {
    const link = /\bln -s (\S+) \/manager\b/.exec(run.args);
    const mode = /\bchmod (0?[0-7]{3,4}) (\S+)/.exec(run.args);
    if (link)
      return { target: link[1]!, mode: mode ? { bits: mode[1]!, file: mode[2]! } : undefined };
  }
  return undefined;
})();

// The seed operator's Deployment runs the image as this (see ../shared/seed).
const SEED_COMMAND = ['/manager', '--leader-elect', '--health-probe-bind-address=:8081'];

describe('image file set (Dockerfile reproduced without Docker)', { timeout: 600_000 }, () => {
  let work = '';
  let app = '';
  let install: Result;
  let compile: Result;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'image-fileset-'));
    const deps = join(work, 'deps');
    app = join(work, 'app');
    mkdirSync(deps);
    mkdirSync(app);
    copyFileSync(join(REPO, 'package.json'), join(deps, 'package.json'));
    copyFileSync(join(REPO, 'package-lock.json'), join(deps, 'package-lock.json'));
    // --prefer-offline: use the local npm cache when it has the tarballs.
    [install, compile] = await Promise.all([
      run('npm', [...depsInstall, '--prefer-offline'], deps, 300_000),
      // What `npm run build` does in the build stage, into this tree.
      run(
        join(REPO, 'node_modules/.bin/tsc'),
        ['-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')],
        REPO,
        300_000,
      ),
    ]);
    if (existsSync(join(deps, 'node_modules')))
      renameSync(join(deps, 'node_modules'), join(app, 'node_modules'));
    copyFileSync(join(REPO, 'package.json'), join(app, 'package.json'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the dependencies stage installs with --omit=dev', () => {
    assert.ok(depsInstall.includes('--omit=dev'), depsInstall.join(' '));
    assert.equal(install.code, 0, install.stderr);
  });

  test('the sources compile (npm run build)', () => {
    assert.equal(compile.code, 0, compile.stdout + compile.stderr);
    assert.deepEqual(readdirSync(join(app, 'dist')), ['src'], 'only dist/src is emitted');
    assert.deepEqual(readdirSync(app).sort(), ['dist', 'node_modules', 'package.json']);
  });

  test('no dev dependency lands in node_modules; every runtime dependency does', () => {
    const present = (path: string) => existsSync(join(app, path, 'package.json'));
    const devOnly = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith('node_modules/') && p.dev)
      .map(([path]) => path);
    assert.ok(devOnly.length > 0, 'the lockfile marks dev packages');
    assert.deepEqual(devOnly.filter(present), []);
    // The toolchain in particular, and @kubernetes/client-node: the tests'
    // oracle for the kubeconfig loader, which the server never loads (a
    // devDependency that is also a runtime transitive dependency is not dev
    // in the lockfile and rightly stays).
    for (const name of [
      'node',
      'typescript',
      'eslint',
      'prettier',
      'fast-check',
      'autocannon',
      '@kubernetes/client-node',
    ]) {
      assert.ok(name in manifest.devDependencies, `${name} is a devDependency`);
      assert.ok(!present(`node_modules/${name}`), `devDependency ${name} installed`);
    }
    const runtime = Object.entries(lock.packages)
      .filter(
        ([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.optional && !p.devOptional,
      )
      .map(([path]) => path);
    assert.deepEqual(
      runtime.filter((path) => !present(path)),
      [],
    );
    for (const name of Object.keys(manifest.dependencies))
      assert.ok(present(`node_modules/${name}`), name);
  });

  test("/manager runs the server with the seed Deployment's arguments", async () => {
    assert.ok(managerLink, 'the final stage links /manager');
    assert.equal(managerLink.target, '/app/dist/src/server/main.js');
    assert.ok(managerLink.mode, 'the entry point is made executable');
    // The image's /app is the test's app folder; /manager is a link beside it.
    chmodSync(join(app, managerLink.mode.file), Number.parseInt(managerLink.mode.bits, 8));
    const manager = join(work, 'manager');
    symlinkSync(join(app, managerLink.target.replace(/^\/app\//, '')), manager);
    // Run as the kernel runs it: by its `#!/usr/bin/env node` line, with Node 24 first on PATH
    // (as in the image). --help: the arguments are parsed (an unknown one exits 2), nothing starts.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    const [, ...args] = SEED_COMMAND;
    const r = await promisify(execFile)(manager, [...args, '--help'], {
      cwd: work,
      env,
      timeout: 30_000,
    });
    assert.match(r.stdout, /--leader-elect/);
    // Without --help it starts for real: with no cluster it fails at start-up (1), not on its flags (2).
    const started = await promisify(execFile)(manager, args, {
      cwd: work,
      // In a Pod the ServiceAccount volume gives the namespace (src/server/pod-namespace.ts).
      env: {
        ...env,
        POD_NAMESPACE: 'harikube-system',
        KUBECONFIG: join(work, 'no-such-kubeconfig'),
      },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code?: number; stderr?: string; stdout?: string }) => ({
        code: e.code ?? -1,
        stderr: `${e.stderr ?? ''}${e.stdout ?? ''}`,
      }),
    );
    assert.equal(started.code, 1, started.stderr);
    assert.doesNotMatch(started.stderr, /unknown|--help for the flags/i);
  });

  test('node dist/src/server/main.js --help starts from that tree alone and lists the flags', async () => {
    assert.equal(compile.code, 0, 'compiled');
    // process.execPath is the Node 24 running this test (the image's major).
    const r = await run(process.execPath, ['dist/src/server/main.js', '--help'], app, 30_000);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of SERVER_FLAGS) assert.ok(r.stdout.includes(flag), `--help lists ${flag}`);
  });
});
