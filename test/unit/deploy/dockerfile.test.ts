// The Dockerfile, checked without a Docker engine: its structure (what the
// final image contains and how it runs), and two Dockerfile linters from the
// npm registry run through npx (the project's package.json is not touched).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  npmCiCommands,
  parseCopy,
  parseDockerfile,
  readDockerfile,
  type Stage,
} from './dockerfile.ts';
import { REPO } from './manifests.ts';

const DOCKERFILE = join(REPO, 'Dockerfile');

const stages = readDockerfile();
const final = stages.at(-1)!;
const byName = (name: string | undefined) => stages.find((s) => s.name === name);
const keywords = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword);

describe('Dockerfile structure', () => {
  test('is multi-stage, every stage on Node 24', () => {
    assert.ok(stages.length >= 2, `${stages.length} stages`);
    for (const s of stages) {
      assert.match(
        s.image,
        /^(node:24(-[a-z0-9.-]+)?|gcr\.io\/distroless\/nodejs24-[a-z0-9.:-]+)(@sha256:[0-9a-f]{64})?$/,
        s.image,
      );
    }
  });

  test('a build stage installs everything with npm ci and compiles with npm run build', () => {
    const build = stages.find((s) =>
      keywords(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)),
    );
    assert.ok(build, 'a stage runs npm run build');
    assert.ok(
      npmCiCommands(build).some((args) => !args.some((a) => a.startsWith('--omit'))),
      'the build stage runs a full npm ci',
    );
  });

  test('the final image holds only dist/src, production node_modules and package.json', () => {
    const copies = keywords(final, 'COPY').map((c) => parseCopy(c.args));
    const byDest = new Map(copies.map((c) => [c.dest.replace(/^\.\/|\/$/g, ''), c]));
    assert.deepEqual([...byDest.keys()].sort(), ['', 'dist/src', 'node_modules'].sort());
    // package.json from the build context (into WORKDIR)
    assert.deepEqual(byDest.get('')?.sources, ['package.json']);
    assert.equal(byDest.get('')?.from, undefined);
    // node_modules from a stage that ran npm ci --omit=dev and nothing else that installs
    const deps = byDest.get('node_modules')!;
    const depsStage = byName(deps.from);
    assert.ok(depsStage, `node_modules comes from a named stage (${deps.from})`);
    const installs = npmCiCommands(depsStage);
    assert.equal(installs.length, 1);
    assert.ok(installs[0]!.includes('--omit=dev'), installs[0]!.join(' '));
    assert.ok(
      !keywords(depsStage, 'RUN').some((r) => /\bnpm (install|i|add)\b/.test(r.args)),
      'no other install in the dependencies stage',
    );
    // Only the lock and manifest enter that stage from the context: no local node_modules.
    const contextCopies = keywords(depsStage, 'COPY')
      .map((c) => parseCopy(c.args))
      .filter((c) => c.from === undefined);
    assert.deepEqual(contextCopies.flatMap((c) => c.sources).sort(), [
      'package-lock.json',
      'package.json',
    ]);
    // dist/src from the stage that compiled it
    const dist = byDest.get('dist/src')!;
    assert.ok(
      dist.from &&
        keywords(byName(dist.from)!, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)),
    );
    assert.deepEqual(
      dist.sources.map((s) => s.replace(/\/$/, '')),
      ['/src/dist/src'],
    );
    assert.equal(keywords(final, 'ADD').length, 0, 'no ADD in the final stage');
    assert.ok(
      !keywords(final, 'RUN').some((r) => /\bnpm\s+(ci|install|i)\b/.test(r.args)),
      'no npm install in the final stage',
    );
  });

  test('the final image runs the server as a numeric non-root user from /app', () => {
    const users = keywords(final, 'USER');
    assert.ok(users.length > 0, 'USER is set');
    const user = users.at(-1)!.args;
    assert.match(user, /^\d+(:\d+)?$/, 'numeric, so the kubelet can check runAsNonRoot');
    assert.notEqual(Number(user.split(':')[0]), 0);
    const after = final.instructions.slice(final.instructions.indexOf(users.at(-1)!) + 1);
    assert.ok(
      !after.some((i) => i.keyword === 'RUN'),
      'no RUN after USER: the runtime user builds nothing',
    );
    assert.equal(keywords(final, 'WORKDIR').at(-1)?.args, '/app');
    const entrypoint = keywords(final, 'ENTRYPOINT');
    assert.equal(entrypoint.length, 1);
    assert.deepEqual(JSON.parse(entrypoint[0]!.args), ['/manager'], "the seed's command");
    assert.equal(keywords(final, 'CMD').length, 0, 'flags come from the manifest args');
  });

  test('has no HEALTHCHECK (Kubernetes probes do that) and nothing that writes to disk at run time', () => {
    assert.deepEqual(
      stages.flatMap((s) => keywords(s, 'HEALTHCHECK')),
      [],
    );
    assert.ok(!keywords(final, 'VOLUME').length, 'no VOLUME: the Deployment provides /tmp');
  });

  test('NODE_OPTIONS only sizes the heap (nothing that writes to disk), as deploy/ and the chart do', () => {
    const env = keywords(final, 'ENV').map((e) => e.args);
    const line = env.find((e) => e.startsWith('NODE_OPTIONS='));
    assert.ok(line, `NODE_OPTIONS in ${env.join(', ')}`);
    const value = line.slice('NODE_OPTIONS='.length).replace(/^"(.*)"$/, '$1');
    for (const flag of value.split(/\s+/))
      assert.match(flag, /^--max-(old-space-size-percentage|semi-space-size)=\d+$/, flag);
    const deployment = readFileSync(join(REPO, 'deploy/manager/deployment.yaml'), 'utf8');
    assert.match(deployment, new RegExp(`- name: NODE_OPTIONS\\n\\s+value: '${value}'`));
    const values = readFileSync(join(REPO, 'deploy/chart/topology-webhook/values.yaml'), 'utf8');
    assert.match(values, new RegExp(`^nodeOptions: '${value}'$`, 'm'));
  });

  test('MALLOC_ARENA_MAX is set, and deploy/ and the chart set the same', () => {
    const env = keywords(final, 'ENV').map((e) => e.args);
    const line = env.find((e) => e.startsWith('MALLOC_ARENA_MAX='));
    assert.ok(line, `MALLOC_ARENA_MAX in ${env.join(', ')}`);
    const value = line.slice('MALLOC_ARENA_MAX='.length);
    assert.match(value, /^[1-9]\d*$/);
    const deployment = readFileSync(join(REPO, 'deploy/manager/deployment.yaml'), 'utf8');
    assert.match(deployment, new RegExp(`- name: MALLOC_ARENA_MAX\\n\\s+value: '${value}'`));
    const values = readFileSync(join(REPO, 'deploy/chart/topology-webhook/values.yaml'), 'utf8');
    assert.match(values, new RegExp(`^mallocArenaMax: ${value}$`, 'm'));
  });

  test('the reader itself handles continuations, comments and stage names', () => {
    const parsed = parseDockerfile(
      ['ARG X=1', 'FROM node:24 AS a', '# c', 'RUN a \\', '  # inner', '  && b', 'FROM a'].join(
        '\n',
      ),
    );
    assert.deepEqual(parsed, [
      { image: 'node:24', name: 'a', instructions: [{ keyword: 'RUN', args: 'a && b', line: 4 }] },
      { image: 'a', name: undefined, instructions: [] },
    ]);
  });
});

