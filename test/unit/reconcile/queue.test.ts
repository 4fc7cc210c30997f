import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkQueue } from '../../../src/reconcile/queue.ts';
import { sleep } from '../../../src/time/clock.ts';
import { fakeClock } from '../fake-clock.ts';

describe('WorkQueue', () => {
  test('a key added many times while waiting is processed once', async () => {
    const clock = fakeClock();
    const queue = new WorkQueue({ clock });
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) queue.add('ns/a');
    queue.add('ns/b');
    const running = queue.run(async (key) => {
      seen.push(key);
      return 'done';
    });
    await clock.advance(20);
    queue.shutdown();
    await running;
    assert.deepEqual(seen, ['ns/a', 'ns/b']);
  });

  test('a key is never processed by two workers at once, and an add during processing is not lost', async () => {
    const clock = fakeClock();
    const queue = new WorkQueue({ clock });
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const running = queue.run(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      if (runs === 1) queue.add('ns/a'); // arrives while ns/a is being processed
      await sleep(clock, 10);
      active--;
      return 'done';
    }, 4);
    queue.add('ns/a');
    await clock.advance(60);
    queue.shutdown();
    await running;
    assert.equal(maxActive, 1);
    assert.equal(runs, 2);
  });

  test('failures are retried with growing back-off that resets after success', async () => {
    const clock = fakeClock();
    const queue = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 40, clock });
    const times: number[] = [];
    const started = clock.now();
    const running = queue.run(async () => {
      times.push(clock.now() - started);
      return times.length < 4 ? 'retry' : 'done';
    });
    queue.add('ns/a');
    await clock.advance(200);
    queue.shutdown();
    await running;
    assert.equal(times.length, 4);
    // 10, 20, 40 ms between attempts (on fake time, exactly).
    assert.ok(times[1]! - times[0]! >= 9);
    assert.ok(times[2]! - times[1]! >= 19);
    assert.ok(times[3]! - times[2]! >= 39);
    assert.equal(queue.backoffFor('ns/a'), 10, 'back-off resets after success');
  });

  test('a worker that throws is retried, not crashed', async () => {
    const clock = fakeClock();
    const queue = new WorkQueue({ baseDelayMs: 5, clock });
    let calls = 0;
    const running = queue.run(async () => {
      calls++;
      if (calls === 1) throw new Error('boom');
      return 'done';
    });
    queue.add('ns/a');
    await clock.advance(50);
    queue.shutdown();
    await running;
    assert.equal(calls, 2);
  });

  test('reports its depth', async () => {
    const depths: number[] = [];
    const clock = fakeClock();
    const queue = new WorkQueue({ onDepthChange: (d) => depths.push(d), clock });
    queue.add('a');
    queue.add('b');
    assert.equal(queue.depth, 2);
    const running = queue.run(async () => 'done');
    await clock.advance(10);
    queue.shutdown();
    await running;
    assert.equal(queue.depth, 0);
    assert.deepEqual(depths.slice(0, 2), [1, 2]);
    assert.equal(depths.at(-1), 0);
  });

  test('reports what client-go counts: adds (not repeats), time waiting, time working, retries', async () => {
    const events: string[] = [];
    const waits: number[] = [];
    const clock = fakeClock();
    const queue = new WorkQueue({
      baseDelayMs: 5,
      clock,
      metrics: {
        added: () => events.push('added'),
        started: (seconds) => {
          events.push('started');
          waits.push(seconds);
        },
        finished: (seconds) => {
          events.push('finished');
          assert.ok(seconds >= 0.009, `worked ${seconds} s`);
        },
        retried: () => events.push('retried'),
      },
    });
    queue.add('ns/a');
    queue.add('ns/a'); // already waiting: not an add
    await clock.advance(20);
    let calls = 0;
    const running = queue.run(async () => {
      await sleep(clock, 10);
      return ++calls === 1 ? 'retry' : 'done';
    });
    await clock.advance(100);
    queue.shutdown();
    await running;
    assert.deepEqual(events, [
      'added',
      'started',
      'finished',
      'retried',
      'added',
      'started',
      'finished',
    ]);
    assert.ok(waits[0]! >= 0.015, `waited ${waits[0]} s before a worker ran`);
  });

  // Pacing: a target whose reconcile is long (a merge over a thousand configs)
  // would otherwise be reconciled back to back for as long as events come,
  // most of the process's CPU during a burst.
  describe('pacing', () => {
    /** Runs ns/a, whose first work takes `workMs` and adds it again meanwhile; the start times. */
    async function twice(workMs: number, options: { paceAfterMs?: number; maxRestMs?: number }) {
      const clock = fakeClock();
      const queue = new WorkQueue({ clock, ...options });
      const starts: number[] = [];
      const running = queue.run(async (key) => {
        if (key !== 'ns/a') return 'done';
        starts.push(clock.elapsed());
        if (starts.length > 1) return 'done';
        queue.add('ns/a');
        await sleep(clock, workMs);
        return 'done';
      });
      queue.add('ns/a');
      await clock.advance(10_000);
      queue.shutdown();
      await running;
      return starts;
    }

    test('a key whose work took long rests as long before it starts again', async () => {
      assert.deepEqual(await twice(300, { paceAfterMs: 50 }), [0, 600]);
    });

    test('short work is not paced, nor is any without the option', async () => {
      assert.deepEqual(await twice(20, { paceAfterMs: 50 }), [0, 20]);
      assert.deepEqual(await twice(300, {}), [0, 300]);
    });

    test('the rest is capped', async () => {
      assert.deepEqual(await twice(5_000, { paceAfterMs: 50, maxRestMs: 1_000 }), [0, 6_000]);
    });

    test('adds while a key rests are one; other keys and a later timer do not wait for it', async () => {
      const clock = fakeClock();
      const queue = new WorkQueue({ clock, paceAfterMs: 50 });
      const starts: Array<[string, number]> = [];
      const running = queue.run(async (key) => {
        starts.push([key, clock.elapsed()]);
        if (key === 'ns/a' && starts.length === 1) await sleep(clock, 200);
        return 'done';
      });
      queue.add('ns/a');
      await clock.advance(200); // ns/a done at 200, rests until 400
      queue.addAfter('ns/a', 5_000); // a requeue for later: it must not swallow the add below
      for (let i = 0; i < 3; i++) queue.add('ns/a');
      queue.add('ns/b');
      await clock.advance(300);
      queue.shutdown();
      await running;
      assert.deepEqual(starts, [
        ['ns/a', 0],
        ['ns/b', 200],
        ['ns/a', 400],
      ]);
    });

    test('a failure is retried by its back-off, not paced', async () => {
      const clock = fakeClock();
      const queue = new WorkQueue({ clock, paceAfterMs: 50, baseDelayMs: 10 });
      const starts: number[] = [];
      const running = queue.run(async () => {
        starts.push(clock.elapsed());
        await sleep(clock, 300);
        return starts.length === 1 ? 'retry' : 'done';
      });
      queue.add('ns/a');
      await clock.advance(2_000);
      queue.shutdown();
      await running;
      assert.deepEqual(starts, [0, 310]);
    });
  });

  // Holding back: while admission is busy (a burst of reviews), reconciles
  // wait for it, at most a bound each, so Active still comes.
  describe('holding back', () => {
    /** Starts of ns/a (added at 0 and again right after each start) over 30 s, held while `busyUntil`. */
    async function held(busyUntil: number, maxHoldMs: number) {
      const clock = fakeClock();
      const queue = new WorkQueue({
        clock,
        maxHoldMs,
        holdBack: () => Math.max(0, Math.min(300, busyUntil - clock.elapsed())),
      });
      const starts: number[] = [];
      const running = queue.run(async () => {
        starts.push(clock.elapsed());
        return 'done';
      });
      queue.add('ns/a');
      for (let t = 0; t < 30_000; t += 100) {
        await clock.advance(100);
        queue.add('ns/a');
      }
      queue.shutdown();
      await running;
      return starts;
    }

    test('a key added while admission is busy starts when it is quiet', async () => {
      const starts = await held(2_050, 10_000);
      assert.equal(starts[0], 2_050);
      // Quiet from then on: every add starts at once.
      assert.equal(starts[1], 2_100);
    });

    test('a key is held at most maxHoldMs, each time, however long admission stays busy', async () => {
      const starts = await held(Infinity, 4_000);
      assert.deepEqual(starts.slice(0, 4), [4_000, 8_000, 12_000, 16_000]);
    });

    test('nothing is held without the option, nor while it says 0', async () => {
      const clock = fakeClock();
      const queue = new WorkQueue({ clock, holdBack: () => 0 });
      const starts: number[] = [];
      const running = queue.run(async () => {
        starts.push(clock.elapsed());
        return 'done';
      });
      queue.add('ns/a');
      await clock.advance(10);
      queue.shutdown();
      await running;
      assert.deepEqual(starts, [0]);
    });

    test('adds while a key is held are one start', async () => {
      const clock = fakeClock();
      let busy = true;
      const queue = new WorkQueue({ clock, holdBack: () => (busy ? 200 : 0) });
      const starts: number[] = [];
      const running = queue.run(async () => {
        starts.push(clock.elapsed());
        return 'done';
      });
      for (let i = 0; i < 10; i++) {
        queue.add('ns/a');
        await clock.advance(50);
      }
      busy = false;
      await clock.advance(1_000);
      queue.shutdown();
      await running;
      assert.deepEqual(starts, [600]);
    });
  });
});
