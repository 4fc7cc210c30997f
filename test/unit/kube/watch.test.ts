// The watch stream against a local HTTPS server standing in for the API
// server: what the informer relies on (see src/kube/watch.ts).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { ExactWatch } from '../../../src/kube/watch.ts';
import { listenLocal, type LocalServer } from './local-https.ts';

/** A watch on a server whose answer `respond` writes; what it delivered and how it ended. */
async function watchOnce(respond: (res: ServerResponse, url: string) => void, idleMs = 30_000) {
  const urls: string[] = [];
  const server: LocalServer = await listenLocal((req, res) => {
    urls.push(`${req.url} ${req.headers.authorization}`);
    respond(res, req.url ?? '');
  });
  const watch = new ExactWatch(server.connection('test', 'watch-token'), idleMs);
  const events: Array<[string, unknown]> = [];
  let calls = 0;
  try {
    const ended = await new Promise<unknown>((resolve) => {
      void watch.watch(
        '/api/v1/things',
        { resourceVersion: '7', labelSelector: 'a=b', absent: undefined },
        (type, object) => events.push([type, object]),
        (error) => {
          calls++;
          resolve(error);
        },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { events, ended, calls, urls };
  } finally {
    await server.close();
  }
}

test('events split across chunks arrive whole, integers beyond 2^53 exact; a line that is not JSON is skipped; the end is null', async () => {
  const { events, ended, calls, urls } = await watchOnce((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MODI');
    setTimeout(() => {
      res.write('FIED","object":{"spec":{"d":9223372036854775807}}}\nnot json\n');
      res.end('{"type":"DELETED","object":{"metadata":{"name":"a"}}}');
    }, 20);
  });
  assert.deepEqual(urls, [
    '/api/v1/things?watch=true&resourceVersion=7&labelSelector=a%3Db Bearer watch-token',
  ]);
  assert.deepEqual(
    events.map(([type]) => type),
    ['ADDED', 'MODIFIED', 'DELETED'],
  );
  const spec = (events[1]![1] as { spec: { d: unknown } }).spec;
  assert.equal(String(spec.d), '9223372036854775807');
  assert.equal(ended, null);
  assert.equal(calls, 1, 'done is called once');
});

test('an answer other than 200 ends it with its statusCode', async () => {
  const { ended, events } = await watchOnce((res) => {
    res.writeHead(410, { 'content-type': 'application/json' });
    res.end('{"kind":"Status","code":410}');
  });
  assert.equal((ended as { statusCode?: number }).statusCode, 410);
  assert.deepEqual(events, []);
});

test('silence beyond the idle time ends it with a TimeoutError', async () => {
  const { ended, calls } = await watchOnce((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('');
  }, 200);
  assert.equal((ended as Error).name, 'TimeoutError');
  assert.equal(calls, 1);
});

test('a connection reset mid-stream ends it with an error', async () => {
  const { ended } = await watchOnce((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"type":"ADDED","object":{}}\n');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  assert.ok(ended instanceof Error, String(ended));
});
