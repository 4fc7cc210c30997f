// Exact integers in decoded JSON and YAML: the API server keeps a duration as
// int64, so 2^53 + 1 nanoseconds must come through as itself, never rounded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  narrowSafeIntegers,
  parseJson,
  stringifyJson,
  withNumbers,
} from '../../../src/resource/json.ts';

describe('parseJson reads integers beyond 2^53 - 1 exactly', () => {
  const cases: Array<[string, unknown]> = [
    ['9007199254740993', 9007199254740993n],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
    ['9223372036854775808', 9223372036854775808n],
    ['[ 9007199254740993 ]', [9007199254740993n]],
    ['{"a": {"b":\n9007199254740993}}', { a: { b: 9007199254740993n } }],
    // 2^53 itself is not safe (2^53 + 1 reads as it), so it is a bigint too.
    ['9007199254740992', 9007199254740992n],
    // Everything else is what JSON.parse gives.
    ['9007199254740991', 9007199254740991],
    ['-9007199254740991', -9007199254740991],
    ['300000000000', 300_000_000_000],
    ['1e19', 1e19],
    ['12345678901234567.5', Number('12345678901234567.5')],
    ['{"a":"12345678901234567890"}', { a: '12345678901234567890' }],
    ['{"a":":12345678901234567890"}', { a: ':12345678901234567890' }],
  ];
  for (const [text, expected] of cases) {
    test(text.replace(/\n/g, '\\n'), () => assert.deepStrictEqual(parseJson(text), expected));
  }

  test('any int64 (and beyond) survives parse and stringify, digit for digit', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (n) => {
        const text = `{"maxLifeTime":${n},"list":[${n},"${n}"]}`;
        const value = parseJson(text) as { maxLifeTime: unknown; list: unknown[] };
        assert.equal(String(value.maxLifeTime), String(n));
        assert.equal(typeof value.list[1], 'string');
        assert.equal(stringifyJson(value), text);
      }),
      { numRuns: 500, seed: 20261201 },
    );
  });

  test('stringifyJson writes bigints as digits, with indentation as JSON.stringify', () => {
    assert.equal(stringifyJson({ a: 2n ** 63n - 1n }, 2), '{\n  "a": 9223372036854775807\n}');
    assert.equal(stringifyJson({ a: 1 }, 2), JSON.stringify({ a: 1 }, null, 2));
  });
});

describe('helpers for number-only code and for YAML', () => {
  test('withNumbers copies only when there is a bigint', () => {
    const plain = { a: [1, { b: 'x' }] };
    assert.equal(withNumbers(plain), plain);
    const big = { a: [1, { b: 9007199254740993n }], c: 'x' };
    assert.deepStrictEqual(withNumbers(big), { a: [1, { b: 9007199254740992 }], c: 'x' });
    assert.equal((big.a[1] as { b: bigint }).b, 9007199254740993n, 'input unchanged');
  });

  test('narrowSafeIntegers keeps only the unsafe bigints', () => {
    assert.deepStrictEqual(
      narrowSafeIntegers({ a: 5n, b: [-9007199254740991n, 9007199254740992n], c: 'x', d: 1.5 }),
      { a: 5, b: [-9007199254740991, 9007199254740992n], c: 'x', d: 1.5 },
    );
  });
});
