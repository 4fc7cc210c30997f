// A work queue keyed by target Secret, with client-go's guarantees: a key
// waiting to be processed is held once however often it is added; a key is
// never processed by two workers at once (an add during processing is kept
// and processed right after); failures are retried with per-key exponential
// back-off that resets on success.
import { realClock, type Clock, type Timer } from '../time/clock.ts';

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  onDepthChange?: (depth: number) => void;
  metrics?: WorkQueueMetrics;
  /** Back-off timers run on it, and the metrics' waiting and working times (its monotonic time). */
  clock?: Clock;
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
  #wake: (() => void) | undefined;
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#maxDelayMs = options.maxDelayMs ?? 60_000;
    this.#onDepthChange = options.onDepthChange ?? (() => {});
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? realClock;
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
    if (this.#shuttingDown || this.#timers.has(key)) return;
    this.#timers.set(
      key,
      this.#clock.setTimeout(() => {
        this.#timers.delete(key);
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
    for (const timer of this.#timers.values()) this.#clock.clearTimeout(timer);
    this.#timers.clear();
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
      this.#metrics?.finished(this.#secondsSince(started));
      if (outcome === 'done') {
        this.#failures.delete(key);
      } else {
        this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
        this.#metrics?.retried();
        this.addAfter(key, this.backoffFor(key));
      }
      if (this.#dirty.delete(key)) this.add(key);
    }
  }

  #secondsSince(ms: number): number {
    return (this.#clock.elapsed() - ms) / 1000;
  }

  #next(): string | undefined {
    // add() never queues a key that is being processed, so the head is free.
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    this.#queued.delete(key);
    const entered = this.#enteredAt.get(key);
    if (entered !== undefined) {
      this.#enteredAt.delete(key);
      this.#metrics?.started(this.#secondsSince(entered));
    }
    this.#onDepthChange(this.#queue.length);
    return key;
  }
}
