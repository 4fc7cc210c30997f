// Buckets hold a key's only value as itself and an array once a second
// comes: what callers see must not depend on which.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Buckets, TargetBuckets } from '../../../src/rules/buckets.ts';

const v = (id: string) => ({ id });
const ids = (values: readonly { id: string }[]) => values.map((x) => x.id);

test('values come back in the order added, one or many, and go as removed', () => {
  const b = new Buckets<string, { id: string }>();
  assert.deepEqual(ids(b.get('k')), []);
  b.add('k', v('a'));
  assert.deepEqual(ids(b.get('k')), ['a']);
  b.add('k', v('b'));
  b.add('k', v('c'));
  assert.deepEqual(ids(b.get('k')), ['a', 'b', 'c']);
  assert.equal(
    b.remove('k', (x) => x.id === 'z'),
    'none',
  );
  assert.equal(
    b.remove('k', (x) => x.id !== 'b'),
    'kept',
  );
  assert.deepEqual(ids(b.get('k')), ['b']);
  b.add('k', v('d'));
  assert.deepEqual(ids(b.get('k')), ['b', 'd']);
  assert.deepEqual([...b.groups()].map(ids), [['b', 'd']]);
  assert.equal(
    b.remove('k', () => true),
    'emptied',
  );
  assert.equal(b.has('k'), false);
  assert.equal(
    b.remove('k', () => true),
    'none',
  );
  assert.equal(b.size, 0);
});

test('per target: the same key in two targets is two buckets', () => {
  const t = new TargetBuckets<number, { id: string }>();
  t.add('ns/a', 1, v('x'));
  t.add('ns/b', 1, v('y'));
  assert.deepEqual(ids(t.get('ns/a', 1)), ['x']);
  assert.deepEqual(ids(t.get('ns/b', 1)), ['y']);
  t.remove('ns/a', 1, () => true);
  assert.deepEqual(ids(t.get('ns/a', 1)), []);
  assert.deepEqual(ids(t.get('ns/b', 1)), ['y']);
  t.add('ns/a', 1, v('z'));
  assert.deepEqual(ids(t.get('ns/a', 1)), ['z']);
});
