// A Clock whose time moves only when a test says so. advance() fires due
// timers in time order and lets the promise chains they start settle before
// firing the next, so code under test runs as it would, minus the waiting.
import type { Clock, Timer } from '../../src/time/clock.ts';

interface Pending extends Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): Promise<void>;
  /** Timers still pending. */
  pending(): number;
}

/** Lets queued promise callbacks and immediates run. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

export function fakeClock(start = Date.parse('2030-01-01T00:00:00Z')): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Set<Pending>();
  return {
    now: () => now,
    elapsed: () => now - start,
    setTimeout(fn, ms) {
      const timer: Pending = { at: now + Math.max(0, ms), seq: seq++, fn, unref: () => timer };
      timers.add(timer);
      return timer;
    },
    clearTimeout(timer) {
      timers.delete(timer as Pending);
    },
    async advance(ms) {
      const until = now + ms;
      await settle();
      for (;;) {
        const due = [...timers]
          .filter((t) => t.at <= until)
          .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (!due) break;
        timers.delete(due);
        now = Math.max(now, due.at);
        due.fn();
        await settle();
      }
      now = until;
      await settle();
    },
    pending: () => timers.size,
  };
}
