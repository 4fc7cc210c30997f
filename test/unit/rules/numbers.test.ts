import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJson } from '../../../src/resource/json.ts';
import { validateStatic } from '../../../src/rules/index.ts';
import type { Expected } from './fixtures.ts';
import { assertErrors, backend, config, policy } from './fixtures.ts';

type Pool = Record<string, number | bigint | string>;
const judge = (connectionPool: Pool, position = 1) =>
  validateStatic(config({ position, backends: [backend('a', { connectionPool })] }), policy)
    .verdict;

describe('integers: durations, pool sizes, position', () => {
  const cases: { name: string; pool: Pool; position?: number; errors: Expected[] }[] = [
    {
      name: 'durations of 5m and 0',
      pool: { maxLifeTime: 300_000_000_000, maxIdleLifeTime: 0 },
      errors: [],
    },
    {
      name: 'the largest exact duration (2^53 - 1 ns, about 104 days)',
      pool: { maxLifeTime: 2 ** 53 - 1 },
      errors: [],
    },
    {
      name: '2^53 + 1 ns, read exactly (bigint)',
      pool: { maxLifeTime: parseJson('9007199254740993') as bigint },
      errors: [],
    },
    {
      name: "int64 max (Go's longest duration) as a number",
      pool: { maxIdleLifeTime: parseJson('9223372036854775807') as bigint },
      errors: [],
    },
    {
      name: 'int64 max + 1 ns as a number',
      pool: { maxIdleLifeTime: parseJson('9223372036854775808') as bigint },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxIdleLifeTime',
          detail:
            "must be at most 9223372036854775807 nanoseconds (Go's int64 limit, 2562047h47m16.854775807s)",
        },
      ],
    },
    {
      name: 'a negative duration beyond 2^53',
      pool: { maxLifeTime: parseJson('-9007199254740993') as bigint },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxLifeTime',
          detail: 'must not be negative',
        },
      ],
    },
    {
      name: 'beyond 2^53 in exponent form (not an exact integer)',
      pool: { maxLifeTime: parseJson('1e19') as number },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxLifeTime',
          detail: 'must be written as plain digits',
        },
      ],
    },
    {
      name: 'negative duration',
      pool: { maxLifeTime: -1 },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxLifeTime',
          detail: 'must not be negative',
        },
      ],
    },
    {
      name: 'Go duration strings as HariKube writes them',
      pool: { maxLifeTime: '5m', maxIdleLifeTime: '1h30m' },
      errors: [],
    },
    {
      name: 'the longest Go duration as a string (beyond 2^53 ns: exact as a string)',
      pool: { maxLifeTime: '2562047h47m16.854775807s' },
      errors: [],
    },
    {
      name: 'a Go duration string beyond int64',
      pool: { maxLifeTime: '2562047h47m16.854775808s' },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxLifeTime',
          detail: "must be at most 2562047h47m16.854775807s (Go's int64 limit)",
        },
      ],
    },
    ...['1d', '-5m', '5', 'five minutes'].map((text) => ({
      name: `${JSON.stringify(text)} is not a non-negative Go duration`,
      pool: { maxIdleLifeTime: text },
      errors: [
        {
          type: 'Invalid' as const,
          field: 'spec.backends[0].connectionPool.maxIdleLifeTime',
          detail: 'or a Go duration string',
        },
      ],
    })),
    { name: 'pool sizes in range', pool: { maxIdle: 0, maxOpen: 2_147_483_647 }, errors: [] },
    {
      name: 'pool size above int32',
      pool: { maxOpen: 2_147_483_648 },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxOpen',
          detail: 'from 0 to 2147483647',
        },
      ],
    },
    {
      name: 'a pool size beyond 2^53 (read as bigint) is out of range too',
      pool: { maxIdle: parseJson('9007199254740993') as bigint },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxIdle',
          detail: 'from 0 to 2147483647',
        },
      ],
    },
    {
      name: 'position above int32 (the key pads to 10 digits)',
      pool: {},
      position: 2 ** 31,
      errors: [{ type: 'Invalid', field: 'spec.position', detail: 'from 1 to 2147483647' }],
    },
  ];
  for (const c of cases)
    test(c.name, () => assertErrors(judge(c.pool, c.position).errors, c.errors));

  test('maxIdle above maxOpen is a warning, not an error', () => {
    const verdict = judge({ maxIdle: 10, maxOpen: 5 });
    assert.deepEqual(verdict.errors, []);
    assert.deepEqual(verdict.warnings, [
      "spec.backends[0].connectionPool.maxIdle: 10 is more than maxOpen (5); Go's database/sql lowers it to 5",
    ]);
  });

  test('maxIdle above an unlimited maxOpen (0) is fine', () => {
    assert.deepEqual(judge({ maxIdle: 10, maxOpen: 0 }).warnings, []);
  });
});
