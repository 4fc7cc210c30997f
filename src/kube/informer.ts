// A list+watch cache that keeps itself alive: it lists, watches from the
// list's resourceVersion, and on every way a watch can end does what a
// controller must: a watch that ended cleanly (the API server's request
// timeout, a proxy's idle timeout) is re-opened at once from where it was,
// one that ends as soon as it began after a delay; 410 Gone lists again and
// drops what vanished meanwhile; any other failure backs off and retries.
// It says whether its cache has synced (for /readyz).
import type { Logger } from 'pino';
import { isRecord } from '../resource/json.ts';
import { describe } from '../resource/errors.ts';
import { realClock, type Clock, type Timer } from '../time/clock.ts';
import type { Connection } from './connection.ts';
import type { RestClient } from './rest.ts';
import { ExactWatch, type WatchStream } from './watch.ts';

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
  connection: Connection;
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
  /** The watch stream (default: an ExactWatch on `connection`); unit tests script one. */
  watch?: WatchStream;
}

/** Objects per page of a list that is slimmed (Secrets: at most 1 MB each). */
export const LIST_PAGE_SIZE = 50;

/** A watch that ended sooner than this after it began counts as failing fast, and is re-opened with back-off. */
const SHORT_WATCH_MS = 1_000;
/** The delays before re-opening watches that keep ending as soon as they begin: 1 s, 2 s, … this. */
const MAX_REWATCH_DELAY_MS = 30_000;

interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

