import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { ReadinessCheck } from '../../../src/server/probes.ts';
import { readinessReport, startProbeServer } from '../../../src/server/probes.ts';
import type { ProbeServer } from '../../../src/server/probes.ts';

const silent = pino({ level: 'silent' });

describe('readinessReport', () => {
  const cases: {
    name: string;
    checks: ReadinessCheck[];
    verbose: boolean;
    status: number;
    body: string;
  }[] = [
    { name: 'no checks', checks: [], verbose: false, status: 200, body: 'ok\n' },
    {
      name: 'all pass',
      checks: [
        { name: 'informers-synced', ready: () => true },
        { name: 'tls-loaded', ready: () => true },
      ],
      verbose: false,
      status: 200,
      body: 'ok\n',
    },
    {
      name: 'all pass, verbose',
      checks: [
        { name: 'informers-synced', ready: () => true },
        { name: 'tls-loaded', ready: () => true },
      ],
      verbose: true,
      status: 200,
      body: '[+]informers-synced ok\n[+]tls-loaded ok\nreadyz check passed\n',
    },
    {
      name: 'one fails with a reason, one with false, one throws',
      checks: [
        { name: 'informers-synced', ready: () => 'topologyconfigs not synced' },
        { name: 'tls-loaded', ready: () => true },
        { name: 'leader-reported', ready: () => false },
        {
          name: 'boom',
          ready: () => {
            throw new Error('check exploded');
          },
        },
      ],
      verbose: false,
      status: 503,
      body:
        '[-]informers-synced failed: topologyconfigs not synced\n' +
        '[+]tls-loaded ok\n' +
        '[-]leader-reported failed: not ready\n' +
        '[-]boom failed: check exploded\n' +
        'readyz check failed\n',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(readinessReport(c.checks, c.verbose), { status: c.status, body: c.body });
    });
  }
});

describe('probe server', () => {
  let synced = false;
  let server: ProbeServer;
  let base: string;
  before(async () => {
    server = await startProbeServer({
      address: { host: '127.0.0.1', port: 0 },
      checks: [
        { name: 'informers-synced', ready: () => synced || 'caches not synced' },
        { name: 'tls-loaded', ready: () => true },
      ],
      logger: silent,
    });
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server.close());

  test('/healthz and /livez answer 200 ok', async () => {
    for (const path of ['/healthz', '/livez']) {
      const res = await fetch(base + path);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok\n');
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    }
  });

  test('/readyz follows the checks', async () => {
    synced = false;
    let res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(
      await res.text(),
      '[-]informers-synced failed: caches not synced\n[+]tls-loaded ok\nreadyz check failed\n',
    );
    synced = true;
    res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok\n');
    res = await fetch(`${base}/readyz?verbose`);
    assert.equal(res.status, 200);
    assert.equal(
      await res.text(),
      '[+]informers-synced ok\n[+]tls-loaded ok\nreadyz check passed\n',
    );
  });

  test('HEAD works, other methods and paths do not', async () => {
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await fetch(`${base}/healthz`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.text();
    const missing = await fetch(`${base}/metrics`);
    assert.equal(missing.status, 404);
    await missing.text();
  });
});

test('startProbeServer rejects when the port is taken', async () => {
  const first = await startProbeServer({
    address: { host: '127.0.0.1', port: 0 },
    checks: [],
    logger: silent,
  });
  try {
    await assert.rejects(
      startProbeServer({
        address: { host: '127.0.0.1', port: first.address().port },
        checks: [],
        logger: silent,
      }),
      { code: 'EADDRINUSE' },
    );
  } finally {
    await first.close();
  }
});
