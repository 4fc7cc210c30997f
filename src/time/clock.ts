// Time as an argument: whatever waits or reads the time takes a Clock, so
// tests run it on fake time instead of sleeping.

/** A pending timer; real ones can be unref'd so they do not hold the process open. */
export interface Timer {
  unref?(): unknown;
}

export interface Clock {
  /** Milliseconds since the epoch (wall time: NTP may step it). */
  now(): number;
  /** Monotonic milliseconds, for intervals (never stepped). */
  elapsed(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
