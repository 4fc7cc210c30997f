// The pre-commit hook and the README's CI jobs, checked for structure (no
// network: nothing is installed from anywhere), and their `topology
// validate` commands run as written against a small repository of configs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { config, useTempDir } from './support.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const read = (name: string) => readFileSync(join(REPO, name), 'utf8');
const { path, fixture } = useTempDir('topology-ci-');

// What pre-commit accepts (its manifest schema) for the keys used here.
const PRE_COMMIT_LANGUAGES = ['node', 'system', 'script', 'docker', 'python', 'golang'];

/** A GitOps repository with two conflicting configs under routing/, and `topology` on PATH. */
function gitopsRepo(): { cwd: string; env: NodeJS.ProcessEnv } {
  mkdirSync(path('repo/routing'), { recursive: true });
  mkdirSync(path('bin'), { recursive: true });
  fixture('repo/routing/a.yaml', config({ name: 'a', position: 1, backend: 'shared' }));
  fixture('repo/routing/b.yaml', config({ name: 'b', position: 2, backend: 'shared' }));
  try {
    symlinkSync(join(REPO, 'bin/topology.js'), path('bin/topology'));
  } catch {
    // Made by an earlier test of this file.
  }
  const PATH = [path('bin'), join(REPO, 'node_modules/.bin'), process.env.PATH].join(delimiter);
  return { cwd: path('repo'), env: { ...process.env, PATH } };
}

/** Runs a `topology …` shell line of an example; returns the JUnit report it wrote. */
function runTopologyLine(line: string): string {
  const { cwd, env } = gitopsRepo();
  const run = spawnSync('sh', ['-c', line], { cwd, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 1, `${line}: the conflict fails the job\n${run.stderr}`);
  const [, out] = /> (\S+)$/.exec(line) ?? [];
  assert.ok(out, `${line} writes its report to a file`);
  return readFileSync(join(cwd, out), 'utf8');
}

function readmeYamlBlocks(): unknown[] {
  const readme = read('README.md');
  const start = readme.indexOf('\n### In pre-commit and CI\n');
  assert.notEqual(start, -1);
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!));
}

describe('.pre-commit-hooks.yaml', () => {
  const hooks = parse(read('.pre-commit-hooks.yaml')) as Array<Record<string, unknown>>;
  const bins = Object.keys(JSON.parse(read('package.json')).bin);

  test("a list of hooks in pre-commit's format", () => {
    assert.ok(Array.isArray(hooks) && hooks.length > 0);
    for (const hook of hooks) {
      for (const key of ['id', 'name', 'entry', 'language']) {
        assert.equal(typeof hook[key], 'string', `${String(hook.id)}: ${key}`);
      }
      assert.ok(PRE_COMMIT_LANGUAGES.includes(hook.language as string));
    }
  });

  test("topology-validate runs the package's own command on YAML and JSON, in one run", () => {
    const hook = hooks.find((h) => h.id === 'topology-validate');
    assert.ok(hook);
    assert.equal(hook.language, 'node');
    assert.equal(hook.entry, 'topology validate');
    assert.ok(bins.includes((hook.entry as string).split(' ')[0]!));
    assert.deepEqual(hook.types_or, ['yaml', 'json']);
    assert.equal(hook.require_serial, true);
    assert.notEqual(hook.pass_filenames, false);
  });

  test('the entry, given the files as pre-commit does, fails on a conflict', () => {
    const { cwd, env } = gitopsRepo();
    const hook = hooks.find((h) => h.id === 'topology-validate')!;
    const [command, ...args] = (hook.entry as string).split(' ');
    const run = spawnSync(command!, [...args, 'routing/a.yaml', 'routing/b.yaml'], {
      cwd,
      env,
      encoding: 'utf8',
    });
    assert.equal(run.status, 1);
    assert.match(
      run.stdout,
      /^routing\/b\.yaml: default\/b: spec\.backends\[0\]\.name: "shared" is already used by default\/a/,
    );
  });

  test("the README's .pre-commit-config.yaml uses this hook", () => {
    const [precommit] = readmeYamlBlocks() as Array<{
      repos: Array<{ hooks: Array<{ id: string }> }>;
    }>;
    assert.deepEqual(
      precommit!.repos.flatMap((r) => r.hooks.map((h) => h.id)),
      ['topology-validate'],
    );
  });
});

describe("the README's CI jobs", () => {
  test('GitHub Actions: Node 24, the CLI installed, validate as JUnit, the report kept on failure', () => {
    const workflow = readmeYamlBlocks()[1] as {
      on: unknown;
      jobs: Record<string, { 'runs-on': string; steps: Array<Record<string, unknown>> }>;
    };
    assert.ok(workflow.on);
    const [job] = Object.values(workflow.jobs);
    assert.equal(typeof job!['runs-on'], 'string');
    const steps = job!.steps;
    const setupNode = steps.find((s) => String(s.uses).startsWith('actions/setup-node@'));
    assert.equal(String((setupNode?.with as Record<string, unknown>)['node-version']), '24');
    const runs = steps.map((s) => s.run).filter((r): r is string => typeof r === 'string');
    assert.ok(runs.some((r) => r.startsWith('npm install -g ')));
    const validate = runs.find((r) => r.startsWith('topology validate '));
    assert.ok(validate);
    const report = runTopologyLine(validate);
    assert.match(report, /<testsuites name="topology validate" tests="2" failures="1"/);
    const upload = steps.find((s) => String(s.uses).startsWith('actions/upload-artifact@'));
    assert.equal(upload?.if, 'always()');
    assert.equal((upload?.with as Record<string, unknown>).path, /> (\S+)$/.exec(validate)![1]);
  });

  test('GitLab CI: a node:24 image, validate as JUnit, the report a JUnit artifact even on failure', () => {
    const pipeline = readmeYamlBlocks()[2] as Record<
      string,
      { image: string; script: string[]; artifacts: { when: string; reports: { junit: string } } }
    >;
    const [job] = Object.values(pipeline);
    assert.match(job!.image, /^node:24(\b|-)/);
    assert.ok(job!.script.some((line) => line.startsWith('npm install -g ')));
    const validate = job!.script.find((line) => line.startsWith('topology validate '));
    assert.ok(validate);
    const report = runTopologyLine(validate);
    assert.match(report, /<failure type="Duplicate"/);
    assert.equal(job!.artifacts.when, 'always');
    assert.equal(job!.artifacts.reports.junit, /> (\S+)$/.exec(validate)![1]);
  });
});
