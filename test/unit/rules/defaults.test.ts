import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ASSIGNED_POSITION_ANNOTATION,
  DEPLOY_ORDER_ANNOTATION,
  FINALIZER,
  TARGET_SECRET_LABEL,
} from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { defaultConfig } from '../../../src/rules/defaults.ts';
import { backend, config, policy, TARGET } from './fixtures.ts';

function bare(): TopologyConfig {
  const c = config();
  delete (c.spec as Partial<TopologyConfig['spec']>).position;
  delete (c.spec as Partial<TopologyConfig['spec']>).targetSecret;
  return c;
}

function indexWithPositions(...positions: number[]) {
  const index = new ConfigIndex();
  positions.forEach((position, i) =>
    index.upsert(
      config({ namespace: 'other', name: `c${i}`, position, backends: [backend(`db${i}`)] }),
    ),
  );
  return index;
}

describe('defaults', () => {
  test('fills target, position, label and finalizer, without touching the input', () => {
    const input = bare();
    const before = structuredClone(input);
    const out = defaultConfig(input, indexWithPositions(4, 9, 2), policy);
    assert.deepEqual(input, before);
    assert.equal(out.spec.targetSecret, policy.defaultTargetSecret);
    assert.equal(out.spec.position, 10);
    assert.deepEqual(out.metadata.labels, { [TARGET_SECRET_LABEL]: 'harikube.topology-config' });
    assert.deepEqual(out.metadata.finalizers, [FINALIZER]);
  });

  test('the first config of a target gets position 1', () => {
    assert.equal(defaultConfig(bare(), new ConfigIndex(), policy).spec.position, 1);
  });

  test('the next free position counts only the own target', () => {
    const index = new ConfigIndex();
    index.upsert(config({ name: 'x', position: 50, target: 'shared/other' }));
    assert.equal(defaultConfig(bare(), index, policy).spec.position, 1);
  });

  test('an UPDATE without position or target keeps the old ones', () => {
    const old = config({ position: 7, target: 'shared/a' });
    const out = defaultConfig(bare(), indexWithPositions(20), policy, old);
    assert.equal(out.spec.position, 7);
    assert.equal(out.spec.targetSecret, 'shared/a');
  });

  test('given values are kept', () => {
    const c = config({ position: 3, target: 'shared/a' });
    const out = defaultConfig(c, indexWithPositions(20), policy);
    assert.equal(out.spec.position, 3);
    assert.equal(out.spec.targetSecret, 'shared/a');
    assert.equal(out.metadata.labels?.[TARGET_SECRET_LABEL], 'shared.a');
  });

  test('an assigned position is recorded; a written one or a deployOrder is not', () => {
    const assigned = defaultConfig(bare(), indexWithPositions(4), policy);
    assert.equal(assigned.spec.position, 5);
    assert.deepEqual(assigned.metadata.annotations, { [ASSIGNED_POSITION_ANNOTATION]: '5' });
    const written = defaultConfig(config({ position: 3 }), indexWithPositions(4), policy);
    assert.equal(written.metadata.annotations, undefined);
    const ordered = bare();
    ordered.metadata.annotations = { [DEPLOY_ORDER_ANNOTATION]: '12' };
    assert.deepEqual(defaultConfig(ordered, indexWithPositions(4), policy).metadata.annotations, {
      [DEPLOY_ORDER_ANNOTATION]: '12',
    });
  });

  test('an UPDATE without position keeps whether the old one was assigned', () => {
    const old = config({ position: 7, annotations: { [ASSIGNED_POSITION_ANNOTATION]: '7' } });
    const dropped = bare();
    dropped.metadata.annotations = { app: 'shop' };
    assert.deepEqual(
      defaultConfig(dropped, indexWithPositions(20), policy, old).metadata.annotations,
      {
        app: 'shop',
        [ASSIGNED_POSITION_ANNOTATION]: '7',
      },
    );
    const chosen = config({ position: 7 });
    assert.equal(
      defaultConfig(bare(), indexWithPositions(20), policy, chosen).metadata.annotations,
      undefined,
    );
  });

  test('kinds are de-duplicated, first occurrence kept', () => {
    const c = config({
      backends: [
        backend('a', {
          prefix: undefined,
          namespace: { namespace: 'ns', kinds: ['secrets', 'pods', 'secrets', 'pods'] },
        }),
      ],
    });
    assert.deepEqual(
      defaultConfig(c, new ConfigIndex(), policy).spec.backends[0]!.namespace!.kinds,
      ['secrets', 'pods'],
    );
  });

  test('existing labels and finalizers stay; the finalizer is not added twice', () => {
    const c = config();
    c.metadata.labels = { app: 'shop' };
    c.metadata.finalizers = ['other/finalizer', FINALIZER];
    const out = defaultConfig(c, new ConfigIndex(), policy);
    assert.deepEqual(out.metadata.labels, {
      app: 'shop',
      [TARGET_SECRET_LABEL]: 'harikube.topology-config',
    });
    assert.deepEqual(out.metadata.finalizers, ['other/finalizer', FINALIZER]);
  });

  test('a config being deleted gains no finalizer', () => {
    const c = config({ deleting: true });
    assert.equal(defaultConfig(c, new ConfigIndex(), policy).metadata.finalizers, undefined);
  });

  test('a target too long for a label value gets no label', () => {
    const c = config({ target: `shared/${'x'.repeat(80)}` });
    c.metadata.labels = { [TARGET_SECRET_LABEL]: 'stale' };
    assert.deepEqual(defaultConfig(c, new ConfigIndex(), policy).metadata.labels, {});
  });

  test('shapes validation will reject are left alone, never a crash', () => {
    for (const spec of [
      undefined,
      null,
      'x',
      [],
      { backends: 'x' },
      { backends: [null, 1, { namespace: 'x' }] },
    ]) {
      const c = { ...config(), spec } as unknown as TopologyConfig;
      assert.doesNotThrow(() => defaultConfig(c, new ConfigIndex(), policy));
    }
  });

  test('idempotent: defaulting twice equals defaulting once (property)', () => {
    const kinds = fc.array(fc.constantFrom('pods', 'secrets', 'configmaps', ''), { maxLength: 6 });
    const arbitrary = fc.record({
      position: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
      target: fc.option(fc.constantFrom(TARGET, 'shared/a', 'bad'), { nil: undefined }),
      kinds,
      finalizers: fc.option(fc.array(fc.constantFrom(FINALIZER, 'x/y')), { nil: undefined }),
      deleting: fc.boolean(),
      existing: fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 5 }),
    });
    fc.assert(
      fc.property(arbitrary, (a) => {
        const c = config({
          deleting: a.deleting,
          backends: [backend('a', { namespace: { namespace: 'ns', kinds: a.kinds } })],
        });
        const spec = c.spec as Partial<TopologyConfig['spec']>;
        if (a.position === undefined) delete spec.position;
        else spec.position = a.position;
        if (a.target === undefined) delete spec.targetSecret;
        else spec.targetSecret = a.target;
        if (a.finalizers) c.metadata.finalizers = a.finalizers;
        const view = indexWithPositions(...a.existing);
        const once = defaultConfig(c, view, policy);
        assert.deepEqual(defaultConfig(once, view, policy), once);
      }),
      { numRuns: 300 },
    );
  });
});
