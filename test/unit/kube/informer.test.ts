import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { Connection } from '../../../src/kube/connection.ts';
import { startInformer } from '../../../src/kube/informer.ts';
import type { RestClient } from '../../../src/kube/rest.ts';
import type { WatchStream } from '../../../src/kube/watch.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import type { Clock } from '../../../src/time/clock.ts';
import { fakeClock, type FakeClock } from '../fake-clock.ts';

interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}
const obj = (name: string, resourceVersion = '1'): Obj => ({
  metadata: { name, namespace: 'ns', resourceVersion },
});
type List = { items: Obj[]; metadata: { resourceVersion: string } };

/** Watches the test opens and ends by hand, as the API server would, each stamped with when it began. */
class ScriptedWatch implements WatchStream {
  readonly opened: Array<{
    at: number;
    resourceVersion: string;
    send: (phase: string, object: Obj) => void;
    end: (error: unknown) => void;
  }> = [];
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  watch(
    _path: string,
    query: Record<string, string | undefined>,
    callback: (phase: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController> {
    this.opened.push({
      at: this.#clock.elapsed(),
      resourceVersion: String(query.resourceVersion),
      send: (phase, object) => callback(phase, object),
      end: done,
    });
    return Promise.resolve(new AbortController());
  }
}

/** Answers each list with the next of `answers` (an Error is thrown), stamping when it was asked. */
function scriptedLists(clock: Clock, answers: Array<List | Error>) {
  const at: number[] = [];
  const rest = {
    get: async () => {
      at.push(clock.elapsed());
      const answer = answers.shift();
      if (!answer) throw new Error('no more lists scripted');
      if (answer instanceof Error) throw answer;
      return structuredClone(answer);
    },
  } as unknown as RestClient;
  return { rest, at };
}

/** The scripted watch and lists stand in for it: nothing may connect. */
const unused: Connection = {
  server: new URL('https://127.0.0.1:1'),
  origin: 'unit test',
  prepare: () => Promise.reject(new Error('the test scripts every request')),
};

function start(
  clock: FakeClock,
  rest: RestClient,
  watch: WatchStream,
  maxBackoffMs?: number,
  slim?: (o: Obj) => void,
) {
  const seen: string[] = [];
  const informer = startInformer<Obj>({
    ...(slim ? { slim } : {}),
    connection: unused,
    rest,
    path: '/api/v1/namespaces/ns/things',
    handlers: {
      onUpsert: (o) => seen.push(`upsert ${o.metadata.name}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    },
    logger: pino({ level: 'silent' }),
    name: 'things',
    maxBackoffMs,
    clock,
    watch,
  });
  return { informer, seen };
}

const unavailable = () => new ApiError(503, 'ServiceUnavailable', 'etcd is down');

describe('informer: back-off on fake time', () => {
  test('a failing list is retried with doubling delays up to the cap; the cache syncs only once a list succeeds', async () => {
    const clock = fakeClock();
    const watch = new ScriptedWatch(clock);
    const lists = scriptedLists(clock, [
      unavailable(),
      unavailable(),
      unavailable(),
      unavailable(),
      { items: [obj('a')], metadata: { resourceVersion: '5' } },
    ]);
    let synced = false;
    const started = start(clock, lists.rest, watch, 1000);
    void started.informer.then(() => (synced = true));
    await clock.advance(2500);
    assert.deepEqual(lists.at, [0, 400, 1200, 2200], '400 ms, 800 ms, then the 1 s cap');
    assert.equal(synced, false, 'not synced while every list fails');
    assert.equal(watch.opened.length, 0, 'no watch without a list');
    await clock.advance(1000);
    assert.deepEqual(lists.at, [0, 400, 1200, 2200, 3200]);
    const informer = await started.informer;
    assert.equal(informer.synced(), true);
    assert.deepEqual(started.seen, ['upsert a']);
    assert.deepEqual(
      watch.opened.map((w) => [w.at, w.resourceVersion]),
      [[3200, '5']],
      'watches from the list',
    );
    await informer.stop();
  });

  test('a watch that ends as soon as it began is re-opened after a delay; one that lasted, at once', async () => {
    const clock = fakeClock();
    const watch = new ScriptedWatch(clock);
    const lists = scriptedLists(clock, [{ items: [], metadata: { resourceVersion: '5' } }]);
    const started = start(clock, lists.rest, watch);
    await clock.advance(0);
    const informer = await started.informer;
    // The first watch that ends at once is re-opened at once, the next after 1 s.
    await clock.advance(100);
    watch.opened[0]!.end(null);
    await clock.advance(100);
    watch.opened[1]!.end(null);
    await clock.advance(999);
    assert.equal(watch.opened.length, 2, 'a watch that lasted 100 ms: not re-opened within 1 s');
    await clock.advance(1);
    assert.equal(watch.opened.length, 3);
    await clock.advance(5000);
    watch.opened[2]!.end(null);
    await clock.advance(0);
    assert.deepEqual(
      watch.opened.map((w) => [w.at, w.resourceVersion]),
      [
        [0, '5'],
        [100, '5'],
        [1200, '5'],
        [6200, '5'],
      ],
      'a watch that lasted 5 s: re-opened at once, from where it was',
    );
    assert.deepEqual(lists.at, [0], 'no list while the watches resume');
    await informer.stop();
  });
});

describe('informer: relisting when the watch expired', () => {
  test('410 Gone: lists again, drops what vanished meanwhile, and watches from the new list', async () => {
    const clock = fakeClock();
    const watch = new ScriptedWatch(clock);
    const lists = scriptedLists(clock, [
      { items: [obj('a'), obj('b')], metadata: { resourceVersion: '10' } },
      { items: [obj('a', '15'), obj('c', '11')], metadata: { resourceVersion: '20' } },
    ]);
    const started = start(clock, lists.rest, watch);
    await clock.advance(0);
    const informer = await started.informer;
    watch.opened[0]!.send('ADDED', obj('c', '11'));
    await clock.advance(5000);
    watch.opened[0]!.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await clock.advance(0);
    assert.deepEqual(lists.at, [0, 5000], 'listed again at once');
    assert.deepEqual(
      watch.opened.map((w) => w.resourceVersion),
      ['10', '20'],
    );
    assert.deepEqual(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      ['a', 'c'],
    );
    assert.deepEqual(
      started.seen,
      ['upsert a', 'upsert b', 'upsert c', 'delete b', 'upsert a'],
      'b deleted, a changed meanwhile, c as the watch had it',
    );
    assert.equal(informer.get('a', 'ns')?.metadata.resourceVersion, '15');
    await informer.stop();
  });

  test('a slimmed relist keeps only what changed: an object cached at the listed version stays the cached one', async () => {
    const clock = fakeClock();
    const watch = new ScriptedWatch(clock);
    const lists = scriptedLists(clock, [
      { items: [obj('a'), obj('b')], metadata: { resourceVersion: '10' } },
      { items: [obj('a'), obj('c', '11')], metadata: { resourceVersion: '20' } },
    ]);
    const slimmed: string[] = [];
    const started = start(clock, lists.rest, watch, undefined, (o) =>
      slimmed.push(o.metadata.name),
    );
    await clock.advance(0);
    const informer = await started.informer;
    const first = informer.get('a', 'ns');
    watch.opened[0]!.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await clock.advance(0);
    assert.deepEqual(lists.at, [0, 0], 'listed again at once');
    assert.deepEqual(slimmed, ['a', 'b', 'c'], 'the unchanged a is not taken from the list again');
    assert.equal(informer.get('a', 'ns'), first, 'the cached a stays');
    assert.deepEqual(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      ['a', 'c'],
    );
    assert.deepEqual(started.seen, ['upsert a', 'upsert b', 'delete b', 'upsert c']);
    await informer.stop();
  });

  test('a watch that fails otherwise is retried after the back-off, not at once', async () => {
    const clock = fakeClock();
    const watch = new ScriptedWatch(clock);
    const lists = scriptedLists(clock, [
      { items: [obj('a')], metadata: { resourceVersion: '10' } },
    ]);
    const started = start(clock, lists.rest, watch);
    await clock.advance(0);
    const informer = await started.informer;
    await clock.advance(5000);
    watch.opened[0]!.end(Object.assign(new Error('Internal'), { statusCode: 500 }));
    await clock.advance(399);
    assert.equal(watch.opened.length, 1, 'not within 400 ms');
    await clock.advance(1);
    assert.deepEqual(
      watch.opened.map((w) => [w.at, w.resourceVersion]),
      [
        [0, '10'],
        [5400, '10'],
      ],
    );
    await informer.stop();
  });
});
