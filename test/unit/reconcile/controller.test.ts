import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createController } from '../../../src/reconcile/controller.ts';
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

function controller(onList: () => void, clock?: Clock) {
  const logger = pino({ level: 'silent' });
  return createController({
    deps: {
      secrets: {} as never,
      configs: {} as never,
      configsOfTarget: () => [],
      keys: { keysOf: () => ({ found: false, keys: [] }) },
      policy: () => defaultPolicy,
      events: { record() {} },
      logger,
    },
    allConfigs: () => {
      onList();
      return configs;
    },
    logger,
    workers: 0, // nothing is reconciled: only the queueing is under test
    resyncMs: 60_000,
    ...(clock ? { clock } : {}),
  });
}

test('a burst of config events scans all configs once, not once per event', async () => {
  let scans = 0;
  const c = controller(() => scans++);
  c.startLeading();
  scans = 0;
  for (const config of configs) c.listeners.configChanged(config);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(scans, 1);
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
