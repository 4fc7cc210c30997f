import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  conditionsFor,
  readyNow,
  sameConditions,
  type Condition,
  type ConditionInput,
} from '../../../src/reconcile/conditions.ts';
import { validateSchema } from '../../../src/rules/schema.ts';

const T0 = new Date('2026-11-30T10:00:00.250Z');
const T1 = new Date('2026-11-30T10:05:00Z');
const active: ConditionInput = { deployStatus: 'Active', reason: 'Active', message: 'merged' };
const pending: ConditionInput = { deployStatus: 'Pending', reason: 'Pending', message: 'seen' };
const error: ConditionInput = {
  deployStatus: 'Error',
  reason: 'Conflict',
  message: 'conflicts with team-a/orders',
};
const summary = (conditions: Condition[]) =>
  conditions.map((c) => `${c.type}=${c.status} ${c.reason} g${c.observedGeneration}`);

describe('conditionsFor', () => {
  test('Active: Ready True, Reconciling and Stalled False, each for the generation', () => {
    assert.deepEqual(summary(conditionsFor(active, 3, undefined, T0)), [
      'Ready=True Active g3',
      'Reconciling=False Active g3',
      'Stalled=False Active g3',
    ]);
  });

  test('Pending and settling: Reconciling True, Ready False', () => {
    assert.deepEqual(summary(conditionsFor(pending, 1, undefined, T0)), [
      'Ready=False Pending g1',
      'Reconciling=True Pending g1',
      'Stalled=False Pending g1',
    ]);
    assert.deepEqual(
      summary(conditionsFor({ ...active, reason: 'Settling', settling: true }, 1, undefined, T0)),
      ['Ready=False Settling g1', 'Reconciling=True Settling g1', 'Stalled=False Settling g1'],
    );
  });

  test('Error: Stalled True with the reason as message, Ready and Reconciling False', () => {
    const conditions = conditionsFor(error, 2, undefined, T0);
    assert.deepEqual(summary(conditions), [
      'Ready=False Conflict g2',
      'Reconciling=False Conflict g2',
      'Stalled=True Conflict g2',
    ]);
    assert.ok(conditions.every((c) => c.message === error.message));
  });

  test('lastTransitionTime moves only for a condition whose status changes (second precision)', () => {
    const first = conditionsFor(pending, 1, undefined, T0);
    assert.ok(first.every((c) => c.lastTransitionTime === '2026-11-30T10:00:00Z'));
    // Pending → Error: Reconciling and Stalled flip, Ready stays False.
    const second = conditionsFor(error, 1, first, T1);
    assert.deepEqual(
      second.map((c) => `${c.type} ${c.lastTransitionTime}`),
      [
        'Ready 2026-11-30T10:00:00Z',
        'Reconciling 2026-11-30T10:05:00Z',
        'Stalled 2026-11-30T10:05:00Z',
      ],
    );
    // A new reason and generation with the same statuses is no transition.
    const third = conditionsFor({ ...error, reason: 'TooLarge' }, 2, second, new Date());
    assert.deepEqual(
      third.map((c) => c.lastTransitionTime),
      second.map((c) => c.lastTransitionTime),
    );
  });

  test("conditions of other types (another controller's) are kept", () => {
    const foreign: Condition = {
      type: 'example.com/Audited',
      status: 'True',
      reason: 'Audited',
      message: '',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const conditions = conditionsFor(active, 1, [foreign], T0);
    assert.deepEqual(conditions.at(-1), foreign);
    assert.equal(conditions.length, 4);
  });

  test('a message longer than the API server allows is cut to 32768 characters', () => {
    const long = conditionsFor({ ...error, message: 'x'.repeat(40_000) }, 1, undefined, T0);
    assert.equal(long[0]!.message.length, 32768);
  });

  test('what it writes is valid for the CRD schema (metav1.Condition)', () => {
    const status = { deployStatus: 'Error', conditions: conditionsFor(error, 1, undefined, T0) };
    const object = {
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyConfig',
      metadata: { name: 'a', namespace: 'b' },
      spec: {
        position: 1,
        targetSecret: 'harikube/topology-config',
        backends: [{ name: 'x', endpoint: 'sqlite://x.db', prefix: { prefix: 'x' } }],
      },
      status,
    };
    assert.deepEqual(validateSchema(object), []);
    const bad = {
      ...object,
      status: { conditions: [{ ...status.conditions[0], reason: 'not camel' }] },
    };
    assert.notDeepEqual(validateSchema(bad), []);
  });
});

describe('sameConditions and readyNow', () => {
  test('the same statuses, reasons, messages and generations are the same, whatever the times', () => {
    const a = conditionsFor(active, 1, undefined, T0);
    const b = conditionsFor(active, 1, undefined, T1);
    assert.ok(sameConditions(a, b));
    assert.ok(!sameConditions(a, conditionsFor(active, 2, undefined, T0)));
    assert.ok(!sameConditions(a, conditionsFor({ ...active, message: 'other' }, 1, undefined, T0)));
    assert.ok(!sameConditions(undefined, a));
  });

  test('Ready True counts only for the generation it was set for', () => {
    const conditions = conditionsFor(active, 1, undefined, T0);
    assert.ok(readyNow(conditions, 1));
    assert.ok(!readyNow(conditions, 2));
    assert.ok(!readyNow(conditionsFor(pending, 1, undefined, T0), 1));
  });
});
