import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FINALIZER, TARGET_SECRET_LABEL } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { defaultConfig } from '../../../src/rules/defaults.ts';
import { policy, TARGET } from './fixtures.ts';

// defaultConfig copies only what it changes and shares the rest with its
// input: the input must come out untouched whatever it holds.
const kinds = fc.array(fc.constantFrom('pods', 'secrets', 'configmaps'), { maxLength: 5 });
const backendArb = fc.record(
  {
    name: fc.string(),
    endpoint: fc.string(),
    namespace: fc.record({ namespace: fc.string(), kinds }, { requiredKeys: [] }),
    prefix: fc.record({ prefix: fc.string() }),
    connectionPool: fc.record({ maxIdle: fc.nat() }),
  },
  { requiredKeys: ['name', 'endpoint'] },
);
const configArb = fc
  .record({
    apiVersion: fc.constant('harikube.info/v1'),
    kind: fc.constant('TopologyConfig'),
    metadata: fc.record(
      {
        name: fc.constant('orders'),
        namespace: fc.constant('team-a'),
        labels: fc.dictionary(fc.constantFrom('a', 'b', TARGET_SECRET_LABEL), fc.string()),
        annotations: fc.dictionary(fc.string(), fc.string()),
        finalizers: fc.array(fc.constantFrom(FINALIZER, 'other/finalizer')),
        managedFields: fc.array(fc.record({ manager: fc.string(), fieldsV1: fc.object() })),
        deletionTimestamp: fc.constant('2024-05-02T10:00:00Z'),
      },
      { requiredKeys: ['name', 'namespace'] },
    ),
    spec: fc.record(
      {
        position: fc.integer({ min: 1, max: 50 }),
        targetSecret: fc.constantFrom(TARGET, 'shared/a', 'not a secret'),
        backends: fc.array(backendArb, { maxLength: 3 }),
      },
      { requiredKeys: ['backends'] },
    ),
    status: fc.record({ deployStatus: fc.constantFrom('Active', 'Pending') }),
  })
  // What the webhook gets: parsed JSON (plain objects, no undefined).
  .map((value) => JSON.parse(JSON.stringify(value)) as TopologyConfig);

describe('defaultConfig copies what it changes', () => {
  test('the input is never changed, and the result is the same as from a deep copy', () => {
    const index = new ConfigIndex();
    fc.assert(
      fc.property(configArb, fc.option(configArb, { nil: undefined }), (input, old) => {
        const before = structuredClone(input);
        const out = defaultConfig(input, index, policy, old);
        assert.deepEqual(input, before);
        assert.deepEqual(out, defaultConfig(structuredClone(input), index, policy, old));
      }),
      { numRuns: 500 },
    );
  });

  test('changing the result leaves the input alone where defaulting wrote', () => {
    const input = {
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyConfig',
      metadata: { name: 'orders', namespace: 'team-a', labels: { team: 'a' } },
      spec: {
        backends: [
          { name: 'db', endpoint: 'x', namespace: { namespace: 'ns', kinds: ['pods', 'pods'] } },
        ],
      },
    } as unknown as TopologyConfig;
    const out = defaultConfig(input, new ConfigIndex(), policy);
    assert.deepEqual(out.spec.backends[0]!.namespace!.kinds, ['pods']);
    assert.deepEqual(input.spec.backends[0]!.namespace!.kinds, ['pods', 'pods']);
    assert.deepEqual(input.metadata.labels, { team: 'a' });
    assert.equal(input.metadata.finalizers, undefined);
    assert.equal(input.spec.position, undefined);
  });
});
