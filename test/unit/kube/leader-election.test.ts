import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { startLeaderElection } from '../../../src/kube/leader-election.ts';
import { type RestClient } from '../../../src/kube/rest.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import { fakeClock as clockWithTimers, type FakeClock } from '../fake-clock.ts';

/** A clock the test moves by hand, with no timers (the elector's wall or monotonic time). */
function fakeClock(start: number) {
  let t = start;
  return { read: () => t, add: (ms: number) => (t += ms) };
}

/** An in-memory Lease shared by replicas, each of whose requests can be made to hang, as a stalled API server would. */
function sharedLease() {
  let lease: Record<string, unknown> | undefined;
  const hang = () => new Promise<never>(() => {});
  const client = () => {
    let stalled = false;
    const rest: RestClient = {
      get: async <T>() => {
        if (stalled) return hang();
        if (!lease) throw new ApiError(404, 'NotFound', 'not found');
        return structuredClone(lease) as T;
      },
      create: async <T>(_path: string, body: unknown) => {
        if (stalled) return hang();
        lease = structuredClone(body) as Record<string, unknown>;
        return lease as T;
      },
      replace: async <T>(_path: string, body: unknown) => {
        if (stalled) return hang();
        lease = structuredClone(body) as Record<string, unknown>;
        return lease as T;
      },
      patch: async () => hang(),
      delete: async () => hang(),
    };
    return { rest, stall: () => (stalled = true) };
  };
  return { client, lease: () => lease as { spec: Record<string, unknown> } | undefined };
}

/** Moves the timers' fake clock 5 ms at a time until `probe` holds. */
const until = async (timers: FakeClock, what: string, probe: () => boolean) => {
  for (let i = 0; i < 2000 && !probe(); i++) await timers.advance(5);
  assert.ok(probe(), what);
};

describe('leader election: a fenced leader', () => {
  test('stops writing renewDeadline after its last renewal BEGAN, although the renewal still hangs', async () => {
    const store = sharedLease().client();
    const events: string[] = [];
    // Every interval and timer on fake time: the test waits for none of them.
    const clock = clockWithTimers();
    const sleep = (ms: number) => clock.advance(ms);
    const elector = startLeaderElection({
      rest: store.rest,
      namespace: 'ns',
      name: 'lease',
      identity: 'a',
      leaseDurationMs: 1000,
      renewDeadlineMs: 600,
      retryPeriodMs: 100,
      logger: pino({ level: 'silent' }),
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: () => events.push('stopped'),
      clock,
    });
    for (let i = 0; i < 50 && !elector.mayWrite(); i++) await sleep(20);
    assert.equal(elector.mayWrite(), true, 'leads');
    // The next renewal hangs: it is the attempt's start that counts.
    await sleep(150);
    const stalledAt = clock.elapsed();
    store.stall();
    while (elector.mayWrite()) await sleep(5);
    const fencedAfter = clock.elapsed() - stalledAt;
    // Fenced no later than renewDeadline after the stall (the last good
    // renewal began before it), and the callbacks follow without the tick.
    assert.ok(fencedAfter <= 600 + 100, `fenced after ${Math.round(fencedAfter)} ms`);
    for (let i = 0; i < 50 && elector.isLeader(); i++) await sleep(10);
    assert.equal(elector.isLeader(), false, 'steps down while the renewal hangs');
    assert.deepEqual(events, ['started', 'stopped']);
  });
});

