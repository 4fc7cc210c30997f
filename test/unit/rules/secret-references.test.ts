// secret://<namespace>/<name>/<key> endpoints, HariKube's newer form for
// sensitive values: recognised (no unknown-scheme warning), well-formed, and
// within the same namespace rule as endpointDecryptSecret.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { validateCreate } from '../../../src/rules/index.ts';
import { assertErrors, backend, config, policy } from './fixtures.ts';

const judge = (endpoint: string, extra = {}) =>
  validateCreate(
    config({ namespace: 'team-a', backends: [backend('a', { endpoint })] }),
    new ConfigIndex(),
    { ...policy, ...extra },
  );

describe('secret:// endpoints', () => {
  test('a reference in the own namespace: admitted, no warning', () => {
    const verdict = judge('secret://team-a/orders-db/endpoint');
    assert.deepEqual(verdict.errors, []);
    assert.deepEqual(verdict.warnings, []);
  });

  for (const [endpoint, detail] of [
    ['secret://team-a/orders-db', 'has not three parts'],
    ['secret://team-a/orders-db/endpoint/extra', 'has not three parts'],
    ['secret://Team_A/orders-db/endpoint', 'secret://<namespace>/<name>/<key>'],
    ['secret://team-a/orders-db/end point', 'the key is not a Secret data key'],
  ] as const) {
    test(`${endpoint} is refused (${detail})`, () => {
      const verdict = judge(endpoint);
      assertErrors(verdict.errors, [
        { type: 'Invalid', field: 'spec.backends[0].endpoint', detail },
      ]);
      assert.ok(!verdict.errors[0]!.detail.includes('orders-db'), 'the reference is not quoted');
    });
  }

  test('another namespace is forbidden unless the cluster policy allows it', () => {
    assertErrors(judge('secret://team-b/orders-db/endpoint').errors, [
      { type: 'Forbidden', field: 'spec.backends[0].endpoint', detail: 'own namespace (team-a)' },
    ]);
    assert.deepEqual(
      judge('secret://team-b/orders-db/endpoint', { allowCrossNamespaceDecryptSecret: true })
        .errors,
      [],
    );
  });
});
