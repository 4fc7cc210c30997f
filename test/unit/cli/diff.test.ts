// diffSecrets as a table of cluster states: what applying the files would
// do to each target Secret, from the cluster's configs and Secrets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffLines, diffSecrets } from '../../../src/cli/diff.ts';
import type { ManifestConfig } from '../../../src/cli/manifests.ts';
import { admit } from '../../../src/cli/validate.ts';
import type { Secret } from '../../../src/reconcile/reconciler.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';
import { managedSecret } from '../../../src/secret-format/secret.ts';
import { topology } from './support.ts';

const TARGET = defaultPolicy.defaultTargetSecret;
const [TARGET_NS, TARGET_NAME] = TARGET.split('/') as [string, string];

const spec = (name: string, position: number) => ({
  position,
  targetSecret: TARGET,
  backends: [{ name, endpoint: `sqlite:///data/${name}.db`, prefix: { prefix: `/${name}/` } }],
});

const fileConfig = (name: string, position: number): ManifestConfig => ({
  file: 'f.yaml',
  index: 0,
  namespace: 'default',
  name,
  object: {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name, namespace: 'default' },
    spec: spec(name, position),
  },
});

/** The cluster's version of a file config, Active at generation 1. */
function clusterConfig(name: string, position: number): TopologyConfig {
  const { judged } = admit({ configs: [fileConfig(name, position)], secrets: [] }, defaultPolicy);
  const config = judged[0]!.defaulted;
  return {
    ...config,
    metadata: { ...config.metadata, uid: `uid-${name}`, resourceVersion: '1', generation: 1 },
    status: { deployStatus: 'Active', observedGeneration: 1 },
  } as TopologyConfig;
}

function run(files: ManifestConfig[], cluster: TopologyConfig[], secret: Secret | undefined) {
  const admission = admit({ configs: files, secrets: [] }, defaultPolicy, {
    configs: cluster,
    keySecrets: [],
  });
  return diffSecrets(admission, cluster, new Map([[TARGET, secret]]), defaultPolicy);
}

describe('diffSecrets', () => {
  const a = clusterConfig('a', 1);

  test('no Secret yet: every key is added, and the Secret would be created', () => {
    const diff = run([fileConfig('b', 2)], [a], undefined);
    assert.deepEqual(diffLines(diff.targets), [
      `Secret ${TARGET} (would be created):`,
      '  + 0000000001-default.a.yaml',
      '  + 0000000002-default.b.yaml',
    ]);
    assert.deepEqual(diff.errors, []);
  });

  test('a key the Secret holds that no config renders would be removed', () => {
    const secret = {
      ...managedSecret({ namespace: TARGET_NS, name: TARGET_NAME }, {}, 'data'),
      data: { 'stray.yaml': Buffer.from('x').toString('base64') },
    } as Secret;
    assert.deepEqual(diffLines(run([], [a], secret).targets), [
      `Secret ${TARGET}:`,
      '  + 0000000001-default.a.yaml',
      '  - stray.yaml',
    ]);
  });

  test('a Secret of the same name that is not managed is never written: blocked, no keys', () => {
    const foreign = {
      metadata: { name: TARGET_NAME, namespace: TARGET_NS },
      data: { owner: Buffer.from('someone').toString('base64') },
    } as Secret;
    const diff = run([fileConfig('b', 2)], [a], foreign);
    assert.deepEqual(diffLines(diff.targets), [
      `Secret ${TARGET}: would not be written: exists and is not managed by topology-webhook: it is never overwritten`,
    ]);
  });

  // a's entry as the seed operator wrote it (its key format, its YAML).
  const seedEntry = Buffer.from(
    'backends:\n- name: a\n  endpoint: sqlite:///data/a.db\n  prefix:\n    prefix: /a/\n',
  ).toString('base64');
  const seed = (labels: Record<string, string>) =>
    ({
      metadata: { name: TARGET_NAME, namespace: TARGET_NS, labels },
      data: { '1-a.yaml': seedEntry },
    }) as Secret;

  test('a seed operator Secret: not written until adopted, and the diff says how', () => {
    assert.deepEqual(diffLines(run([fileConfig('b', 2)], [a], seed({})).targets), [
      `Secret ${TARGET}: would not be written: exists and is not managed by topology-webhook: it is never overwritten until adopted (see "topology adopt --dry-run ${TARGET}")`,
    ]);
  });

  test('labelled for adoption: the keys as the reconciler would adopt and merge them', () => {
    const labelled = seed({ 'harikube.info/adopt': 'true' });
    assert.deepEqual(diffLines(run([fileConfig('b', 2)], [a], labelled).targets), [
      `Secret ${TARGET}:`,
      '  + 0000000001-default.a.yaml',
      '  + 0000000002-default.b.yaml',
      '  - 1-a.yaml',
    ]);
    // Its entry's writer unknown: not adoptable, with the reason.
    const [blocked] = run([fileConfig('c', 3)], [], labelled).targets;
    assert.match(
      blocked?.blocked ?? '',
      /^labelled harikube\.info\/adopt=true but not adoptable: data key 1-a\.yaml: no TopologyConfig named "a" names this Secret/,
    );
  });
});

test('topology diff without a file is bad usage: exit 2, before any cluster is read', () => {
  const run = topology(['diff', '--kubeconfig', '/nonexistent']);
  assert.equal(run.status, 2);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr.split('\n')[0], 'topology diff: no FILE given');
});
