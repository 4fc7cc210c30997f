// The two forms a duration takes in a TopologyConfig (nanoseconds, or a Go
// duration string as HariKube's docs write it): the CRD's pattern accepts
// exactly the strings Go's time.ParseDuration reads (without a sign of minus),
// and the merged Secret gets Go's canonical string for either form.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GO_DURATION_PATTERN } from '../../../src/resource/schema.ts';
import { parseJson } from '../../../src/resource/json.ts';
import type { GoDurationValue, TopologyConfig } from '../../../src/resource/types.ts';
import { canonicalGoDuration, parseGoDuration } from '../../../src/secret-format/duration.ts';
import { renderEntry } from '../../../src/secret-format/entry.ts';
import { goFormatDurations, goParseDurations } from './go-durations.ts';

const pattern = new RegExp(GO_DURATION_PATTERN);

const WRITTEN = [
  '5m',
  '300ms',
  '1.5h',
  '2h45m',
  '1h30m',
  '0',
  '+0',
  '0s',
  '+5m',
  '1.s',
  '.5s',
  '1us',
  '1µs',
  '1μs',
  '90s',
  '100000h',
  '2562047h47m16.854775807s',
  '2562047h47m16.854775808s',
  '9999999999h',
  '1d',
  '5',
  '-5m',
  '-0',
  'm',
  '.s',
  '5 m',
  '5M',
  '1h 30m',
  '',
  '1e3s',
  '5mss',
  '0x10s',
];
const unit = fc.constantFrom('ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h', 'd', 'x', '');
const number = fc.oneof(
  fc.stringMatching(/^[0-9]{0,6}$/),
  fc.stringMatching(/^[0-9]{0,4}\.[0-9]{0,4}$/),
);
const generated = fc.sample(
  fc
    .tuple(
      fc.constantFrom('', '+', '-'),
      fc.array(fc.tuple(number, unit), { minLength: 1, maxLength: 3 }),
    )
    .map(([sign, parts]) => sign + parts.map(([n, u]) => n + u).join('')),
  { numRuns: 300, seed: 20261201 },
);

describe('Go duration strings', () => {
  const inputs = [...new Set([...WRITTEN, ...generated])];
  const lines = goParseDurations(inputs);

  test('the CRD pattern and the int64 range accept exactly what Go reads, minus signs aside', () => {
    const disagreements = inputs
      .map((text, i) => {
        const go = lines[i]!;
        const ns = pattern.test(text) ? parseGoDuration(text) : undefined;
        const ours = ns === undefined ? 'error' : String(ns);
        return { text, go, ours };
      })
      // A negative duration is refused by design (no lifetime is negative), though Go reads it.
      .filter(({ text, go, ours }) => go !== ours && !(text.startsWith('-') && ours === 'error'));
    assert.deepEqual(disagreements, []);
  });

  test('HariKube documentation shapes are read', () => {
    for (const text of ['5m', '300ms', '1.5h', '2h45m']) assert.ok(pattern.test(text), text);
    assert.equal(canonicalGoDuration('5m'), '5m0s');
    assert.equal(canonicalGoDuration('1.5h'), '1h30m0s');
    assert.equal(canonicalGoDuration(300_000_000_000), '5m0s');
  });
});

describe('the Secret gets the canonical string for both forms', () => {
  const config = (
    maxLifeTime: GoDurationValue,
    maxIdleLifeTime: GoDurationValue,
  ): TopologyConfig => ({
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name: 'shirts', namespace: 'default' },
    spec: {
      position: 1,
      targetSecret: 'harikube/topology-config',
      backends: [
        {
          name: 'shirts',
          endpoint: 'mysql://db:3306/kine',
          connectionPool: { maxLifeTime, maxIdleLifeTime },
          customresource: { group: 'stable.example.com', kind: 'shirts' },
        },
      ],
    },
  });

  test('5m, 300s and 300000000000 render the same bytes', () => {
    const a = renderEntry(config('5m', 300_000_000_000), ['mysql://db:3306/kine']);
    const b = renderEntry(config(300_000_000_000, '300s'), ['mysql://db:3306/kine']);
    assert.equal(a, b);
    assert.match(a, /maxLifeTime: 5m0s\n/);
    assert.match(a, /maxIdleLifeTime: 5m0s\n/);
  });

  test('the longest Go duration, written as a string, is kept exactly', () => {
    const text = renderEntry(config('2562047h47m16.854775807s', '0'), ['mysql://db:3306/kine']);
    assert.match(text, /maxLifeTime: 2562047h47m16.854775807s\n/);
    assert.match(text, /maxIdleLifeTime: 0s\n/);
  });

  test('integers beyond 2^53 - 1, as the webhook and the watch read them, get Go’s string', () => {
    const values = [2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 62n + 12_345n];
    const go = goFormatDurations(values);
    for (const [i, n] of values.entries()) {
      const pool = parseJson(`{"maxLifeTime":${n},"maxIdleLifeTime":${n}}`) as Record<
        string,
        bigint
      >;
      const text = renderEntry(config(pool.maxLifeTime!, pool.maxIdleLifeTime!), [
        'mysql://db:3306/kine',
      ]);
      assert.match(text, new RegExp(`maxLifeTime: ${go[i]}\n`));
      assert.match(text, new RegExp(`maxIdleLifeTime: ${go[i]}\n`));
      // The same instant as a Go string renders the same bytes.
      assert.equal(text, renderEntry(config(go[i]!, go[i]!), ['mysql://db:3306/kine']));
    }
  });
});
