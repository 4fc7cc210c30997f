import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Backend } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { validateSize } from '../../../src/rules/size.ts';
import { renderedSize, renderedSizeBound } from '../../../src/secret-format/size.ts';
import { backend, config, policy } from './fixtures.ts';

// Characters that change how YAML writes a string: quotes, escapes, line
// breaks, indicators, YAML 1.1 keywords, non-printables, lone surrogates.
const tricky = fc.constantFrom(
  '\n',
  ' ',
  '\t',
  "'",
  '"',
  '\\',
  '#',
  ':',
  '-',
  '?',
  '%',
  '|',
  '>',
  '&',
  '*',
  '!',
  '---',
  '...',
  'yes',
  'on',
  '0x1F',
  '1e3',
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\u0080',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\ud800',
  '\udc00',
  '😀',
  'é',
);
const text = fc.oneof(
  fc.string({
    unit: fc.oneof(tricky, fc.string({ unit: 'binary', maxLength: 1 })),
    maxLength: 120,
  }),
  // One character many times: the worst cases of escaping and indentation.
  fc.tuple(tricky, fc.nat(150)).map(([c, n]) => c.repeat(n)),
  fc.tuple(tricky, fc.nat(80)).map(([c, n]) => `a${c}\n`.repeat(n)),
);
const int64ish = fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.maxSafeInteger());

const backendArb: fc.Arbitrary<Backend> = fc.record(
  {
    name: text,
    endpoint: text,
    backendTLS: fc.record(
      { caFile: text, certFile: text, keyFile: text, skipVerify: fc.boolean() },
      { requiredKeys: [] },
    ),
    connectionPool: fc.record(
      { maxIdle: int64ish, maxOpen: int64ish, maxLifeTime: int64ish, maxIdleLifeTime: int64ish },
      { requiredKeys: [] },
    ),
    customresource: fc.record({ group: text, kind: text }, { requiredKeys: [] }),
    namespace: fc.record({ namespace: text, kinds: fc.array(text) }, { requiredKeys: [] }),
    prefix: fc.record({ prefix: text }, { requiredKeys: [] }),
    regexp: fc.record({ prefix: text, key: text }, { requiredKeys: [] }),
  },
  { requiredKeys: ['name', 'endpoint'] },
) as fc.Arbitrary<Backend>;

describe('the size bound that spares admission the YAML rendering', () => {
  test('is never below the rendered size, whatever the strings hold', () => {
    fc.assert(
      fc.property(
        fc.array(backendArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.option(text, { nil: undefined }), { maxLength: 4 }),
        text,
        (backends, endpoints, name) => {
          const c = config({ name: name || 'x', backends });
          const exact = renderedSize(c, endpoints);
          if (exact === undefined) return;
          assert.ok(
            renderedSizeBound(c, endpoints) >= exact,
            `bound ${renderedSizeBound(c, endpoints)} < rendered ${exact}`,
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('near the limit the exact size decides, to the byte', () => {
    const index = new ConfigIndex();
    const first = config({ name: 'first', position: 1 });
    index.upsert(first);
    const second = config({ name: 'second', position: 2, backends: [backend('second-db')] });
    const endpoints = second.spec.backends.map((b) => b.endpoint);
    const total = renderedSize(first, [])! + renderedSize(second, endpoints)!;
    assert.ok(renderedSizeBound(second, endpoints) > renderedSize(second, endpoints)!);
    assert.deepEqual(
      validateSize(second, endpoints, index, { ...policy, maxSecretBytes: total }),
      [],
    );
    assert.equal(
      validateSize(second, endpoints, index, { ...policy, maxSecretBytes: total - 1 }).length,
      1,
    );
  });
});
