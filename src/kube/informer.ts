// A list+watch cache that keeps itself alive. @kubernetes/client-node's
// informer stops for good on a watch error that is not a 410 or a timeout;
// a controller must instead back off and list again, and must be able to
// say whether its cache has synced (for /readyz).
import {
  ListWatch,
  type KubeConfig,
  type KubernetesObject,
  type Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describe } from '../resource/errors.ts';
import { realClock, sleep, type Clock, type Timer } from '../time/clock.ts';
import type { RestClient } from './rest.ts';
import { ExactWatch } from './watch.ts';

export interface InformerHandlers<T> {
  onUpsert(object: T): void;
  onDelete(object: T): void;
}

export interface RunningInformer<T> {
  synced(): boolean;
  list(): ReadonlyArray<T>;
  get(name: string, namespace?: string): T | undefined;
  stop(): Promise<void>;
}

export interface InformerOptions<T> {
  kubeConfig: KubeConfig;
  rest: RestClient;
  path: string;
  labelSelector?: string;
  handlers: InformerHandlers<T>;
  logger: Logger;
  name: string;
  maxBackoffMs?: number;
  /**
   * Cuts an object down, in place, as it enters the cache (the cache holds
   * the object the handlers get). Lists are then read in pages, so that no
   * more than a page of whole objects is held at once.
   */
  slim?: (object: T) => void;
  /** Objects per page of a slimmed list (default LIST_PAGE_SIZE). */
  pageSize?: number;
  /** The back-off of restarts and re-watches runs on it. */
  clock?: Clock;
  /** The watch stream (default: an ExactWatch on `kubeConfig`); unit tests script one. */
  watch?: Watch;
}

/** Objects per page of a list that is slimmed (Secrets: at most 1 MB each). */
export const LIST_PAGE_SIZE = 50;

/** A watch that ended sooner than this after it began counts as failing fast, and is re-opened with back-off. */
const SHORT_WATCH_MS = 1_000;

export async function startInformer<T extends object>(
  options: InformerOptions<T>,
): Promise<RunningInformer<T>> {
  const { logger, name } = options;
  const clock = options.clock ?? realClock;
  let listedOnce = false;
  const query = options.labelSelector
    ? `?labelSelector=${encodeURIComponent(options.labelSelector)}`
    : '';
  // Consecutive failures, for the back-off of restarts.
  let failures = 0;
  // Set by the 'connect' handler below, read by delayFn.
  let watchStartedAt = clock.now();
  let lastWatchMs = Infinity;
  const informer = new ListWatch<KubernetesObject>(
    options.path,
    // Integers beyond 2^53 - 1 (durations) arrive exact, as they do from rest.ts's lists.
    options.watch ?? new ExactWatch(options.kubeConfig),
    async () => {
      const list = await listAll(options, query);
      // A list after the first: the watch could not resume (410 Gone, a restarted API server).
      if (listedOnce) logger.info({ informer: name, objects: list.items.length }, 'listed again');
      listedOnce = true;
      failures = 0;
      return list as { items: KubernetesObject[]; metadata?: { resourceVersion?: string } };
    },
    false,
    options.labelSelector,
    undefined,
    {
      // client-node doubles its re-watch delay (1 s, 2 s, … 30 s) after every
      // watch that ends without having delivered an event, so a quiet
      // resource behind a short server or proxy timeout went unwatched for
      // up to 30 s at a time (changes made then were seen that much later).
      // Like client-go, re-watch at once after a watch that lasted; keep the
      // back-off for watches that end as soon as they start.
      delayFn: async (ms) => {
        if (lastWatchMs < SHORT_WATCH_MS) await sleep(clock, ms);
        watchStartedAt = clock.now();
      },
    },
  );
  let stopped = false;
  let retryTimer: Timer | undefined;

  informer.on('add', (object) => {
    failures = 0;
    options.slim?.(object as T);
    options.handlers.onUpsert(object as T);
  });
  informer.on('update', (object) => {
    failures = 0;
    options.slim?.(object as T);
    options.handlers.onUpsert(object as T);
  });
  informer.on('delete', (object) => {
    failures = 0;
    options.handlers.onDelete(object as T);
  });
  // 'connect' fires when a watch ends without an error (the API server's
  // request timeout, a proxy's idle timeout) and at each start().
  let starting = true;
  // 'connect' also fires at every start() after a failure, before anything
  // has succeeded, so only a watch that ran and ended cleanly, a list that
  // succeeded or an event resets the back-off (resetting it at every
  // start() kept the delay at its first step forever).
  informer.on('connect', () => {
    const now = clock.now();
    lastWatchMs = starting ? Infinity : now - watchStartedAt;
    if (!starting) {
      failures = 0;
      logger.debug(
        { informer: name, watchMs: lastWatchMs },
        'watch ended without an error; watching again',
      );
    }
    starting = false;
    watchStartedAt = now;
  });
  informer.on('error', (error: unknown) => {
    if (stopped) return;
    failures++;
    const delay = Math.min(200 * 2 ** Math.min(failures, 10), options.maxBackoffMs ?? 30_000);
    logger.warn(
      { informer: name, attempt: failures, retryInMs: delay, err: describe(error) },
      'watch failed; listing again',
    );
    retryTimer = clock.setTimeout(() => {
      starting = true;
      informer
        .start()
        .catch((startError: unknown) =>
          logger.warn({ informer: name, err: describe(startError) }, 'restart failed'),
        );
    }, delay);
  });

  // start() resolves even when its list failed (the error handler above
  // retries), so the cache is trusted only once a list has succeeded.
  await informer.start();
  while (!listedOnce && !stopped) await sleep(clock, 50);
  logger.info({ informer: name, objects: informer.list().length }, 'cache synced');

  return {
    synced: () => listedOnce,
    list: () => informer.list() as unknown as ReadonlyArray<T>,
    get: (objectName, namespace) => informer.get(objectName, namespace) as T | undefined,
    stop: async () => {
      stopped = true;
      clock.clearTimeout(retryTimer);
      await informer.stop();
    },
  };
}

type List<T> = { items: T[]; metadata?: { resourceVersion?: string; continue?: string } };

/** The whole list; with `slim`, read in pages and each page slimmed before the next is read. */
async function listAll<T>(options: InformerOptions<T>, query: string): Promise<List<T>> {
  if (!options.slim) return options.rest.get<List<T>>(options.path + query);
  const items: T[] = [];
  let token: string | undefined;
  let page: List<T>;
  do {
    const params = new URLSearchParams(query.replace(/^\?/, ''));
    params.set('limit', String(options.pageSize ?? LIST_PAGE_SIZE));
    if (token) params.set('continue', token);
    page = await options.rest.get<List<T>>(`${options.path}?${params.toString()}`);
    for (const item of page.items) {
      options.slim(item);
      items.push(item);
    }
    token = page.metadata?.continue || undefined;
  } while (token);
  // Every page of a paginated list is served from one snapshot: its resourceVersion.
  return { items, metadata: { resourceVersion: page.metadata?.resourceVersion } };
}
