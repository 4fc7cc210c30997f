// Taking over a Secret the seed's HariKube operator wrote, against a real API
// server with the product running, as a user would: the Secret created with
// kubectl in the seed's format (10-a.yaml before 2-b.yaml, routes that share
// keys, so the lexical order decides where data went), configs applied, Error
// with the how-to; `topology adopt --dry-run` refuses while the positions
// would swap a and b, shows the Secret once they agree; `topology adopt`
// labels it; the configs turn Active and the Secret holds the same entries in
// the same order (this product's keys), managed from then on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  ALLOW_HARIKUBE_TARGETS,
  configYaml,
  deleteConfig,
  ensureNamespace,
  entryKey,
  mustApply,
  readSecret,
  useEnv,
  waitForSecretKeys,
  waitForStatus,
  withLogs,
} from './support.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const env = useEnv({ productArgs: [ALLOW_HARIKUBE_TARGETS] });
const NS = 'adopt-a';
const TARGET = 'harikube/adopt-seed';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'topology-adopt-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// a takes the shirts of stable.example.com, b everything of that group: the
// middleware reads 10-a.yaml first, so shirts are in a's database today.
const A_ENDPOINT = 'mysql://root:s3cret-a@tcp(a.db:3306)/kine';
const B_ENDPOINT = 'mysql://root:s3cret-b@tcp(b.db:3306)/kine';
const seedA = `backends:
- name: a-db
  endpoint: ${A_ENDPOINT}
  connectionPool:
    maxOpen: 90
    maxLifeTime: 5m0s
  customresource:
    group: stable.example.com
    kind: shirts
`;
const seedB = `backends:
- name: b-db
  endpoint: ${B_ENDPOINT}
  prefix:
    prefix: /registry/stable.example.com/
`;
const configA = (position: number) =>
  configYaml({
    name: 'a',
    namespace: NS,
    position,
    targetSecret: TARGET,
    backends: [
      {
        name: 'a-db',
        endpoint: A_ENDPOINT,
        extra:
          'connectionPool:\n  maxOpen: 90\n  maxLifeTime: 5m\ncustomresource:\n  group: stable.example.com\n  kind: shirts',
      },
    ],
  });
const configB = configYaml({
  name: 'b',
  namespace: NS,
  position: 2,
  targetSecret: TARGET,
  backends: [
    {
      name: 'b-db',
      endpoint: B_ENDPOINT,
      extra: 'prefix:\n  prefix: /registry/stable.example.com/',
    },
  ],
});

