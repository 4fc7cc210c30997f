import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Connection } from '../../../src/kube/connection.ts';
import {
  createRestClient,
  fenced,
  NotLeaderError,
  type RestClient,
} from '../../../src/kube/rest.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import { listenLocal, type LocalServer } from './local-https.ts';

// An API server that answers at once but never finishes: a byte every 20 ms,
// so that a socket is never idle long enough for an idle timeout.
describe('REST client: what the timeout bounds', () => {
  const open = new Set<NodeJS.Timeout>();
  let server: LocalServer;
  let connection: Connection;

  before(async () => {
    server = await listenLocal((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"items": [');
      const drip = setInterval(() => res.write(' '), 20);
      open.add(drip);
      res.once('close', () => {
        clearInterval(drip);
        open.delete(drip);
      });
    });
    connection = server.connection('rest-test');
  });
  after(async () => {
    for (const drip of open) clearInterval(drip);
    await server.close();
  });

  /** What a call came to within `ms`: an error, 'answered', or 'still waiting'. */
  const within = (call: Promise<unknown>, ms: number) =>
    Promise.race([
      call.then(
        () => 'answered',
        (error: unknown) => error,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), ms)),
    ]);

  for (const [call, run] of [
    ['a write', (rest: ReturnType<typeof createRestClient>) => rest.replace('/api/v1/x', {})],
    ['a read', (rest: ReturnType<typeof createRestClient>) => rest.get('/api/v1/x')],
  ] as const) {
    test(`bounding the call: ${call} whose answer trickles on fails at the timeout`, async () => {
      const rest = createRestClient(connection, 300, 'call');
      const began = performance.now();
      const outcome = await within(run(rest), 3000);
      const took = performance.now() - began;
      assert.ok(outcome instanceof ApiError, String(outcome));
      assert.equal(outcome.status, 504);
      assert.ok(took >= 290 && took < 2500, `failed after ${Math.round(took)} ms`);
    });
  }

  test('bounding silence (the default): a long answer that keeps coming is not cut', async () => {
    const rest = createRestClient(connection, 300);
    assert.equal(await within(rest.get('/api/v1/x'), 1000), 'still waiting');
  });
});

describe('REST client: what every request says', () => {
  test('the user agent on every request; the field manager on every write', async () => {
    const seen: string[] = [];
    const server = await listenLocal((req, res) => {
      req.resume();
      seen.push(
        `${req.method} ${req.url} ${req.headers['user-agent']} ${req.headers.authorization}`,
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    try {
      const rest = createRestClient(
        server.connection('topology-webhook/9.9.9 (server)'),
        5000,
        'idle',
        'topology-webhook',
      );
      await rest.get('/api/v1/things');
      await rest.create('/api/v1/things', {});
      await rest.replace('/api/v1/things/a', {});
      await rest.patch('/api/v1/things/a?dryRun=All', 'merge', {});
      await rest.delete('/api/v1/things/a');
      const agent = 'topology-webhook/9.9.9 (server) Bearer not-a-secret';
      assert.deepEqual(seen, [
        `GET /api/v1/things ${agent}`,
        `POST /api/v1/things?fieldManager=topology-webhook ${agent}`,
        `PUT /api/v1/things/a?fieldManager=topology-webhook ${agent}`,
        `PATCH /api/v1/things/a?dryRun=All&fieldManager=topology-webhook ${agent}`,
        `DELETE /api/v1/things/a ${agent}`,
      ]);
    } finally {
      await server.close();
    }
  });
});

// A call on a fresh TLS connection costs a handshake on both sides; at a
// burst of status writes and events that was most of the product's CPU
// (client-node's applyToHTTPSOptions once put a new agent on every call).
describe('REST client: connections are kept', () => {
  test('calls one after another share one TLS connection', async () => {
    const server = await listenLocal((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    let handshakes = 0;
    server.server.on('secureConnection', () => handshakes++);
    try {
      const rest = createRestClient(server.connection());
      await rest.get('/api/v1/namespaces/a/configmaps');
      await rest.patch('/api/v1/namespaces/a/configmaps/b', 'merge', { data: {} });
      await rest.create('/api/v1/namespaces/a/events', {});
      await rest.replace('/api/v1/namespaces/a/secrets/c', {});
      assert.equal(handshakes, 1);
    } finally {
      await server.close();
    }
  });
});

// The agent keeps a kept-alive socket's first request, and so its listeners,
// for the socket's life: they held that call's whole answer (a list page of
// 500 configs, a Secret of every entry), one per socket.
describe('REST client: a kept connection holds nothing of the calls made on it', () => {
  test('an answer (and the body sent) can be collected while the socket it came on stays open', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const server = await listenLocal((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ items: Array.from({ length: 2000 }, (_, i) => ({ i })) }));
      });
    });
    let sockets = 0;
    server.server.on('secureConnection', () => sockets++);
    try {
      const rest = createRestClient(server.connection());
      const registry = new FinalizationRegistry<string>((what) => collected.add(what));
      const collected = new Set<string>();
      await (async () => {
        const answer = await rest.get<{ items: unknown[] }>('/api/v1/namespaces/a/configmaps');
        assert.equal(answer.items.length, 2000);
        registry.register(answer, 'the answer');
        const body = { data: { big: 'x'.repeat(100_000) } };
        registry.register(body, 'the body sent');
        await rest.replace('/api/v1/namespaces/a/configmaps/b', body);
      })();
      for (let i = 0; i < 20 && collected.size < 2; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        gc();
      }
      assert.deepEqual([...collected].sort(), ['the answer', 'the body sent']);
      // Still one open connection: it was kept, and kept nothing.
      await rest.get('/api/v1/namespaces/a/configmaps');
      assert.equal(sockets, 1);
    } finally {
      await server.close();
    }
  });
});

describe('fenced: writes only while allowed, and says when those sent have ended', () => {
  // A client whose writes end when the test says so.
  const pending: Array<() => void> = [];
  const slow: RestClient = {
    get: async <T>() => ({}) as T,
    create: () => new Promise((resolve) => pending.push(() => resolve(undefined as never))),
    replace: () => new Promise((_, reject) => pending.push(() => reject(new Error('refused')))),
    patch: async <T>() => ({}) as T,
    delete: async <T>() => ({}) as T,
  };

  test('settled waits for every write in flight, answered or failed; none is sent once fenced', async () => {
    let allowed = true;
    const rest = fenced(slow, () => allowed);
    const created = rest.create('/a', {});
    const replaced = rest.replace('/b', {}).catch((error: Error) => error.message);
    allowed = false;
    await assert.rejects(rest.patch('/c', 'merge', {}), NotLeaderError);
    let settled = false;
    const done = rest.settled().then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'two writes in flight');
    pending.shift()!();
    await created;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'one write in flight');
    pending.shift()!();
    assert.equal(await replaced, 'refused');
    await done;
    assert.equal(settled, true);
    await rest.settled(); // nothing in flight: at once
  });
});