const keyOf = (object: Meta) =>
  `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

export async function startInformer<T extends object>(
  options: InformerOptions<T>,
): Promise<RunningInformer<T>> {
  const { logger, name, handlers } = options;
  const clock = options.clock ?? realClock;
  const stream = options.watch ?? new ExactWatch(options.connection);
  const query = options.labelSelector
    ? `?labelSelector=${encodeURIComponent(options.labelSelector)}`
    : '';
  const objects = new Map<string, T>();
  // Where the next watch resumes; empty: list first.
  let resourceVersion = '';
  let listedOnce = false;
  let stopped = false;
  // Consecutive failures, for the back-off of restarts.
  let failures = 0;
  // Consecutive watches that ended cleanly as soon as they began.
  let shortEnds = 0;
  let watchStartedAt = clock.now();
  let current: AbortController | undefined;
  // Each watch's done() is heeded only while it is the watch in progress.
  let watchId = 0;
  let timer: Timer | undefined;
  let markSynced!: () => void;
  const firstSync = new Promise<void>((resolve) => (markSynced = resolve));

  /** Whether the cache holds this object at this version already (a relist need not keep it). */
  const cached = (object: T): boolean => {
    const version = (object as Meta).metadata?.resourceVersion;
    const known = objects.get(keyOf(object as Meta)) as Meta | undefined;
    return (
      known !== undefined && version !== undefined && known.metadata?.resourceVersion === version
    );
  };

  const upsert = (object: T) => {
    const key = keyOf(object as Meta);
    const known = objects.get(key) as Meta | undefined;
    const version = (object as Meta).metadata?.resourceVersion;
    // The same version again (a relist of what the watch delivered) is no change.
    if (known && version !== undefined && known.metadata?.resourceVersion === version) return;
    objects.set(key, object);
    handlers.onUpsert(object);
  };

  const later = (ms: number, next: () => Promise<void>) => {
    if (stopped) return;
    if (ms <= 0) return void next();
    timer = clock.setTimeout(() => void next(), ms);
  };

  const fail = (error: unknown) => {
    if (stopped) return;
    failures++;
    const delay = Math.min(200 * 2 ** Math.min(failures, 10), options.maxBackoffMs ?? 30_000);
    logger.warn(
      { informer: name, attempt: failures, retryInMs: delay, err: describe(error) },
      'watch failed; listing again',
    );
    // After a failure the first watch opens without a delay, as at start.
    shortEnds = 0;
    later(delay, cycle);
  };

  const onEvent = (id: number) => (type: string, object: unknown) => {
    if (id !== watchId || stopped || !isRecord(object)) return;
    if (type === 'ERROR') {
      // 410 Gone as an event: the stream ends next, and the list starts over.
      if (object.code === 410) resourceVersion = '';
      return;
    }
    failures = 0;
    shortEnds = 0;
    const typed = object as T & Meta;
    if (type === 'ADDED' || type === 'MODIFIED') {
      options.slim?.(typed);
      upsert(typed);
    } else if (type === 'DELETED') {
      const key = keyOf(typed);
      if (objects.delete(key)) handlers.onDelete(typed);
    }
    // BOOKMARK: only its resourceVersion matters.
    const version = typed.metadata?.resourceVersion;
    if (version) resourceVersion = version;
  };

  const onDone = (id: number) => (error: unknown) => {
    if (id !== watchId || stopped) return;
    current = undefined;
    const status = isRecord(error) ? (error.statusCode ?? error.code) : undefined;
    if (error && status !== 410 && !(error instanceof Error && error.name === 'TimeoutError')) {
      fail(error);
      return;
    }
    // Ended without a failure: its end (the server's timeout, ours for a
    // silent stream), or 410 Gone (listed again at once).
    if (status === 410) resourceVersion = '';
    const watchMs = clock.now() - watchStartedAt;
    failures = 0;
    logger.debug({ informer: name, watchMs }, 'watch ended without an error; watching again');
    let delay = 0;
    if (watchMs < SHORT_WATCH_MS && !error) {
      // The first that ends at once is re-opened at once; the next ones after 1 s, 2 s, … 30 s.
      delay = shortEnds === 0 ? 0 : Math.min(1000 * 2 ** (shortEnds - 1), MAX_REWATCH_DELAY_MS);
      shortEnds++;
    } else {
      shortEnds = 0;
    }
    later(delay, cycle);
  };

  async function cycle(): Promise<void> {
    if (stopped) return;
    if (!resourceVersion) {
      let list: Listed<T>;
      try {
        list = await listAll(options, query, cached);
      } catch (error) {
        fail(error);
        return;
      }
      if (stopped) return;
      // A list after the first: the watch could not resume (410 Gone, a restarted API server).
      if (listedOnce) logger.info({ informer: name, objects: list.items.length }, 'listed again');
      failures = 0;
      replace(list);
      resourceVersion = list.metadata?.resourceVersion ?? '';
      if (!listedOnce) {
        listedOnce = true;
        markSynced();
      }
    }
    const id = ++watchId;
    watchStartedAt = clock.now();
    try {
      const controller = await stream.watch(
        options.path,
        {
          resourceVersion,
          allowWatchBookmarks: 'true',
          ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
        },
        onEvent(id),
        onDone(id),
      );
      if (stopped || id !== watchId) controller.abort();
      else current = controller;
    } catch (error) {
      if (id === watchId) fail(error);
    }
  }

  /** The cache becomes the list: what is gone is deleted first, then what is new or changed upserted. */
  function replace({ items, cachedKeys }: Listed<T>): void {
    const listed = new Set([...cachedKeys, ...items.map((item) => keyOf(item as Meta))]);
    for (const [key, object] of objects) {
      if (listed.has(key)) continue;
      objects.delete(key);
      handlers.onDelete(object);
    }
    for (const item of items) upsert(item);
  }

  void cycle();
  await firstSync;
  logger.info({ informer: name, objects: objects.size }, 'cache synced');

  return {
    synced: () => listedOnce,
    list: () => [...objects.values()],
    get: (objectName, namespace) => objects.get(`${namespace ?? ''}/${objectName}`),
    stop: async () => {
      stopped = true;
      watchId++;
      clock.clearTimeout(timer);
      current?.abort();
      current = undefined;
    },
  };
}

type List<T> = { items: T[]; metadata?: { resourceVersion?: string; continue?: string } };

/** The whole list; with `slim`, read in pages and each page slimmed before the next is read. */
/** A list's objects, but those the cache holds at the same version already: only their keys. */
interface Listed<T> extends List<T> {
  cachedKeys: string[];
}

// A relist of a large cache (10,000 configs) held every listed object until
// the last page had come, beside the cached ones of the same version that
// it then dropped: the objects the cache holds already are not kept.
async function listAll<T>(
  options: InformerOptions<T>,
  query: string,
  cached: (item: T) => boolean,
): Promise<Listed<T>> {
  const cachedKeys: string[] = [];
  if (!options.slim)
    return { ...(await options.rest.get<List<T>>(options.path + query)), cachedKeys };
  const items: T[] = [];
  let token: string | undefined;
  let page: List<T>;
  do {
    const params = new URLSearchParams(query.replace(/^\?/, ''));
    params.set('limit', String(options.pageSize ?? LIST_PAGE_SIZE));
    if (token) params.set('continue', token);
    page = await options.rest.get<List<T>>(`${options.path}?${params.toString()}`);
    for (const item of page.items) {
      if (cached(item)) {
        cachedKeys.push(keyOf(item as Meta));
        continue;
      }
      options.slim(item);
      items.push(item);
    }
    token = page.metadata?.continue || undefined;
  } while (token);
  // Every page of a paginated list is served from one snapshot: its resourceVersion.
  return { items, cachedKeys, metadata: { resourceVersion: page.metadata?.resourceVersion } };
}
