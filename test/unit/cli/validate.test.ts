import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { ManifestConfig } from '../../../src/cli/manifests.ts';
import { accepted, admit, verdictLines } from '../../../src/cli/validate.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';

function source(
  file: string,
  name: string,
  spec: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): ManifestConfig {
  return {
    file,
    index: 0,
    namespace: 'default',
    name,
    object: {
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyConfig',
      metadata: { name, namespace: 'default' },
      spec,
      ...extra,
    },
  };
}

const backend = (name: string, prefix: string) => ({
  name,
  endpoint: `sqlite:///data/${name}.db`,
  prefix: { prefix },
});

describe('admit', () => {
  test('a config without a name is refused at metadata.name', () => {
    const config = source('f.yaml', '', { position: 1, backends: [backend('a', '/a/')] });
    const { judged } = admit({ configs: [config], secrets: [] }, defaultPolicy);
    assert.deepEqual(verdictLines(judged), [
      'f.yaml: default/(no name): metadata.name: Required value',
    ]);
    assert.equal(accepted(judged), false);
  });

  test('configs are judged in order: the later of two conflicting ones is reported', () => {
    const first = source('1.yaml', 'first', { position: 1, backends: [backend('a', '/a/')] });
    const second = source('2.yaml', 'second', { position: 2, backends: [backend('b', '/a/')] });
    const { judged, view } = admit({ configs: [first, second], secrets: [] }, defaultPolicy);
    assert.equal(judged[0]!.verdict.errors.length, 0);
    assert.deepEqual(
      judged[1]!.verdict.errors.map((e) => e.field),
      ['spec.backends[0].prefix'],
    );
    // Only the accepted one joins the view.
    assert.deepEqual(
      view.configsOfTarget('harikube/topology-config').map((c) => c.metadata.name),
      ['first'],
    );
  });

  test('defaults are applied first: targetSecret and the next free position', () => {
    const first = source('1.yaml', 'first', { position: 4, backends: [backend('a', '/a/')] });
    const second = source('1.yaml', 'second', { backends: [backend('b', '/b/')] });
    const { judged } = admit({ configs: [first, second], secrets: [] }, defaultPolicy);
    assert.deepEqual(verdictLines(judged), []);
    assert.equal(judged[1]!.defaulted.spec.position, 5);
    assert.equal(judged[1]!.defaulted.spec.targetSecret, 'harikube/topology-config');
  });

  test('status and server-set metadata in a file are ignored, as on create', () => {
    // Saved with `kubectl get -o yaml`: Active, and being deleted. Neither may
    // count: otherwise the config at position 1 would be an insert before an
    // Active one, and the deleting one would not take part in conflicts.
    const saved = source(
      'saved.yaml',
      'saved',
      { position: 5, backends: [backend('a', '/a/')] },
      { status: { deployStatus: 'Active' } },
    );
    (saved.object.metadata as Record<string, unknown>).deletionTimestamp = '2025-01-01T00:00:00Z';
    const before = source('new.yaml', 'before', {
      position: 1,
      backends: [{ ...backend('a', '/x/'), endpoint: 'sqlite:///data/other.db' }],
    });
    const { judged } = admit({ configs: [saved, before], secrets: [] }, defaultPolicy);
    assert.deepEqual(verdictLines(judged), [
      'new.yaml: default/before: spec.backends[0].name: "a" is already used by default/saved (position 5)',
    ]);
  });
});
