import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RE2JS, RE2JSSyntaxException } from 're2js';
import type { Backend } from '../../../src/resource/types.ts';
import { LIMITS, validateBounds } from '../../../src/rules/bounds.ts';
import { validateStatic } from '../../../src/rules/index.ts';
import { patternSize } from '../../../src/rules/pattern-size.ts';
import type { Expected } from './fixtures.ts';
import { assertErrors, backend, config, policy } from './fixtures.ts';

const regexp = (name: string, prefix: string, key?: string): Backend =>
  backend(name, { prefix: undefined, regexp: { prefix, ...(key ? { key } : {}) } });
const many = (n: number, make: (i: number) => Backend) =>
  Array.from({ length: n }, (_, i) => make(i));

describe('bounds: a config over one is judged no further', () => {
  const cases: { name: string; backends: Backend[]; errors: Expected[] }[] = [
    {
      name: 'as many backends as allowed',
      backends: many(LIMITS.backends, (i) => backend(`b${i}`)),
      errors: [],
    },
    {
      name: 'one backend too many',
      backends: many(LIMITS.backends + 1, (i) => backend(`b${i}`)),
      errors: [{ type: 'TooLong', field: 'spec.backends', detail: `at most ${LIMITS.backends}` }],
    },
    {
      name: 'a pattern one character too long',
      backends: [regexp('r', 'a'.repeat(LIMITS.patternLength + 1))],
      errors: [
        {
          type: 'TooLong',
          field: 'spec.backends[0].regexp.prefix',
          detail: `at most ${LIMITS.patternLength} characters`,
        },
      ],
    },
    {
      name: 'a short pattern that would compile to a huge program',
      backends: [regexp('r', '^/registry/', '\\pL{1000}'.repeat(6))],
      errors: [
        {
          type: 'TooLong',
          field: 'spec.backends[0].regexp.key',
          detail: `would compile to about 6000 RE2 instructions; at most ${LIMITS.patternSize}`,
        },
      ],
    },
    {
      name: 'too many patterns',
      backends: many(LIMITS.patterns / 2 + 1, (i) => regexp(`r${i}`, `^/a${i}/`, 'x')),
      errors: [{ type: 'TooLong', field: 'spec.backends', detail: `at most ${LIMITS.patterns}` }],
    },
    {
      name: 'patterns each within the bound but too large together',
      backends: many(5, (i) => regexp(`r${i}`, `^/a${i}/`, '\\pL{1000}'.repeat(4) + `x${i}`)),
      errors: [
        {
          type: 'TooLong',
          field: 'spec.backends',
          detail: `at most ${LIMITS.patternsSize} are allowed`,
        },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { errors } = validateStatic(config({ backends: c.backends }), policy).verdict;
      assertErrors(errors, c.errors);
    });
  }

  test('60,000 backends get one error, not one per backend', () => {
    const errors = validateBounds(config({ backends: many(60_000, (i) => backend(`b${i}`)) }));
    assert.deepEqual(
      errors.map((e) => e.field),
      ['spec.backends'],
    );
  });
});

describe('patternSize: an upper bound on the RE2 program', () => {
  const cases: [string, number][] = [
    ['abc', 3],
    ['a{1000}', 1000],
    ['(a{10}){10}', 120], // a capture of ten a's (12), ten times, as RE2 counts
    ['a*', 3],
    ['a|b', 3],
    ['[a-z]{2,5}', 8],
    ['\\pL{1000}', 1000],
    ['\\p{Greek}+', 2],
    ['\\Qa{1000}\\E', 7],
    ['(?i)a', 1],
    ['(?:ab){3}', 6],
  ];
  for (const [pattern, size] of cases) {
    test(pattern, () => assert.equal(patternSize(pattern), size));
  }

  // RE2's program: one instruction per unit of the bound, plus the few that
  // frame every program (capture 0, match, fail).
  const instructions = (pattern: string) =>
    (RE2JS.compile(pattern) as unknown as { re2Input: { prog: { inst: unknown[] } } }).re2Input.prog
      .inst.length;
  const atom = fc.constantFrom('a', 'bc', '\\pL', '[a-z]', '.', '\\d', '\\Qx{9}\\E');
  const regex: fc.Arbitrary<string> = fc.letrec<{ re: string }>((tie) => ({
    re: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      atom,
      fc.tuple(tie('re'), tie('re')).map(([a, b]) => a + b),
      fc.tuple(tie('re'), tie('re')).map(([a, b]) => `(?:${a}|${b})`),
      tie('re').map((a) => `(${a})`),
      fc
        .tuple(tie('re'), fc.nat(20), fc.nat(20), fc.constantFrom('*', '+', '?', '{}', '{,}', ''))
        .map(([a, n, m, op]) =>
          op === '{}'
            ? `(?:${a}){${Math.min(n, m)},${Math.max(n, m)}}`
            : op === '{,}'
              ? `(?:${a}){${n},}`
              : `(?:${a})${op}`,
        ),
    ),
  })).re;

  // The bound is promised for patterns RE2 accepts; the rest (say nested
  // repetitions over 1000 in all) re2js refuses as syntax, before any size.
  const accepted = (pattern: string) => {
    try {
      RE2JS.compile(pattern);
      return true;
    } catch (error) {
      if (error instanceof RE2JSSyntaxException) return false;
      throw error;
    }
  };
  test('never below the program re2js compiles (random patterns)', () => {
    fc.assert(
      fc.property(regex, (pattern) => {
        fc.pre(accepted(pattern));
        assert.ok(patternSize(pattern) + 4 >= instructions(pattern), pattern);
      }),
      { numRuns: 500 },
    );
  });
  // Found by the property above: an empty match still compiles to a no-op.
  for (const pattern of [
    '(?:((?:(\\pL)){0,0})){13,}',
    '(?:bc|[a-z])(?:(?:((?:.){0,0})|a.)){15,}',
  ]) {
    test(`never below the program re2js compiles: ${pattern}`, () => {
      assert.ok(patternSize(pattern) + 4 >= instructions(pattern));
    });
  }
  test('a nested repetition over 1000 in all is refused as syntax', () => {
    const key = '(?:(?:(?:a){3,}){17,}){20,}';
    const { errors } = validateStatic(
      config({ backends: [regexp('r', '^/registry/', key)] }),
      policy,
    ).verdict;
    const error = errors.find((e) => e.field === 'spec.backends[0].regexp.key');
    assert.match(error?.detail ?? '', /invalid repeat count/);
  });
});
