import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, parseGoDuration } from '../../../src/secret-format/duration.ts';
import { goFormatDurations, goParseDurations } from './go-durations.ts';

const MAX = 2n ** 63n - 1n;
const MIN = -(2n ** 63n);

// [nanoseconds, Go's time.Duration(ns).String()]
const TABLE: [bigint, string][] = [
  [0n, '0s'],
  [1n, '1ns'],
  [-1n, '-1ns'],
  [999n, '999ns'],
  [1_000n, '1µs'],
  [1_100n, '1.1µs'],
  [1_500n, '1.5µs'],
  [1_001n, '1.001µs'],
  [-1_500n, '-1.5µs'],
  [999_999n, '999.999µs'],
  [1_000_000n, '1ms'],
  [1_000_001n, '1.000001ms'],
  [2_200_000n, '2.2ms'],
  [999_999_999n, '999.999999ms'],
  [1_000_000_000n, '1s'],
  [1_000_000_001n, '1.000000001s'],
  [1_500_000_000n, '1.5s'],
  [-1_500_000_000n, '-1.5s'],
  [59_999_999_999n, '59.999999999s'],
  [60_000_000_000n, '1m0s'],
  [61_000_000_000n, '1m1s'],
  [90_500_000_000n, '1m30.5s'],
  [300_000_000_000n, '5m0s'],
  [-300_000_000_000n, '-5m0s'],
  [3_599_999_999_999n, '59m59.999999999s'],
  [3_600_000_000_000n, '1h0m0s'],
  [3_600_000_000_001n, '1h0m0.000000001s'],
  [3_660_000_000_000n, '1h1m0s'],
  [3_601_000_000_000n, '1h0m1s'],
  [86_400_000_000_000n, '24h0m0s'],
  [-86_400_000_000_000n, '-24h0m0s'],
  [BigInt(Number.MAX_SAFE_INTEGER), '2501h59m59.254740991s'],
  [BigInt(Number.MIN_SAFE_INTEGER), '-2501h59m59.254740991s'],
  [2n ** 53n, '2501h59m59.254740992s'],
  [2n ** 62n, '1281023h53m38.427387904s'],
  [MAX, '2562047h47m16.854775807s'],
  [MAX - 1n, '2562047h47m16.854775806s'],
  [MIN, '-2562047h47m16.854775808s'],
  [MIN + 1n, '-2562047h47m16.854775807s'],
  [10n, '10ns'],
  [100_000n, '100µs'],
  [123_456_789_012n, '2m3.456789012s'],
];

describe('formatGoDuration', () => {
  for (const [ns, expected] of TABLE) {
    test(`${ns} → ${expected}`, () => {
      assert.equal(formatGoDuration(ns), expected);
      if (ns >= BigInt(Number.MIN_SAFE_INTEGER) && ns <= BigInt(Number.MAX_SAFE_INTEGER)) {
        assert.equal(formatGoDuration(Number(ns)), expected, 'number and bigint agree');
      }
    });
  }

  test('the micro sign is U+00B5, as Go writes it (not U+03BC)', () => {
    assert.equal(formatGoDuration(1_500), '1.5\u00b5s');
  });

  const badNumbers = [2 ** 53, -(2 ** 53), 1.5, Number.NaN, Number.POSITIVE_INFINITY, 300e18];
  for (const n of badNumbers) {
    test(`number ${n} is refused with a RangeError, never rounded`, () => {
      assert.throws(() => formatGoDuration(n), RangeError);
    });
  }

  for (const n of [MAX + 1n, MIN - 1n, 2n ** 64n]) {
    test(`bigint ${n} outside int64 is refused with a RangeError`, () => {
      assert.throws(() => formatGoDuration(n), RangeError);
    });
  }
});

/** splitmix64 with a fixed seed: the same "random" int64s in every run. */
function randomInt64s(count: number, seed: bigint): bigint[] {
  const mask = 2n ** 64n - 1n;
  let state = seed;
  const next = (): bigint => {
    state = (state + 0x9e3779b97f4a7c15n) & mask;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
    return z ^ (z >> 31n);
  };
  const values: bigint[] = [];
  for (let i = 0; i < count; i++) {
    // Spread over every magnitude (a uniform int64 is almost always hours).
    const shift = next() % 64n;
    values.push(BigInt.asIntN(64, next()) >> shift);
  }
  return values;
}

