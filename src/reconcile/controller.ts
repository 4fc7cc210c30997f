// Turns cache events into queued target Secrets and runs reconcileTarget on
// them while this replica leads. Every replica keeps its caches warm (the
// webhook needs them), so a new leader starts reconciling at once.
import type { Logger } from 'pino';
import { formatNamespacedName, type NamespacedName } from '../resource/names.ts';
import { targetOf } from '../rules/policy.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { CacheListeners } from './ports.ts';
import { describe } from '../resource/errors.ts';
import type { ReconcilerDeps } from './reconciler.ts';
import { reconcileTarget } from './reconciler.ts';
import { realClock, type Clock, type Timer } from '../time/clock.ts';
import { WorkQueue, type WorkQueueMetrics } from './queue.ts';

export interface ControllerObserver {
  reconciled(result: 'success' | 'error' | 'conflict', seconds: number): void;
  queueDepth(depth: number): void;
  /** Workers reconciling right now, of `max`. */
  workers?(active: number, max: number): void;
  queue?: WorkQueueMetrics;
}

export interface ControllerOptions {
  deps: Omit<ReconcilerDeps, 'mayWrite' | 'settling' | 'requeueAfter'>;
  /** The leader's fence (LeaderElector.mayWrite), checked with `leading` before each write. */
  mayWrite?: () => boolean;
  allConfigs: () => ReadonlyArray<TopologyConfig>;
  /** Every target some config names (ConfigIndex.targets): what a change anywhere may concern. */
  targets: () => Iterable<string>;
  logger: Logger;
  observer?: ControllerObserver;
  resyncMs?: number;
  workers?: number;
  /** Resync and retry timers run on it. */
  clock?: Clock;
  /**
   * How long reconciles should wait now (AdmissionBurst.quietIn: until a
   * burst of reviews is over), at most RECONCILE_HELD_AT_MOST_MS each.
   */
  holdBack?: () => number;
}

export interface Controller {
  listeners: CacheListeners;
  startLeading(): void;
  stopLeading(): void;
  isLeading(): boolean;
  /** Stops taking work and waits for the reconcile in progress. */
  shutdown(): Promise<void>;
}

/** A target whose reconcile took at least this long waits as long again before the next. */
const RECONCILE_PACED_AFTER_MS = 50;
/** How long a target is held back at most while admission is busy. */
export const RECONCILE_HELD_AT_MOST_MS = 30_000;

export function createController(options: ControllerOptions): Controller {
  const { logger, deps } = options;
  const observer = options.observer;
  const clock = options.clock ?? realClock;
  const queue = new WorkQueue({
    onDepthChange: (depth) => observer?.queueDepth(depth),
    metrics: observer?.queue,
    clock,
    // A reconcile merges every config of its target: at a thousand configs
    // it takes hundreds of ms, and a burst of creates would have it run back
    // to back, most of the process's CPU (and the event loop the webhook
    // answers on) for as long as the burst lasts. Resting as long as it took
    // keeps it to half the time; small targets are never held back.
    paceAfterMs: RECONCILE_PACED_AFTER_MS,
    // While a burst of reviews lasts, a merge per batch of newcomers is
    // CPU taken from the reviews (and the API server on the same cores),
    // and its status writes and events are requests the API server serves
    // between the burst's own: one merge after the burst does the work of
    // all of them. Bounded, so that reviews that never stop cannot keep a
    // config from Active.
    holdBack: options.holdBack,
    maxHoldMs: RECONCILE_HELD_AT_MOST_MS,
  });
  const workers = options.workers ?? 2;
  let active = 0;
  observer?.workers?.(active, workers);
  let leading = false;
  let resync: Timer | undefined;
  // Settle clocks outlive one reconcile (README "When the middleware sees it").
  const settling: NonNullable<ReconcilerDeps['settling']> = new Map();
  const resyncMs = options.resyncMs ?? 5 * 60_000;
  // Level-triggered safety net: whatever an event missed, a resync finds.
  const scheduleResync = () => {
    resync = clock.setTimeout(() => {
      enqueueAll();
      scheduleResync();
    }, resyncMs);
  };

  const targetOfConfig = (config: TopologyConfig): string => targetOf(config, deps.policy());
  const enqueue = (target: string) => {
    if (leading) queue.add(target);
  };
  const enqueueAll = () => {
    if (!leading) return;
    for (const target of options.targets()) enqueue(target);
  };
  // Every config event enqueues every target; a burst of N events (a list
  // after a restart or a 410) would enqueue them N times. Once per turn of
  // the event loop serves the whole burst. The targets come from the index:
  // finding them in every config was 7% of the CPU of a 1,000-config apply
  // at 10,000 configs, most of it during the apply's reviews.
  let enqueueAllScheduled = false;
  const enqueueAllSoon = () => {
    if (enqueueAllScheduled || !leading) return;
    enqueueAllScheduled = true;
    setImmediate(() => {
      enqueueAllScheduled = false;
      enqueueAll();
    });
  };

  const running = queue.run(async (target) => {
    if (!leading) return 'done';
    observer?.workers?.(++active, workers);
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const result = await reconcileTarget(target, {
        ...deps,
        allConfigs: options.allConfigs,
        mayWrite: () => leading && (options.mayWrite?.() ?? true),
        settling,
        requeueAfter: (key, ms) => queue.addAfter(key, ms),
        // Settle times run on the clock that requeues them.
        now: deps.now ?? (() => clock.now()),
      });
      observer?.reconciled(result === 'done' ? 'success' : 'conflict', seconds());
      return result;
    } catch (error) {
      observer?.reconciled('error', seconds());
      logger.warn(
        { target, err: describe(error), retryInMs: queue.backoffFor(target) },
        'reconcile failed; will retry',
      );
      return 'retry';
    } finally {
      observer?.workers?.(--active, workers);
    }
  }, workers);

  return {
    listeners: {
      configChanged: (config) => {
        // Its own target (which may have no config left after a delete) and
        // every other: a backend name is unique cluster-wide, so a change
        // here can decide a conflict in another target, and a loser there
        // must be retried when this one goes.
        enqueue(targetOfConfig(config));
        enqueueAllSoon();
      },
      keySecretChanged: (ref: NamespacedName) => {
        const name = formatNamespacedName(ref);
        for (const config of options.allConfigs()) {
          if (config.spec?.endpointDecryptSecret === name) enqueue(targetOfConfig(config));
        }
      },
      managedSecretChanged: (ref) => enqueue(formatNamespacedName(ref)),
      // What may be routed changed: every config is judged again.
      grantsChanged: () => enqueueAllSoon(),
    },
    startLeading() {
      leading = true;
      enqueueAll();
      clock.clearTimeout(resync);
      scheduleResync();
    },
    stopLeading() {
      leading = false;
      clock.clearTimeout(resync);
    },
    isLeading: () => leading,
    async shutdown() {
      leading = false;
      clock.clearTimeout(resync);
      queue.shutdown();
      await running;
    },
  };
}
