// Whether this replica is in the middle of an admission burst (a GitOps
// sync or a script applying many configs): reviews arriving faster than a
// person applies configs. The reconciler holds back while one lasts, so
// that the event loop and the cores it shares answer the reviews instead of
// merging a growing target again and again.
import { realClock, type Clock } from '../time/clock.ts';

export interface AdmissionBurstOptions {
  /** A burst begins with this many reviews… */
  reviews?: number;
  /** …within this many ms… */
  withinMs?: number;
  /** …and lasts until no review has come for this many ms. */
  quietMs?: number;
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

  constructor(options: AdmissionBurstOptions = {}) {
    this.#arrivals = new Float64Array(Math.max(1, options.reviews ?? 16));
    this.#withinMs = options.withinMs ?? 500;
    this.#quietMs = options.quietMs ?? 1_000;
    this.#clock = options.clock ?? realClock;
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
    if (this.#seen >= this.#arrivals.length && this.#arrivals[this.#next]! > now - this.#withinMs)
      this.#inBurst = true;
  }

  /** How long until the burst is over if no review comes meanwhile (ms; 0: there is none). */
  quietIn(): number {
    if (!this.#inBurst) return 0;
    const last = this.#arrivals[(this.#next + this.#arrivals.length - 1) % this.#arrivals.length]!;
    const left = last + this.#quietMs - this.#clock.elapsed();
    if (left <= 0) this.#inBurst = false;
    return Math.max(0, left);
  }
}