test('Go agrees on the table and on 200 random int64 values', () => {
  const values = [...TABLE.map(([ns]) => ns), ...randomInt64s(200, 20240601n)];
  const lines = goFormatDurations(values);
  const mismatches = values
    .map((ns, i) => ({ ns, go: lines[i], ours: formatGoDuration(ns) }))
    .filter((m) => m.go !== m.ours);
  assert.deepEqual(mismatches, []);
});

// [text, Go's time.ParseDuration(text) in nanoseconds, or undefined for an error]
const PARSE_TABLE: [string, bigint | undefined][] = [
  ['0', 0n],
  ['+0', 0n],
  ['-0', 0n],
  ['0s', 0n],
  ['15s', 15_000_000_000n],
  ['1m30s', 90_000_000_000n],
  ['500ms', 500_000_000n],
  ['1.5h', 5_400_000_000_000n],
  ['2h45m', 9_900_000_000_000n],
  ['1500us', 1_500_000n],
  ['1500\u00b5s', 1_500_000n],
  ['1500\u03bcs', 1_500_000n],
  ['.5s', 500_000_000n],
  ['1.s', 1_000_000_000n],
  ['-1.5s', -1_500_000_000n],
  ['+3ns', 3n],
  ['1h1h', 7_200_000_000_000n],
  ['0.000000001s', 1n],
  ['0.0000000019s', 1n],
  ['9223372036854775807ns', MAX],
  ['-9223372036854775808ns', MIN],
  ['9223372036854775808ns', undefined],
  ['2562047h47m16.854775807s', MAX],
  ['2562048h', undefined],
  ['1.00000000000000000000000000000001s', 1_000_000_000n],
  ['', undefined],
  ['+', undefined],
  ['15', undefined],
  ['1d', undefined],
  ['s', undefined],
  ['.s', undefined],
  ['1s ', undefined],
  [' 1s', undefined],
  ['1s1', undefined],
  ['1S', undefined],
  ['--1s', undefined],
  ['1e3s', undefined],
];

describe('parseGoDuration', () => {
  for (const [text, ns] of PARSE_TABLE) {
    test(`${JSON.stringify(text)} → ${ns ?? 'error'}`, () =>
      assert.equal(parseGoDuration(text), ns));
  }
  test('parsing what formatGoDuration wrote gives the value back', () => {
    for (const ns of [...TABLE.map(([n]) => n), ...randomInt64s(200, 7n)]) {
      assert.equal(parseGoDuration(formatGoDuration(ns)), ns);
    }
  });
});

/** Strings of duration-ish characters, the same in every run. */
function randomDurationTexts(count: number): string[] {
  const alphabet = ['0', '1', '5', '9', '.', '+', '-', 'n', 's', 'u', 'm', 'h', 'µ', 'μ', 'd', ' '];
  let state = 12345;
  const next = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const units = ['ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h'];
    // Half well-formed-looking (number + unit runs), half any characters.
    let text = '';
    if (i % 2 === 0) {
      if (next(4) === 0) text += next(2) ? '-' : '+';
      for (let k = 1 + next(3); k > 0; k--) {
        text += String(next(100_000));
        if (next(3) === 0) text += `.${next(1_000_000_000)}`;
        text += units[next(units.length)];
      }
    } else {
      for (let k = next(10); k > 0; k--) text += alphabet[next(alphabet.length)];
    }
    texts.push(text);
  }
  texts.push('99999999999999999999h', '9223372036.854775807s', '0.9999999999999999999999h');
  return texts;
}

test('Go agrees on parsing the table and 400 generated strings', () => {
  const texts = [...PARSE_TABLE.map(([text]) => text), ...randomDurationTexts(400)];
  const lines = goParseDurations(texts);
  const mismatches = texts
    .map((text, i) => ({ text, go: lines[i], ours: String(parseGoDuration(text) ?? 'error') }))
    .filter((m) => m.go !== m.ours);
  assert.deepEqual(mismatches, []);
});