describe('.dockerignore', () => {
  test('keeps local build output, dependencies, tests and history out of the context', () => {
    const entries = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of ['node_modules', 'dist', 'test', '.git', 'bench']) {
      assert.ok(entries.includes(needed), needed);
    }
    for (const kept of [
      'src',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
    ]) {
      assert.ok(!entries.includes(kept), `${kept} is needed by the build`);
    }
  });
});

describe('Dockerfile linters (npm registry, via npx)', () => {
  // Pinned versions; run from a scratch directory so npx never looks at (or
  // writes to) this project's package.json.
  const run = async (args: string[]) => {
    const cwd = mkdtempSync(join(tmpdir(), 'dockerfile-lint-'));
    try {
      return await promisify(execFile)('npx', ['--yes', ...args], { cwd, timeout: 180_000 }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({
          code: typeof e.code === 'number' ? e.code : -1,
          stdout: e.stdout ?? '',
          stderr: e.stderr ?? String(e),
        }),
      );
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  };

  test('dockerfile-utils lint reports no problem', { timeout: 200_000 }, async () => {
    const r = await run(['dockerfile-utils@0.16.3', 'lint', DOCKERFILE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), '');
  });

  test('dockerfilelint reports no issue', { timeout: 200_000 }, async () => {
    const r = await run(['dockerfilelint@1.8.0', DOCKERFILE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Issues: None found/);
  });
});
