import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Backend } from '../../../src/resource/types.ts';
import { validateStatic } from '../../../src/rules/index.ts';
import { re2Problem } from '../../../src/rules/selectors.ts';
import type { Expected } from './fixtures.ts';
import { assertErrors, config, policy } from './fixtures.ts';

const endpoint = 'mysql://user:pass@tcp(db:3306)/x';
const judge = (b: Partial<Backend>) =>
  validateStatic(config({ backends: [{ name: 'x', endpoint, ...b } as Backend] }), policy).verdict
    .errors;

describe('routing selectors', () => {
  const cases: { name: string; backend: Partial<Backend>; errors: Expected[] }[] = [
    {
      name: 'customresource with group and kind',
      backend: { customresource: { group: 'stable.example.com', kind: 'shirts' } },
      errors: [],
    },
    {
      name: 'customresource without kind routes the whole group',
      backend: { customresource: { group: 'stable.example.com' } },
      errors: [],
    },
    {
      name: 'customresource without group',
      backend: { customresource: { kind: 'shirts' } },
      errors: [
        { type: 'Required', field: 'spec.backends[0].customresource.group', detail: 'API group' },
      ],
    },
    {
      name: 'customresource with a malformed group',
      backend: { customresource: { group: 'Stable_Example' } },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].customresource.group',
          detail: 'DNS-1123 subdomain',
        },
      ],
    },
    {
      name: 'namespace with kinds',
      backend: { namespace: { namespace: 'kube-system', kinds: ['pods'] } },
      errors: [],
    },
    {
      name: 'namespace without kinds',
      backend: { namespace: { namespace: 'kube-system' } },
      errors: [],
    },
    {
      name: 'namespace selector without namespace',
      backend: { namespace: { kinds: ['pods'] } },
      errors: [
        {
          type: 'Required',
          field: 'spec.backends[0].namespace.namespace',
          detail: 'the namespace to route',
        },
      ],
    },
    {
      name: 'namespace selector with an invalid namespace and an empty kind',
      backend: { namespace: { namespace: 'Kube_System', kinds: ['pods', ''] } },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].namespace.namespace',
          detail: 'DNS-1123 label',
        },
        {
          type: 'Invalid',
          field: 'spec.backends[0].namespace.kinds[1]',
          detail: 'must not be empty',
        },
      ],
    },
    {
      name: 'prefix starting with /',
      backend: { prefix: { prefix: '/registry/pods/' } },
      errors: [],
    },
    {
      name: 'prefix relative to the registry root, as HariKube writes it',
      backend: { prefix: { prefix: 'pods' } },
      errors: [],
    },
    {
      name: 'prefix with whitespace',
      backend: { prefix: { prefix: 'pods ' } },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].prefix.prefix',
          detail: 'must not contain whitespace',
        },
      ],
    },
    {
      name: 'empty prefix selector',
      backend: { prefix: {} },
      errors: [
        { type: 'Required', field: 'spec.backends[0].prefix.prefix', detail: 'etcd key prefix' },
      ],
    },
    {
      name: 'regexp in RE2 syntax',
      backend: {
        regexp: { prefix: '(deployments|replicasets)', key: '^/registry/deployments/.*' },
      },
      errors: [],
    },
    {
      name: 'regexp with only a key',
      backend: { regexp: { key: '^/registry/shirts/[a-z]+$' } },
      errors: [],
    },
    {
      name: 'regexp look-ahead (JavaScript accepts it, Go does not)',
      backend: { regexp: { prefix: '(?=x)' } },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].regexp.prefix',
          detail: 'invalid or unsupported Perl syntax: `(?=`',
        },
      ],
    },
    {
      name: 'regexp back-reference (JavaScript accepts it, Go does not)',
      backend: { regexp: { key: '(a)\\1' } },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].regexp.key',
          detail: 'invalid escape sequence: `\\1`',
        },
      ],
    },
    {
      name: 'regexp that does not parse at all',
      backend: { regexp: { prefix: '[a-', key: 'a{2,1}' } },
      errors: [
        { type: 'Invalid', field: 'spec.backends[0].regexp.prefix', detail: 'missing closing ]' },
        { type: 'Invalid', field: 'spec.backends[0].regexp.key', detail: 'invalid repeat count' },
      ],
    },
    {
      name: 'empty regexp selector',
      backend: { regexp: { prefix: '' } },
      errors: [
        {
          type: 'Required',
          field: 'spec.backends[0].regexp',
          detail: 'at least one of prefix or key',
        },
      ],
    },
    {
      name: 'no selector at all',
      backend: {},
      errors: [
        { type: 'Required', field: 'spec.backends[0]', detail: 'at least one routing selector' },
      ],
    },
    {
      name: 'several selectors, each judged',
      backend: { prefix: { prefix: 'x\ty' }, customresource: { kind: 'y' } },
      errors: [
        { type: 'Required', field: 'spec.backends[0].customresource.group', detail: 'API group' },
        {
          type: 'Invalid',
          field: 'spec.backends[0].prefix.prefix',
          detail: 'must not contain whitespace',
        },
      ],
    },
  ];
  for (const c of cases) test(c.name, () => assertErrors(judge(c.backend), c.errors));

  test('JavaScript would accept what RE2 rejects', () => {
    for (const pattern of ['(?=x)', '(a)\\1', '(?<!a)b']) {
      assert.doesNotThrow(() => new RegExp(pattern));
      assert.ok(re2Problem(pattern), pattern);
    }
    assert.equal(re2Problem('(?P<name>[a-z]+)\\d*'), undefined);
  });
});
