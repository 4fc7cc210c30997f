// harikube.info/deployOrder: manifests written for the older HariKube operator
// (its published tests order configs with this annotation and no
// spec.position) keep their order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEPLOY_ORDER_ANNOTATION } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { mutateTopologyConfig } from '../../../src/admission/handlers.ts';
import { defaultConfig } from '../../../src/rules/defaults.ts';
import { validateStatic } from '../../../src/rules/index.ts';
import { assertErrors, backend, config, policy } from './fixtures.ts';

const FIELD = `metadata.annotations[${DEPLOY_ORDER_ANNOTATION}]`;

/** A config with the annotation and, unless given, no position. */
function ordered(order: string, position?: number): TopologyConfig {
  const c = config({ position: position ?? 1 });
  if (position === undefined) delete (c.spec as Partial<TopologyConfig['spec']>).position;
  c.metadata.annotations = { [DEPLOY_ORDER_ANNOTATION]: order };
  return c;
}

function indexAt(...positions: number[]): ConfigIndex {
  const index = new ConfigIndex();
  positions.forEach((position, i) =>
    index.upsert(
      config({ namespace: 'other', name: `c${i}`, position, backends: [backend(`db${i}`)] }),
    ),
  );
  return index;
}

describe('deployOrder annotation', () => {
  test('with spec.position omitted, a valid annotation is the position', () => {
    assert.equal(defaultConfig(ordered('20'), indexAt(3, 40), policy).spec.position, 20);
    // It decides even below configs already there (the append-only rules judge that, as for any position).
    assert.equal(defaultConfig(ordered('2'), indexAt(3), policy).spec.position, 2);
  });

  test('spec.position wins over the annotation, with a warning that names both', () => {
    const c = ordered('20', 5);
    assert.equal(defaultConfig(c, indexAt(), policy).spec.position, 5);
    const { verdict } = validateStatic(defaultConfig(c, indexAt(), policy), policy);
    assert.deepEqual(verdict.errors, []);
    assert.deepEqual(verdict.warnings, [
      `${FIELD}: 20 is ignored: spec.position (5) sets the position; remove one of them`,
    ]);
  });

  test('the same annotation and position: no warning', () => {
    assert.deepEqual(validateStatic(ordered('5', 5), policy).verdict.warnings, []);
  });

  for (const bad of ['0', '-3', '1.5', 'ten', ' 7', '07', '2147483648', '']) {
    test(`${JSON.stringify(bad)} is refused, and fills in no position`, () => {
      const defaulted = defaultConfig(ordered(bad), indexAt(3), policy);
      assert.equal(defaulted.spec.position, undefined);
      assertErrors(validateStatic(defaulted, policy).verdict.errors, [
        { type: 'Required', field: 'spec.position', detail: '' },
        { type: 'Invalid', field: FIELD, detail: 'must be an integer from 1 to 2147483647' },
      ]);
    });
  }

  test('an UPDATE that drops spec.position keeps the old one, whatever the annotation says', () => {
    const old = config({ position: 7 });
    assert.equal(defaultConfig(ordered('20'), indexAt(), policy, old).spec.position, 7);
  });
});

describe('the mutating webhook and a malformed deployOrder', () => {
  const request = (object: TopologyConfig) => ({
    uid: 'u1',
    kind: { group: 'harikube.info', version: 'v1', kind: 'TopologyConfig' },
    resource: { group: 'harikube.info', version: 'v1', resource: 'topologyconfigs' },
    operation: 'CREATE' as const,
    namespace: object.metadata.namespace,
    name: object.metadata.name,
    object,
  });

  test('refuses with the annotation reason (the API server would only say position is required)', () => {
    const response = mutateTopologyConfig(request(ordered('first')), {
      view: indexAt(),
      policy,
    });
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? '', /deployOrder\]: must be an integer from 1/);
  });

  test('patches the position in from a valid one', () => {
    const response = mutateTopologyConfig(request(ordered('4')), { view: indexAt(), policy });
    assert.equal(response.allowed, true);
    const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString()) as unknown[];
    assert.ok(
      patch.some((op) => JSON.stringify(op) === '{"op":"add","path":"/spec/position","value":4}'),
    );
  });
});
