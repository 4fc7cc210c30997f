// A config that was merged for its current generation and can no longer be
// decrypted (its key Secret changed or vanished) keeps its last entry: data
// already written through that route must stay reachable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import { mergeTarget } from '../../../src/reconcile/merge.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { backend, config, policy, TARGET } from '../rules/fixtures.ts';

const key = Buffer.alloc(32, 7);
const endpoint = 'mysql://app:pw@tcp(db:3306)/kine';
const encrypted = config({
  name: 'orders',
  position: 1,
  decryptSecret: 'team-a/keys',
  backends: [backend('orders-db', { endpoint: encryptEndpoint(key, endpoint) })],
});
const keysGone: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };
const lastEntry = `backends:\n- name: orders-db\n  endpoint: ${endpoint}\n`;
const entryKey = '0000000001-team-a.orders.yaml';

test('without a retained entry, an undecryptable config is dropped and in Error', () => {
  const result = mergeTarget(TARGET, [encrypted], keysGone, policy);
  assert.deepEqual(result.data, {});
  assert.equal(result.outcomes.get('team-a/orders')?.state, 'Error');
});

test('with its retained entry, it stays in the Secret, reported as Error with the reason', () => {
  const retained = new Map([['team-a/orders', lastEntry]]);
  const result = mergeTarget(TARGET, [encrypted], keysGone, policy, retained);
  assert.deepEqual(result.data, { [entryKey]: lastEntry });
  const outcome = result.outcomes.get('team-a/orders');
  assert.equal(outcome?.state, 'Error');
  assert.equal(outcome?.kept, true);
  assert.match(
    outcome!.reason,
    /^spec\.endpointDecryptSecret: Secret team-a\/keys not found .*; the routing last written for this generation stays in harikube\/topology-config/,
  );
  assert.ok(!outcome!.reason.includes('app:pw'));
});

test('a retained entry still loses a conflict to a config that comes first', () => {
  const first = config({
    name: 'first',
    position: 1,
    created: '2024-01-01T00:00:00Z',
    backends: [backend('orders-db')],
  });
  const retained = new Map([['team-a/orders', lastEntry]]);
  const result = mergeTarget(TARGET, [encrypted, first], keysGone, policy, retained);
  assert.deepEqual(Object.keys(result.data), ['0000000001-team-a.first.yaml']);
  assert.match(result.outcomes.get('team-a/orders')!.reason, /conflicts with team-a\/first/);
});

test('a config that decrypts is rendered afresh, whatever was retained', () => {
  const keys: KeyLookup = {
    keysOf: () => ({ found: true, labeled: true, keys: [{ name: 'k', key }] }),
  };
  const retained = new Map([['team-a/orders', 'stale']]);
  const result = mergeTarget(TARGET, [encrypted], keys, policy, retained);
  assert.equal(result.outcomes.get('team-a/orders')?.state, 'Active');
  assert.match(result.data[entryKey]!, /endpoint: mysql:\/\/app:pw@tcp\(db:3306\)\/kine/);
});
