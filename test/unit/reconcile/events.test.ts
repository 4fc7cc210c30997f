// The Event recorder: best effort and bounded. A first start at 10,000
// configs records 10,000 transitions; only a few may be posted at once and
// a bounded number wait, the rest are dropped and counted in one warning.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from 'pino';
import {
  createEventRecorder,
  EVENTS_IN_FLIGHT,
  EVENTS_QUEUED,
} from '../../../src/reconcile/events.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { fakeClock, settle } from '../fake-clock.ts';

const config = (i: number) =>
  ({
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { namespace: 'team-a', name: `c${i}`, uid: `uid-${i}`, resourceVersion: '7' },
    spec: { targetSecret: 'harikube/t', position: i, backends: [] },
  }) as unknown as TopologyConfig;

function capturingLogger() {
  const warnings: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const logger = {
    warn: (fields: Record<string, unknown>, msg: string) => warnings.push({ fields, msg }),
  } as unknown as Logger;
  return { logger, warnings };
}

/** A sink whose posts wait until the test lets them go. */
function heldSink() {
  const posted: Array<{ namespace: string; event: Record<string, unknown> }> = [];
  const held: Array<(ok: boolean) => void> = [];
  let open = 0;
  let mostOpen = 0;
  return {
    posted,
    mostOpen: () => mostOpen,
    held: () => held.length,
    /** Ends every post waiting now (and those they start). */
    async releaseAll(ok = true) {
      while (held.length > 0) {
        for (const end of held.splice(0)) end(ok);
        await settle();
      }
    },
    sink: {
      create(namespace: string, event: object) {
        posted.push({ namespace, event: event as Record<string, unknown> });
        open++;
        mostOpen = Math.max(mostOpen, open);
        return new Promise<unknown>((resolve, reject) =>
          held.push((ok) => {
            open--;
            if (ok) resolve({});
            else reject(new Error('500'));
          }),
        );
      },
    },
  };
}

test('a few Events are posted at once, a bounded number wait, the rest are dropped and counted once', async () => {
  const { logger, warnings } = capturingLogger();
  const sink = heldSink();
  const recorder = createEventRecorder(sink.sink, 'topology-webhook', logger, fakeClock());
  const total = EVENTS_IN_FLIGHT + EVENTS_QUEUED + 500;
  for (let i = 0; i < total; i++) recorder.record(config(i), 'Normal', 'Active', `routing ${i}`);
  await settle();
  assert.equal(sink.held(), EVENTS_IN_FLIGHT, 'only a few in flight');
  assert.deepEqual(warnings, [], 'no warning while they are being posted');
  await sink.releaseAll();
  assert.equal(sink.mostOpen(), EVENTS_IN_FLIGHT);
  assert.equal(sink.posted.length, EVENTS_IN_FLIGHT + EVENTS_QUEUED, 'every queued one posted');
  // In the order recorded: the first ones, not a random subset.
  const names = sink.posted.map((p) => (p.event.involvedObject as { name: string }).name);
  assert.deepEqual(
    names,
    Array.from({ length: EVENTS_IN_FLIGHT + EVENTS_QUEUED }, (_, i) => `c${i}`),
  );
  assert.deepEqual(warnings, [
    {
      fields: { dropped: 500 },
      msg: 'events dropped: transitions came faster than they could be posted',
    },
  ]);
  // Drained: the next Event goes out at once, and nothing more is dropped.
  recorder.record(config(total), 'Warning', 'Error', 'x'.repeat(5000));
  await settle();
  assert.equal(sink.held(), 1);
  const last = sink.posted.at(-1)!;
  assert.equal(last.namespace, 'team-a');
  assert.equal(last.event.type, 'Warning');
  assert.equal((last.event.message as string).length, 1024, 'the message is capped');
  assert.deepEqual(last.event.involvedObject, {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    namespace: 'team-a',
    name: `c${total}`,
    uid: `uid-${total}`,
    resourceVersion: '7',
  });
  await sink.releaseAll();
  assert.equal(warnings.length, 1);
});

test('a failed post is tried once more a second later; then it is logged, and its slot freed', async () => {
  const { logger, warnings } = capturingLogger();
  const sink = heldSink();
  const clock = fakeClock();
  const recorder = createEventRecorder(sink.sink, 'topology-webhook', logger, clock);
  recorder.record(config(1), 'Normal', 'Active', 'live');
  await settle();
  await sink.releaseAll(false);
  assert.equal(sink.posted.length, 1, 'no retry before a second has passed');
  await clock.advance(1000);
  assert.equal(sink.posted.length, 2, 'retried');
  await sink.releaseAll(false);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.msg, 'event not recorded');
  assert.equal(warnings[0]!.fields.object, 'team-a/c1');
  // The slot is free again: as many new Events go out at once as before.
  for (let i = 0; i < EVENTS_IN_FLIGHT; i++) recorder.record(config(i), 'Normal', 'Active', '');
  await settle();
  assert.equal(sink.held(), EVENTS_IN_FLIGHT);
  await sink.releaseAll();
});
