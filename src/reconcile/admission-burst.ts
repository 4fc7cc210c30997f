// Whether this replica is in the middle of an admission burst (a GitOps
// sync or a script applying many configs): reviews arriving faster than a
// person applies configs, or faster than merges finish. The reconciler
// holds back while one lasts, so that the event loop and the cores it shares
// answer the reviews instead of merging a growing target again and again.
//
// "Faster than merges finish" matters in a large cluster: at 10,000 configs
// a merge takes about a second, the reviews of a 1,000-config apply slowed
// to one or two a second behind it, never 16 in half a second, and every
// newcomer had its target merged again: 552 of the 1,000 were created after
// five minutes. The window is therefore at least as long as `reviews`
// merges of the slowest recent reconcile, and a pause must outlast one.
import { realClock, type Clock } from '../time/clock.ts';

export interface AdmissionBurstOptions {
  /** A burst begins with this many reviews… */
  reviews?: number;
  /** …within this many ms… */
  withinMs?: number;
  /** …and lasts until no review has come for this many ms. */
  quietMs?: number;
  /** How many recent reconciles' durations are kept (the slowest one counts). */
  reconciles?: number;
  clock?: Clock;
}

export class AdmissionBurst {
  readonly #withinMs: number;
  readonly #quietMs: number;
  readonly #clock: Clock;
  /** Arrival times (monotonic ms) of the last `reviews` reviews, a ring. */
  readonly #arrivals: Float64Array;
  #next = 0;
  #seen = 0;
  #inBurst = false;
  /** Durations (ms) of the last reconciles, a ring. */
  readonly #merges: Float64Array;
  #nextMerge = 0;

  constructor(options: AdmissionBurstOptions = {}) {
    this.#arrivals = new Float64Array(Math.max(1, options.reviews ?? 16));
    this.#withinMs = options.withinMs ?? 500;
    this.#quietMs = options.quietMs ?? 1_000;
    this.#clock = options.clock ?? realClock;
    this.#merges = new Float64Array(Math.max(1, options.reconciles ?? 8));
  }

  /** A reconcile took `ms`. */
  reconciled(ms: number): void {
    this.#merges[this.#nextMerge] = ms;
    this.#nextMerge = (this.#nextMerge + 1) % this.#merges.length;
  }

  /** The slowest of the recent reconciles (ms). */
  #mergeMs(): number {
    return Math.max(...this.#merges);
  }

  /** A review was answered. */
  reviewed(): void {
    const now = this.#clock.elapsed();
    this.#arrivals[this.#next] = now;
    this.#next = (this.#next + 1) % this.#arrivals.length;
    this.#seen++;
    // The oldest of the last `reviews` came within the window: a burst.
    // Once begun, a pause shorter than quietMs (a slow apply on a loaded
    // machine) does not end it.
    const window = Math.max(this.#withinMs, this.#arrivals.length * this.#mergeMs());
    if (this.#seen >= this.#arrivals.length && this.#arrivals[this.#next]! > now - window)
      this.#inBurst = true;
  }

  /** How long until the burst is over if no review comes meanwhile (ms; 0: there is none). */
  quietIn(): number {
    if (!this.#inBurst) return 0;
    const last = this.#arrivals[(this.#next + this.#arrivals.length - 1) % this.#arrivals.length]!;
    const left = last + Math.max(this.#quietMs, this.#mergeMs()) - this.#clock.elapsed();
    if (left <= 0) this.#inBurst = false;
    return Math.max(0, left);
  }
}
