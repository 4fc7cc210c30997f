import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino, { type Logger } from 'pino';
import { RECONCILE_HELD_AT_MOST_MS, createController } from '../../../src/reconcile/controller.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';
import type { Clock } from '../../../src/time/clock.ts';
import { fakeClock } from '../fake-clock.ts';

const configs = Array.from(
  { length: 2000 },
  (_, i) =>
    ({
      metadata: { namespace: 'team-a', name: `c${i}` },
      spec: { targetSecret: `harikube/t${i % 8}` },
    }) as unknown as TopologyConfig,
);

/** Targets with no configs, whose target Secrets the policy does not allow: a reconcile touches nothing. */
const nothingToReconcile = (logger: Logger) => ({
  secrets: {} as never,
  configs: {} as never,
  configsOfTarget: () => [],
  keys: { keysOf: () => ({ found: false as const, keys: [] }) },
  policy: () => defaultPolicy,
  events: { record() {} },
  logger,
});

function controller(onList: () => void, clock?: Clock) {
  const logger = pino({ level: 'silent' });
  return createController({
    deps: nothingToReconcile(logger),
    allConfigs: () => configs,
    targets: () => {
      onList();
      return new Set(configs.map((c) => c.spec.targetSecret!));
    },
    logger,
    workers: 0, // nothing is reconciled: only the queueing is under test
    resyncMs: 60_000,
    ...(clock ? { clock } : {}),
  });
}

test('a burst of config events finds the targets once, not once per event', async () => {
  let scans = 0;
  const c = controller(() => scans++);
  c.startLeading();
  scans = 0;
  for (const config of configs) c.listeners.configChanged(config);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(scans, 1);
  await c.shutdown();
});

test('a config event queues its own target at once and every target some config names in the same turn', async () => {
  const depths: number[] = [];
  const c = createController({
    deps: nothingToReconcile(pino({ level: 'silent' })),
    allConfigs: () => configs,
    targets: () => ['harikube/t1', 'harikube/t2', 'harikube/t3'],
    logger: pino({ level: 'silent' }),
    workers: 0,
    observer: { reconciled() {}, queueDepth: (depth) => depths.push(depth) },
  });
  c.startLeading();
  assert.equal(depths.at(-1), 3, 'a new leader queues every target');
  const moved = { ...configs[0]!, spec: { targetSecret: 'harikube/elsewhere' } } as TopologyConfig;
  c.listeners.configChanged(moved);
  assert.equal(depths.at(-1), 4, 'its own target, which no other config names');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(depths.at(-1), 4, 'the others were queued already: each is held once');
  await c.shutdown();
});

test('a replica that does not lead does not scan at all', async () => {
  let scans = 0;
  const c = controller(() => scans++);
  for (const config of configs) c.listeners.configChanged(config);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(scans, 0);
  await c.shutdown();
});

test('while leading, every target is queued again each resync period; not after stepping down', async () => {
  const clock = fakeClock();
  let scans = 0;
  const c = controller(() => scans++, clock);
  c.startLeading();
  assert.equal(scans, 1, 'a new leader queues everything at once');
  await clock.advance(59_999);
  assert.equal(scans, 1);
  await clock.advance(1);
  assert.equal(scans, 2);
  await clock.advance(60_000);
  assert.equal(scans, 3);
  c.stopLeading();
  await clock.advance(600_000);
  assert.equal(scans, 3);
  assert.equal(clock.pending(), 0, 'no resync timer left behind');
  await c.shutdown();
});

test('while admission is busy a target waits for it to be over, and at most RECONCILE_HELD_AT_MOST_MS', async () => {
  const clock = fakeClock();
  const logger = pino({ level: 'silent' });
  let busyUntil = 1_500;
  const reconciled: number[] = [];
  const c = createController({
    deps: nothingToReconcile(logger),
    allConfigs: () => [],
    targets: () => [],
    logger,
    workers: 1,
    clock,
    holdBack: () => Math.max(0, busyUntil - clock.elapsed()),
    observer: { reconciled: () => reconciled.push(clock.elapsed()), queueDepth() {} },
  });
  c.startLeading();
  c.listeners.managedSecretChanged({ namespace: 'harikube', name: 'a' });
  await clock.advance(1_499);
  assert.deepEqual(reconciled, [], 'held while the burst lasts');
  await clock.advance(1);
  assert.deepEqual(reconciled, [1_500]);
  busyUntil = Infinity; // reviews that never stop
  c.listeners.managedSecretChanged({ namespace: 'harikube', name: 'a' });
  await clock.advance(RECONCILE_HELD_AT_MOST_MS);
  assert.deepEqual(reconciled, [1_500, 1_500 + RECONCILE_HELD_AT_MOST_MS]);
  await c.shutdown();
});