describe('leader election: intervals on a monotonic clock, stamps on the wall clock', () => {
  const timing = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 5 };

  test('a wall clock stepped back does not extend the fence; the Lease is stamped with wall time', async () => {
    const shared = sharedLease();
    const a = shared.client();
    const mono = fakeClock(0);
    const wall = fakeClock(Date.parse('2026-01-01T00:00:00Z'));
    // The retry timers on fake time too; the intervals on `mono`.
    const timers = clockWithTimers();
    const elector = startLeaderElection({
      ...timing,
      rest: a.rest,
      namespace: 'ns',
      name: 'lease',
      identity: 'a',
      logger: pino({ level: 'silent' }),
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
      now: wall.read,
      elapsed: mono.read,
      clock: timers,
    });
    try {
      await until(timers, 'leads', () => elector.mayWrite());
      assert.equal(shared.lease()?.spec.renewTime, '2026-01-01T00:00:00.000000Z');
      a.stall();
      await timers.advance(20); // a renewal is hanging now
      wall.add(-60_000); // NTP steps the wall clock back a minute
      mono.add(timing.renewDeadlineMs - 1);
      assert.equal(elector.mayWrite(), true, 'within the renew deadline');
      mono.add(1);
      assert.equal(
        elector.mayWrite(),
        false,
        'fenced at the renew deadline, whatever the wall clock says',
      );
    } finally {
      void elector.stop();
    }
  });

  test('a standby whose wall clock jumps ahead waits a lease duration of elapsed time; the stalled leader is fenced before it takes over', async () => {
    const shared = sharedLease();
    const [a, b] = [shared.client(), shared.client()];
    const mono = fakeClock(0);
    const timers = clockWithTimers();
    let wallA = Date.parse('2026-01-01T00:00:00Z');
    const start = (identity: string, rest: RestClient, wall: () => number) =>
      startLeaderElection({
        ...timing,
        rest,
        namespace: 'ns',
        name: 'lease',
        identity,
        logger: pino({ level: 'silent' }),
        onStartedLeading: () => {},
        onStoppedLeading: () => {},
        now: wall,
        elapsed: mono.read,
        clock: timers,
      });
    // Each renewal of `a` carries a new renewTime, as real time would give it.
    const leader = start('a', a.rest, () => (wallA += 1));
    await until(timers, 'a leads', () => leader.mayWrite());
    const wallB = fakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const standby = start('b', b.rest, wallB.read);
    try {
      await timers.advance(30); // b has looked at the Lease
      a.stall();
      await timers.advance(20);
      wallB.add(3_600_000); // b's wall clock jumps an hour ahead
      await timers.advance(30);
      assert.equal(standby.isLeader(), false, 'b does not take over on its wall clock');
      assert.equal(leader.mayWrite(), true, 'a still within its renew deadline');
      mono.add(timing.renewDeadlineMs);
      assert.equal(leader.mayWrite(), false, 'a fenced');
      await timers.advance(30);
      assert.equal(standby.isLeader(), false, 'b waits for the whole lease duration');
      mono.add(timing.leaseDurationMs - timing.renewDeadlineMs + 1);
      await until(timers, 'b takes over', () => standby.mayWrite());
      assert.equal(shared.lease()?.spec.holderIdentity, 'b');
      assert.equal(leader.mayWrite(), false, 'never two writers');
    } finally {
      void leader.stop();
      void standby.stop();
    }
  });
});

describe('leader election: handing over on stop', () => {
  test('a leader that stops releases the Lease only once its writes in flight have ended', async () => {
    const shared = sharedLease();
    let endWrites: () => void = () => {};
    const writes = new Promise<void>((resolve) => (endWrites = resolve));
    let asked = false;
    const timers = clockWithTimers();
    const elector = startLeaderElection({
      rest: shared.client().rest,
      namespace: 'ns',
      name: 'lease',
      identity: 'a',
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 5,
      logger: pino({ level: 'silent' }),
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
      writesSettled: () => {
        asked = true;
        return writes;
      },
      clock: timers,
    });
    await until(timers, 'leads', () => elector.mayWrite());
    const stopped = elector.stop();
    await until(timers, 'waits for the writes', () => asked);
    assert.equal(elector.mayWrite(), false, 'no write begins while it waits');
    await timers.advance(20);
    assert.equal(shared.lease()?.spec.holderIdentity, 'a', 'still held while a write is in flight');
    endWrites();
    await stopped;
    assert.equal(shared.lease()?.spec.holderIdentity, '', 'released');
  });
});
