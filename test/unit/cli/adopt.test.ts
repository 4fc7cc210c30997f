// `topology adopt --dry-run -f`: the seed's Secret and the configs read from
// files (as `kubectl get secret -o yaml` saves it: base64 data), the same plan
// and merge as against a cluster, nothing written anywhere.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { config, topology, useTempDir } from './support.ts';

const { fixture } = useTempDir('topology-adopt-');
const TARGET = 'harikube/topology-config';

const entry = (name: string, prefix: string) =>
  `backends:\n- name: ${name}\n  endpoint: mysql://root:pw@tcp(${name}.db:3306)/kine\n  prefix:\n    prefix: ${prefix}\n`;
// a takes every pod, b the pods of namespace default: a's key is read first, so a has them all.
const seedSecret = () =>
  fixture(
    'secret.yaml',
    `apiVersion: v1
kind: Secret
metadata:
  name: topology-config
  namespace: harikube
  labels:
    team: platform
data:
  10-a.yaml: ${Buffer.from(entry('a', '/registry/pods/')).toString('base64')}
  2-b.yaml: ${Buffer.from(entry('b', '/registry/pods/default/')).toString('base64')}
`,
  );
const configs = (positionOfA: number) =>
  fixture(
    `configs-${positionOfA}.yaml`,
    `${config({ name: 'a', namespace: 'harikube', position: positionOfA, prefix: '/registry/pods/' })}---\n${config({ name: 'b', namespace: 'harikube', position: 2, prefix: '/registry/pods/default/' })}`,
  );
const files = (positionOfA: number) => ['-f', seedSecret(), '-f', configs(positionOfA)];

describe('topology adopt --dry-run -f', () => {
  test('positions that would swap entries sharing keys: exit 2, the fix, no Secret printed', () => {
    const run = topology(['adopt', '--dry-run', ...files(10), TARGET]);
    assert.equal(run.status, 2, run.stderr);
    assert.match(
      run.stdout,
      /^# Secret harikube\/topology-config would not be adopted:\n# {3}keys such as \/registry\/pods\/default\/… that backend "a" \(10-a\.yaml\) receives would go to backend "b" \(2-b\.yaml\).*give harikube\/a a position below 2, or harikube\/b one above 10/,
    );
    assert.doesNotMatch(run.stdout, /kind: Secret/);
  });

  test('positions in the lexical order: exit 0, the summary, then the Secret the reconciler would write', () => {
    const run = topology(['adopt', '--dry-run', ...files(1), TARGET]);
    assert.equal(run.status, 0, run.stderr);
    const [summary, yaml] = run.stdout.split('---\n');
    assert.equal(
      summary,
      [
        '# Secret harikube/topology-config would be adopted (each entry kept in the order the middleware reads it):',
        '#   10-a.yaml -> 0000000001-harikube.a.yaml (harikube/a: Active)',
        '#   2-b.yaml -> 0000000002-harikube.b.yaml (harikube/b: Active)',
        '# routing: every key the middleware routes today goes to the same backend',
        '',
      ].join('\n'),
    );
    const [secret] = parseAllDocuments(yaml!).map((d) => d.toJS() as unknown);
    const { metadata, stringData } = secret as {
      metadata: { labels: Record<string, string>; finalizers: string[] };
      stringData: Record<string, string>;
    };
    assert.deepEqual(metadata.labels, {
      team: 'platform',
      'app.kubernetes.io/managed-by': 'topology-webhook',
    });
    assert.deepEqual(metadata.finalizers, ['harikube.info/finalizer']);
    assert.deepEqual(Object.keys(stringData), [
      '0000000001-harikube.a.yaml',
      '0000000002-harikube.b.yaml',
    ]);
  });

  test('-o json; -f without --dry-run is a usage error (files cannot be labelled)', () => {
    const json = topology(['adopt', '--dry-run', '-o', 'json', ...files(1), TARGET]);
    assert.equal(json.status, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { state: string; routingChanges: unknown[] };
    assert.equal(report.state, 'adoptable');
    assert.deepEqual(report.routingChanges, []);
    const usage = topology(['adopt', ...files(1), TARGET]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /-f reads files, so nothing can be labelled: add --dry-run/);
  });

  test('a target no file holds: exit 2, not found', () => {
    const run = topology(['adopt', '--dry-run', '-f', configs(1), TARGET]);
    assert.deepEqual(run, {
      status: 2,
      stdout:
        '# Secret harikube/topology-config would not be adopted:\n#   Secret harikube/topology-config not found\n',
      stderr: '',
    });
  });
});