function topology(args: string[]) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [MAIN, 'adopt', ALLOW_HARIKUBE_TARGETS, '--kubeconfig', env.cp.kubeconfigPath, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The entries as the middleware reads them: in key order, each value parsed. */
const entriesInOrder = (data: Record<string, string>) =>
  Object.keys(data)
    .sort()
    .map((key) => parse(data[key]!) as unknown);

describe('adopting a seed operator Secret', { timeout: 240_000 }, () => {
  test('Error with the how-to, dry run, label, Active with every key routed as before', () =>
    withLogs(env, async () => {
      const { cp } = env;
      await ensureNamespace(cp, NS);
      writeFileSync(join(dir, '10-a.yaml'), seedA);
      writeFileSync(join(dir, '2-b.yaml'), seedB);
      const created = await cp.kubectl([
        'create',
        'secret',
        'generic',
        'adopt-seed',
        '-n',
        'harikube',
        `--from-file=${join(dir, '10-a.yaml')}`,
        `--from-file=${join(dir, '2-b.yaml')}`,
      ]);
      assert.equal(created.code, 0, created.stderr);
      const seed = (await readSecret(cp, 'harikube', 'adopt-seed'))!;
      assert.deepEqual(Object.keys(seed.data), ['10-a.yaml', '2-b.yaml']);

      // Positions as the seed's keys say (10 and 2): not adopted, and the reason says how.
      await mustApply(cp, `${configA(10)}---\n${configB}`);
      const a = await waitForStatus(cp, NS, 'a', 'Error');
      assert.equal(
        a.status.deployStatusReason,
        `Secret ${TARGET} exists and is not managed by topology-webhook (label app.kubernetes.io/managed-by=topology-webhook is missing), so it is never overwritten; its keys are in the seed HariKube operator's format, so it can be adopted with the order the middleware reads today: preview with "topology adopt --dry-run ${TARGET}", then run "topology adopt ${TARGET}" (or label the Secret harikube.info/adopt=true); otherwise choose another targetSecret`,
      );
      await waitForStatus(cp, NS, 'b', 'Error');

      // At positions 10 and 2, b would come first and take the shirts: refused, nothing written.
      const refused = await topology(['--dry-run', TARGET]);
      assert.equal(refused.status, 2, refused.stderr);
      assert.equal(
        refused.stdout,
        [
          `# Secret ${TARGET} would not be adopted:`,
          `#   keys such as /registry/stable.example.com/shirts/… that backend "a-db" (10-a.yaml) receives would go to backend "b-db" (2-b.yaml): the middleware reads 10-a.yaml before 2-b.yaml (lexical order), but at their positions (${NS}/a: 10, ${NS}/b: 2) ${NS}/b would come first; give ${NS}/a a position below 2, or ${NS}/b one above 10, so that the order the middleware follows today is kept`,
          '',
        ].join('\n'),
      );
      // Not labelled without --dry-run either.
      assert.equal((await topology([TARGET])).status, 2);
      const untouched = (await readSecret(cp, 'harikube', 'adopt-seed'))!;
      assert.equal(untouched.resourceVersion, seed.resourceVersion);

      // a placed before b, as the middleware reads them: the dry run shows the Secret.
      await mustApply(cp, configA(1));
      await waitForStatus(cp, NS, 'a', 'Error');
      const preview = await topology(['--dry-run', '-o', 'json', TARGET]);
      assert.equal(preview.status, 0, preview.stderr + preview.stdout);
      const report = JSON.parse(preview.stdout) as {
        state: string;
        entries: unknown[];
        routingChanges: string[];
        labelled: boolean;
        secret: {
          metadata: { labels: Record<string, string> };
          stringData: Record<string, string>;
        };
      };
      assert.equal(report.state, 'adoptable');
      assert.equal(report.labelled, false);
      assert.deepEqual(report.entries, [
        { from: '10-a.yaml', to: entryKey(1, NS, 'a'), config: `${NS}/a`, outcome: 'Active' },
        { from: '2-b.yaml', to: entryKey(2, NS, 'b'), config: `${NS}/b`, outcome: 'Active' },
      ]);
      assert.deepEqual(report.routingChanges, []);
      assert.deepEqual(Object.keys(report.secret.stringData), [
        entryKey(1, NS, 'a'),
        entryKey(2, NS, 'b'),
      ]);
      assert.equal(
        (await readSecret(cp, 'harikube', 'adopt-seed'))!.resourceVersion,
        seed.resourceVersion,
        'a dry run writes nothing',
      );

      // The request: the label; the reconciler takes it from there.
      const labelled = await topology([TARGET]);
      assert.equal(labelled.status, 0, labelled.stderr);
      assert.match(
        labelled.stdout,
        /^# labelled Secret harikube\/adopt-seed harikube\.info\/adopt=true$/m,
      );
      await waitForStatus(cp, NS, 'a', 'Active');
      await waitForStatus(cp, NS, 'b', 'Active');
      const adopted = await waitForSecretKeys(cp, 'harikube', 'adopt-seed', [
        entryKey(1, NS, 'a'),
        entryKey(2, NS, 'b'),
      ]);
      // The same entries in the same order: every key goes where it went.
      assert.deepEqual(entriesInOrder(adopted!.data), entriesInOrder(seed.data));
      assert.equal(adopted!.labels['app.kubernetes.io/managed-by'], 'topology-webhook');
      assert.equal(adopted!.labels['harikube.info/adopt'], undefined);
      assert.deepEqual(adopted!.finalizers, ['harikube.info/finalizer']);

      // Incumbents from now on: the entries annotation names each config's uid, and
      // deleting an adopted config (it would strand the shirts in a's database) is refused.
      const uidOf = async (name: string) =>
        (await cp.kubectl(['get', 'tc', '-n', NS, name, '-o', 'jsonpath={.metadata.uid}'])).stdout;
      const owners = await cp.kubectl([
        'get',
        'secret',
        '-n',
        'harikube',
        'adopt-seed',
        '-o',
        'jsonpath={.metadata.annotations.harikube\\.info/entries}',
      ]);
      assert.deepEqual(JSON.parse(owners.stdout), {
        [entryKey(1, NS, 'a')]: `${await uidOf('a')}:2`,
        [entryKey(2, NS, 'b')]: `${await uidOf('b')}:1`,
      });
      const refusedDelete = await deleteConfig(cp, NS, 'a', '--wait=false');
      assert.notEqual(refusedDelete.code, 0);
      assert.match(refusedDelete.stderr, /is Active: deleting it would make data already written/);

      const again = await topology(['--dry-run', TARGET]);
      assert.deepEqual(again, {
        status: 0,
        stdout: `# Secret ${TARGET} is already managed by topology-webhook: nothing to adopt\n`,
        stderr: '',
      });
    }));
});
