// A work queue keyed by target Secret, with client-go's guarantees: a key
// waiting to be processed is held once however often it is added; a key is
// never processed by two workers at once (an add during processing is kept
// and processed right after); failures are retried with per-key exponential
// back-off that resets on success. And one of its own: a key whose work took
// long rests as long before it is processed again (pacing), and keys wait
// while the process is busy with something more urgent (holding back).
import { realClock, type Clock, type Timer } from '../time/clock.ts';

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  onDepthChange?: (depth: number) => void;
  metrics?: WorkQueueMetrics;
  /** Back-off timers run on it, and the metrics' waiting and working times (its monotonic time). */
  clock?: Clock;
  /**
   * A key whose work took at least this long (ms) is not started again
   * until as long again has passed (at most `maxRestMs`); shorter work is
   * never paced. Absent: no pacing.
   */
  paceAfterMs?: number;
  maxRestMs?: number;
  /**
   * How long keys should wait before they start now (ms; 0: they may
   * start). A key added while it says more waits that long and asks again,
   * but never longer than `maxHoldMs` in all before it starts.
   */
  holdBack?: () => number;
  maxHoldMs?: number;
}

/** What client-go's work-queue metrics count, as the queue sees it. */
export interface WorkQueueMetrics {
  /** A key entered the queue (an add of a key already waiting is not one). */
  added(): void;
  /** A worker took a key that had waited `seconds` since it entered. */
  started(seconds: number): void;
  /** A worker finished a key after `seconds`. */
  finished(seconds: number): void;
  /** A failed key was scheduled again with a back-off. */
  retried(): void;
}

export type Worker = (key: string) => Promise<'done' | 'retry'>;

export class WorkQueue {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onDepthChange: (depth: number) => void;
  readonly #metrics: WorkQueueMetrics | undefined;
  /** When each waiting key entered the queue (the clock's monotonic ms). */
  readonly #enteredAt = new Map<string, number>();
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, Timer>();
  readonly #clock: Clock;
  readonly #paceAfterMs: number;
  readonly #maxRestMs: number;
  /** Until when (the clock's monotonic ms) each paced key rests. */
  readonly #restUntil = new Map<string, number>();
  readonly #restTimers = new Map<string, Timer>();
  readonly #holdBack: () => number;
  readonly #maxHoldMs: number;
  /** Since when (the clock's monotonic ms) each held key has been held. */
  readonly #heldSince = new Map<string, number>();
  #wake: (() => void) | undefined;
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#maxDelayMs = options.maxDelayMs ?? 60_000;
    this.#onDepthChange = options.onDepthChange ?? (() => {});
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? realClock;
    this.#paceAfterMs = options.paceAfterMs ?? Infinity;
    this.#maxRestMs = options.maxRestMs ?? 2_000;
    this.#holdBack = options.holdBack ?? (() => 0);
    this.#maxHoldMs = options.maxHoldMs ?? 10_000;
  }

  get depth(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const rest = Math.max(this.#restLeft(key), this.#holdLeft(key));
    if (rest > 0) {
      // Rests or is held back by a timer of its own (not a back-off's or a
      // requeue's, which may be later): the adds until then are this one.
      this.#addLater(this.#restTimers, key, rest);
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
    if (this.#metrics) {
      this.#enteredAt.set(key, this.#clock.elapsed());
      this.#metrics.added();
    }
    this.#onDepthChange(this.#queue.length);
    this.#wake?.();
  }

  addAfter(key: string, delayMs: number): void {
    if (!this.#shuttingDown) this.#addLater(this.#timers, key, delayMs);
  }

  /** Adds `key` after `delayMs` by a timer in `timers`, unless one is already set there. */
  #addLater(timers: Map<string, Timer>, key: string, delayMs: number): void {
    if (timers.has(key)) return;
    timers.set(
      key,
      this.#clock.setTimeout(() => {
        timers.delete(key);
        this.add(key);
      }, delayMs),
    );
  }

  /** Delay before the next retry of key: base · 2^(failures−1), capped. */
  backoffFor(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    return Math.min(this.#baseDelayMs * 2 ** Math.max(0, failures - 1), this.#maxDelayMs);
  }

  /** Runs workers until shutdown(); resolves when they have finished. */
  async run(worker: Worker, concurrency = 1): Promise<void> {
    await Promise.all(Array.from({ length: concurrency }, () => this.#loop(worker)));
  }

  shutdown(): void {
    this.#shuttingDown = true;
    for (const timer of [...this.#timers.values(), ...this.#restTimers.values()])
      this.#clock.clearTimeout(timer);
    this.#timers.clear();
    this.#restTimers.clear();
    this.#wake?.();
  }

  async #loop(worker: Worker): Promise<void> {
    for (;;) {
      const key = this.#next();
      if (key === undefined) {
        if (this.#shuttingDown) return;
        await new Promise<void>((resolve) => {
          const previous = this.#wake;
          this.#wake = () => {
            this.#wake = undefined;
            previous?.();
            resolve();
          };
        });
        continue;
      }
      this.#processing.add(key);
      const started = this.#clock.elapsed();
      let outcome: 'done' | 'retry';
      try {
        outcome = await worker(key);
      } catch {
        outcome = 'retry';
      }
      this.#processing.delete(key);
      const took = this.#clock.elapsed() - started;
      this.#metrics?.finished(took / 1000);
      if (outcome === 'done') {
        this.#failures.delete(key);
        if (took >= this.#paceAfterMs)
          this.#restUntil.set(key, this.#clock.elapsed() + Math.min(took, this.#maxRestMs));
      } else {
        this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
        this.#metrics?.retried();
        this.addAfter(key, this.backoffFor(key));
      }
      if (this.#dirty.delete(key)) this.add(key);
    }
  }

  /** How long `key` still rests (0: it may start now). */
  #restLeft(key: string): number {
    const until = this.#restUntil.get(key);
    if (until === undefined) return 0;
    const left = until - this.#clock.elapsed();
    if (left <= 0) this.#restUntil.delete(key);
    return Math.max(0, left);
  }

  /** How long `key` is still held back (0: it may start now, or has waited its most). */
  #holdLeft(key: string): number {
    const wanted = this.#holdBack();
    if (wanted <= 0) {
      this.#heldSince.delete(key);
      return 0;
    }
    const now = this.#clock.elapsed();
    const since = this.#heldSince.get(key) ?? now;
    this.#heldSince.set(key, since);
    return Math.max(0, Math.min(wanted, since + this.#maxHoldMs - now));
  }

  #secondsSince(ms: number): number {
    return (this.#clock.elapsed() - ms) / 1000;
  }

  #next(): string | undefined {
    // add() never queues a key that is being processed, so the head is free.
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    this.#queued.delete(key);
    // The next hold of this key is counted from its next add.
    this.#heldSince.delete(key);
    const entered = this.#enteredAt.get(key);
    if (entered !== undefined) {
      this.#enteredAt.delete(key);
      this.#metrics?.started(this.#secondsSince(entered));
    }
    this.#onDepthChange(this.#queue.length);
    return key;
  }
}
