// `topology diff` against a real API server, with the product running and
// its webhooks registered: the configs applied with kubectl are Active, then
// the command says what a set of files would change in the target Secret,
// judged against the cluster's configs, without writing anything and without
// printing an endpoint. Then the files are applied to show the diff was right.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ALLOW_HARIKUBE_TARGETS,
  configYaml,
  ensureNamespace,
  entryKey,
  mustApply,
  OVERRIDE,
  readConfig,
  readSecret,
  useEnv,
  waitForSecretKeys,
  waitForStatus,
  withLogs,
} from './support.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const env = useEnv({ productArgs: [ALLOW_HARIKUBE_TARGETS] });
const NS = 'diff-a';
const TARGET = `harikube/${NS}`;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'topology-diff-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

const endpoint = (host: string) => `mysql://app:s3cret-${host}@tcp(${host}:3306)/kine`;
interface Options {
  host?: string;
  backend?: string;
  kind?: string;
  override?: boolean;
}
const config = (name: string, position: number, o: Options = {}) =>
  configYaml({
    name,
    namespace: NS,
    position,
    targetSecret: TARGET,
    backends: [
      { name: o.backend ?? name, endpoint: endpoint(o.host ?? name), kind: o.kind ?? name },
    ],
    ...(o.override ? { annotations: OVERRIDE } : {}),
  });

function diff(args: string[], kubeconfig = env.cp.kubeconfigPath) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [MAIN, 'diff', ALLOW_HARIKUBE_TARGETS, '--kubeconfig', kubeconfig, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('topology diff', { timeout: 180_000 }, () => {
  before(async () => {
    const { cp } = env;
    await ensureNamespace(cp, NS);
    await mustApply(cp, config('a', 1) + '---\n' + config('b', 2));
    await waitForStatus(cp, NS, 'a', 'Active');
    await waitForStatus(cp, NS, 'b', 'Active');
    await waitForSecretKeys(cp, 'harikube', NS, [entryKey(1, NS, 'a'), entryKey(2, NS, 'b')]);
  });

  test('the files as applied: exit 0, nothing printed', () =>
    withLogs(env, async () => {
      const same = file('same.yaml', config('a', 1) + '---\n' + config('b', 2));
      assert.deepEqual(await diff(['-f', same]), { status: 0, stdout: '', stderr: '' });
    }));

  // a's endpoint changes, b moves from 2 to 5 (both Active: with the override), c is new.
  const changes = () => [
    file(
      'changed.yaml',
      config('a', 1, { host: 'a-new', override: true }) +
        '---\n' +
        config('b', 5, { override: true }),
    ),
    file('added.yaml', config('c', 6)),
  ];

  test('changed, moved and new configs: exit 1, the keys per Secret, no value, nothing written', () =>
    withLogs(env, async () => {
      const { cp } = env;
      const before = await readSecret(cp, 'harikube', NS);
      const run = await diff(changes().flatMap((f) => ['-f', f]));
      assert.deepEqual(run, {
        status: 1,
        stdout: [
          `Secret ${TARGET}:`,
          `  + ${entryKey(5, NS, 'b')}`,
          `  + ${entryKey(6, NS, 'c')}`,
          `  ~ ${entryKey(1, NS, 'a')} (value changed)`,
          `  - ${entryKey(2, NS, 'b')}`,
          '',
        ].join('\n'),
        stderr: '',
      });
      assert.doesNotMatch(run.stdout, /s3cret|mysql/);
      // Read-only: the Secret and the configs are as they were.
      assert.equal(
        (await readSecret(cp, 'harikube', NS))!.resourceVersion,
        before!.resourceVersion,
      );
      assert.equal(await readConfig(cp, NS, 'c'), undefined);
    }));

  test('refusals against the cluster: an Active config changed without the override, a clash with a config not in the files; exit 2', () =>
    withLogs(env, async () => {
      const refused = file(
        'refused.yaml',
        config('b', 2, { host: 'b-new' }) +
          '---\n' +
          config('d', 7, { backend: 'a', kind: 'dees' }),
      );
      const run = await diff(['-f', refused]);
      assert.equal(run.status, 2);
      const lines = [
        `${refused}: ${NS}/b: spec.backends[0].endpoint: changed; this TopologyConfig is Active, and data already written through its routes would become unreachable; a user whom RBAC allows the verb "override" on topologyconfigs.harikube.info in namespace ${NS} (ClusterRole topologyconfig-routing-override) may do it anyway, with the annotation harikube.info/allow-unsafe-routing-change: "true" on the object`,
        `${refused}: ${NS}/d: spec.backends[0].name: "a" is already used by ${NS}/a (position 1)`,
      ];
      assert.equal(run.stdout, `${lines.join('\n')}\n`);
      // kubectl apply gets the same answers from the webhook.
      const applied = await env.cp.kubectl(['apply', '-f', refused]);
      assert.notEqual(applied.code, 0);
      for (const line of lines)
        assert.ok(applied.stderr.includes(line.split(': ').slice(2).join(': ')), applied.stderr);
    }));

  test('what diff said is what applying does', () =>
    withLogs(env, async () => {
      const { cp } = env;
      const files = changes();
      for (const f of files) await mustApply(cp, readFileSync(f, 'utf8'));
      await waitForStatus(cp, NS, 'c', 'Active');
      const secret = await waitForSecretKeys(cp, 'harikube', NS, [
        entryKey(1, NS, 'a'),
        entryKey(5, NS, 'b'),
        entryKey(6, NS, 'c'),
      ]);
      assert.match(secret.data[entryKey(1, NS, 'a')]!, /a-new/);
      await waitForStatus(cp, NS, 'b', 'Active');
      assert.deepEqual(await diff(files.flatMap((f) => ['-f', f])), {
        status: 0,
        stdout: '',
        stderr: '',
      });
    }));

  const unreachable = () =>
    file(
      'unreachable.kubeconfig',
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
        '',
      ].join('\n'),
    );

  test('an unreachable cluster: exit 2, one line on stderr', () =>
    withLogs(env, async () => {
      const run = await diff(['-f', file('any.yaml', config('a', 1))], unreachable());
      assert.equal(run.status, 2);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^topology diff: cannot read the cluster: .*ECONNREFUSED.*\n$/);
    }));

  test('kubeconfigs joined by ":" merge as in KUBECONFIG (the first current-context wins); --context picks another', () =>
    withLogs(env, async () => {
      const files = `${unreachable()}:${env.cp.kubeconfigPath}`;
      const manifest = file('context.yaml', config('context', 7));
      const first = await diff(['-f', manifest], files);
      assert.equal(first.status, 2, "the first file's current-context: the unreachable cluster");
      assert.match(first.stderr, /ECONNREFUSED/);
      const chosen = await diff(['--context', 'topology-test', '-f', manifest], files);
      assert.equal(chosen.status, 1, chosen.stderr);
      assert.ok(chosen.stdout.includes(`  + ${entryKey(7, NS, 'context')}`), chosen.stdout);
    }));
});
