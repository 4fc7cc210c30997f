import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoizeString } from '../../../src/rules/memo.ts';

test('memoizeString answers like the function, computes each input once, and stays bounded', () => {
  const calls: string[] = [];
  const length = memoizeString(
    (s) => {
      calls.push(s);
      return s === 'none' ? undefined : s.length;
    },
    { maxEntries: 2, maxInputLength: 5 },
  );
  assert.equal(length('ab'), 2);
  assert.equal(length('ab'), 2);
  assert.equal(length('none'), undefined);
  assert.equal(length('none'), undefined, 'an undefined answer is remembered too');
  assert.deepEqual(calls, ['ab', 'none']);
  assert.equal(length('xyz'), 3, 'a third entry evicts the oldest');
  assert.equal(length('ab'), 2);
  assert.deepEqual(calls, ['ab', 'none', 'xyz', 'ab']);
  assert.equal(length('toolong'), 7);
  assert.equal(length('toolong'), 7);
  assert.deepEqual(calls.slice(4), ['toolong', 'toolong'], 'long inputs are never kept');
});
