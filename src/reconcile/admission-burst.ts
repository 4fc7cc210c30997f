// Whether this replica is in the middle of an admission burst (a GitOps
// sync or a script applying many configs): reviews arriving faster than a
// person applies configs. The reconciler holds back while one lasts, so
// that the event loop and the cores it shares answer the reviews instead of
// merging a growing target again and again.
import { realClock, type Clock } from '../time/clock.ts';

export interface AdmissionBurstOptions {
  /** A burst is at least this many reviews… */
  reviews?: number;
  /** …within this many ms. */
  withinMs?: number;
  clock?: Clock;
}

export class AdmissionBurst {
  readonly #withinMs: number;
  readonly #clock: Clock;
  /** Arrival times (monotonic ms) of the last `reviews` reviews, a ring. */
  readonly #arrivals: Float64Array;
  #next = 0;
  #seen = 0;

  constructor(options: AdmissionBurstOptions = {}) {
    this.#arrivals = new Float64Array(Math.max(1, options.reviews ?? 16));
    this.#withinMs = options.withinMs ?? 500;
    this.#clock = options.clock ?? realClock;
  }

  /** A review was answered. */
  reviewed(): void {
    this.#arrivals[this.#next] = this.#clock.elapsed();
    this.#next = (this.#next + 1) % this.#arrivals.length;
    this.#seen++;
  }

  /** How long until the burst is over if no review comes meanwhile (ms; 0: there is none). */
  quietIn(): number {
    if (this.#seen < this.#arrivals.length) return 0;
    // The oldest of the last `reviews`: the burst lasts while it is in the window.
    const oldest = this.#arrivals[this.#next]!;
    return Math.max(0, oldest + this.#withinMs - this.#clock.elapsed());
  }
}
