import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { startLeaderElection } from '../../../src/kube/leader-election.ts';
import { ApiError, type RestClient } from '../../../src/kube/rest.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An in-memory Lease store whose writes can be made to hang, as a stalled API server would. */
function leaseStore() {
  let lease: Record<string, unknown> | undefined;
  let stall = false;
  const hang = () => new Promise<never>(() => {});
  const rest: RestClient = {
    get: async <T>() => {
      if (stall) return hang();
      if (!lease) throw new ApiError(404, 'NotFound', 'not found');
      return structuredClone(lease) as T;
    },
    create: async <T>(_path: string, body: unknown) => {
      if (stall) return hang();
      lease = structuredClone(body) as Record<string, unknown>;
      return lease as T;
    },
    replace: async <T>(_path: string, body: unknown) => {
      if (stall) return hang();
      lease = structuredClone(body) as Record<string, unknown>;
      return lease as T;
    },
    patch: async () => hang(),
    delete: async () => hang(),
  };
  return { rest, stall: () => (stall = true) };
}

describe('leader election: a fenced leader', () => {
  test('stops writing renewDeadline after its last renewal BEGAN, although the renewal still hangs', async () => {
    const store = leaseStore();
    const events: string[] = [];
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
    });
    for (let i = 0; i < 50 && !elector.mayWrite(); i++) await sleep(20);
    assert.equal(elector.mayWrite(), true, 'leads');
    // The next renewal hangs: it is the attempt's start that counts.
    await sleep(150);
    const stalledAt = performance.now();
    store.stall();
    while (elector.mayWrite()) await sleep(5);
    const fencedAfter = performance.now() - stalledAt;
    // Fenced no later than renewDeadline after the stall (the last good
    // renewal began before it), and the callbacks follow without the tick.
    assert.ok(fencedAfter <= 600 + 100, `fenced after ${Math.round(fencedAfter)} ms`);
    for (let i = 0; i < 50 && elector.isLeader(); i++) await sleep(10);
    assert.equal(elector.isLeader(), false, 'steps down while the renewal hangs');
    assert.deepEqual(events, ['started', 'stopped']);
  });
});
