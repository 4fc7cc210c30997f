// The data key names its config: the reconciler reads the position and the
// namespace/name back from keys it wrote (unseen owners, stand-ins, positions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSecretKey, secretKeyFor } from '../../../src/secret-format/entry.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';

const config = (namespace: string, name: string, position: number) =>
  ({ metadata: { namespace, name }, spec: { position } }) as unknown as TopologyConfig;

test('a key secretKeyFor wrote reads back as its position and namespace/name', () => {
  for (const [namespace, name, position] of [
    ['team-a', 'orders', 0],
    ['team-a', 'orders.v2', 7],
    ['x', 'a.b.c', 4_294_967_295],
  ] as const) {
    assert.deepEqual(parseSecretKey(secretKeyFor(config(namespace, name, position))), {
      position,
      namespace,
      name,
    });
  }
});

test('any other key names no config', () => {
  for (const key of [
    '5-team-a.orders.yaml', // not padded to 10 digits
    '00000000001-team-a.orders.yaml', // 11 digits
    '0000000001-team-a.orders.yml',
    '0000000001-team-a.yaml', // no name
    'notes.txt',
  ]) {
    assert.equal(parseSecretKey(key), undefined, key);
  }
});
