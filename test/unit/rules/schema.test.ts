import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fieldPathOf, validateSchema } from '../../../src/rules/schema.ts';
import { validateStatic } from '../../../src/rules/index.ts';
import type { Expected } from './fixtures.ts';
import { assertErrors, config, policy } from './fixtures.ts';

describe('schema', () => {
  test('Ajv instance paths become Kubernetes field paths', () => {
    assert.equal(fieldPathOf('/spec/backends/0/name'), 'spec.backends[0].name');
    assert.equal(
      fieldPathOf('/spec/backends/12/namespace/kinds/3'),
      'spec.backends[12].namespace.kinds[3]',
    );
    assert.equal(fieldPathOf('/metadata/labels/a~1b'), 'metadata.labels.a/b');
    assert.equal(fieldPathOf(''), '');
  });

  const cases: { name: string; object: unknown; errors: Expected[] }[] = [
    { name: 'a valid config', object: config(), errors: [] },
    {
      name: 'not an object',
      object: 'spec: {}',
      errors: [{ type: 'Invalid', field: '', detail: 'must be a TopologyConfig object' }],
    },
    {
      name: 'missing spec, kind and apiVersion',
      object: { metadata: { name: 'x' } },
      errors: [
        { type: 'Required', field: 'spec', detail: 'Required value' },
        { type: 'Required', field: 'kind', detail: 'must be TopologyConfig' },
        { type: 'Required', field: 'apiVersion', detail: 'must be harikube.info/v1' },
      ],
    },
    {
      name: 'wrong kind and apiVersion',
      object: { ...config(), kind: 'ConfigMap', apiVersion: 'v1' },
      errors: [
        { type: 'Invalid', field: 'kind', detail: 'must be TopologyConfig' },
        { type: 'Invalid', field: 'apiVersion', detail: 'must be harikube.info/v1' },
      ],
    },
    {
      name: 'required spec fields',
      object: { ...config(), spec: { backends: [{}] } },
      errors: [
        { type: 'Required', field: 'spec.position', detail: 'Required value' },
        { type: 'Required', field: 'spec.targetSecret', detail: 'Required value' },
        { type: 'Required', field: 'spec.backends[0].endpoint', detail: 'Required value' },
        { type: 'Required', field: 'spec.backends[0].name', detail: 'Required value' },
      ],
    },
    {
      name: 'no backends',
      object: { ...config(), spec: { ...config().spec, backends: [] } },
      errors: [{ type: 'Required', field: 'spec.backends', detail: 'at least 1 item' }],
    },
    {
      name: 'wrong types and minimums, all reported at once',
      object: {
        ...config(),
        spec: {
          ...config().spec,
          position: 0,
          backends: [
            {
              name: 7,
              endpoint: 'mysql://x',
              connectionPool: { maxOpen: -1, maxLifeTime: 1.5 },
              namespace: { kinds: 'pods' },
            },
          ],
        },
      },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxLifeTime',
          detail: 'must be a non-negative integer number of nanoseconds or a Go duration string',
        },
        {
          type: 'Invalid',
          field: 'spec.backends[0].connectionPool.maxOpen',
          detail: 'greater than or equal to 0',
        },
        { type: 'Invalid', field: 'spec.backends[0].name', detail: 'must be of type string' },
        {
          type: 'Invalid',
          field: 'spec.backends[0].namespace.kinds',
          detail: 'must be of type array',
        },
        { type: 'Invalid', field: 'spec.position', detail: 'greater than or equal to 1' },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const errors = validateSchema(c.object);
      const sorted = [...errors].sort((a, b) =>
        a.field < b.field ? -1 : a.field > b.field ? 1 : 0,
      );
      const expected = [...c.errors].sort((a, b) =>
        a.field < b.field ? -1 : a.field > b.field ? 1 : 0,
      );
      assertErrors(sorted, expected);
    });
  }

  test('schema and semantic errors are reported together, each field once', () => {
    const object = {
      ...config(),
      spec: {
        ...config().spec,
        position: 0,
        backends: [
          { name: 'Bad_Name', endpoint: 'mysql://x' },
          { name: 3, endpoint: 'mysql://y', prefix: { prefix: '/y/' } },
        ],
      },
    };
    assertErrors(validateStatic(object, policy).verdict.errors, [
      { type: 'Invalid', field: 'spec.backends[1].name', detail: 'must be of type string' },
      { type: 'Invalid', field: 'spec.position', detail: 'greater than or equal to 1' },
      { type: 'Invalid', field: 'spec.backends[0].name', detail: 'DNS-1123 subdomain' },
      { type: 'Required', field: 'spec.backends[0]', detail: 'at least one routing selector' },
    ]);
  });

  test('validation never changes the object (no defaults, no coercion)', () => {
    const object = { ...config(), spec: { backends: config().spec.backends, position: '3' } };
    const before = structuredClone(object);
    validateStatic(object, policy);
    assert.deepEqual(object, before);
  });

  test('a schema failure returns no config; a semantic failure still returns it', () => {
    assert.equal(validateStatic({ ...config(), spec: 1 }, policy).config, undefined);
    const bad = config({
      position: 5,
      backends: [{ name: 'x', endpoint: 'mysql://x', prefix: { prefix: 'no pe' } }],
    });
    const { config: judged, verdict } = validateStatic(bad, policy);
    assert.equal(judged, bad);
    assert.equal(verdict.errors.length, 1);
  });
});
