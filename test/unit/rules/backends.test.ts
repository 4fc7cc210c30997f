import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Backend } from '../../../src/resource/types.ts';
import { validateStatic } from '../../../src/rules/index.ts';
import type { Expected } from './fixtures.ts';
import { assertErrors, assertNoSecret, backend, config, policy } from './fixtures.ts';

const judge = (backends: Backend[]) => validateStatic(config({ backends }), policy).verdict.errors;

describe('backend names and endpoints', () => {
  const cases: { name: string; backends: Backend[]; errors: Expected[] }[] = [
    {
      name: 'distinct valid names',
      backends: [backend('orders-db'), backend('orders.archive')],
      errors: [],
    },
    {
      name: 'empty name',
      backends: [backend('')],
      errors: [
        {
          type: 'Required',
          field: 'spec.backends[0].name',
          detail: 'cluster-wide unique backend name',
        },
      ],
    },
    {
      name: 'name that is not a DNS-1123 subdomain',
      backends: [backend('orders-db'), backend('Orders_DB')],
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[1].name',
          detail: '"Orders_DB" must be a DNS-1123 subdomain',
        },
      ],
    },
    {
      name: 'name longer than 253 characters',
      backends: [backend('a'.repeat(254))],
      errors: [
        { type: 'Invalid', field: 'spec.backends[0].name', detail: 'no more than 253 characters' },
      ],
    },
    {
      name: 'duplicate name within the config',
      backends: [
        backend('orders-db'),
        { ...backend('orders-db'), endpoint: 'mysql://other', prefix: { prefix: '/other/' } },
      ],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[1].name',
          detail: '"orders-db" is also the name of spec.backends[0]',
        },
      ],
    },
    {
      name: 'identical selector within the config',
      backends: [
        backend('a', { prefix: { prefix: '/x/' } }),
        backend('b', { prefix: { prefix: '/x/' } }),
      ],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[1].prefix',
          detail: 'the same selector as spec.backends[0].prefix',
        },
      ],
    },
    {
      name: 'kinds in another order are the same selector',
      backends: [
        backend('a', {
          prefix: undefined,
          namespace: { namespace: 'ns', kinds: ['pods', 'secrets'] },
        }),
        backend('b', {
          prefix: undefined,
          namespace: { namespace: 'ns', kinds: ['secrets', 'pods', 'pods'] },
        }),
      ],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[1].namespace',
          detail: 'the same selector as spec.backends[0].namespace',
        },
      ],
    },
    {
      name: 'empty and absent customresource kind are the same selector',
      backends: [
        backend('a', { prefix: undefined, customresource: { group: 'g.io', kind: '' } }),
        backend('b', { prefix: undefined, customresource: { group: 'g.io' } }),
      ],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[1].customresource',
          detail: 'the same selector',
        },
      ],
    },
    {
      name: 'blank endpoint',
      backends: [{ ...backend('a'), endpoint: '  ' }],
      errors: [
        {
          type: 'Required',
          field: 'spec.backends[0].endpoint',
          detail: 'database connection string',
        },
      ],
    },
  ];
  for (const c of cases) test(c.name, () => assertErrors(judge(c.backends), c.errors));
});

describe('reasons never quote a value that could hold a secret', () => {
  test('an endpoint pasted as a backend name or a target is not shown', () => {
    const pasted = 'mysql://root:hunter2@tcp(db:3306)/kine';
    const c = config({ backends: [backend(pasted)] });
    c.spec.targetSecret = `ns/${pasted}`;
    const errors = validateStatic(c, policy).verdict.errors;
    assert.deepEqual(errors.map((e) => e.field).sort(), [
      'spec.backends[0].name',
      'spec.targetSecret',
    ]);
    assertNoSecret(
      errors.map((e) => e.detail),
      ['hunter2', 'root'],
    );
  });
});
