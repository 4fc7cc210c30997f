import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import pino from 'pino';
import { createCertificateAuthority, issueCertificate } from '../../../src/crypto/certs.ts';
import { createMetrics } from '../../../src/server/metrics.ts';
import { createAuthCache, reviewAuthorizer } from '../../../src/server/metrics-auth.ts';
import type { AuthDecision, ReviewApis } from '../../../src/server/metrics-auth.ts';
import { startMetricsServer, type MetricsServer } from '../../../src/server/metrics-server.ts';
import { parseServingCertificate } from '../../../src/tls/certificate.ts';
import { loopbackTls } from '../../harness/loopback-tls.ts';

describe('createMetrics', () => {
  test('exposes the product metrics with closed label sets, plus process metrics', async () => {
    const m = createMetrics();
    m.observeAdmission({
      operation: 'CREATE',
      webhook: 'validating',
      allowed: true,
      seconds: 0.002,
    });
    m.observeAdmission({
      operation: 'DELETE',
      webhook: 'validating',
      allowed: false,
      seconds: 0.0004,
    });
    // Anything unexpected in the operation is folded into UNKNOWN, never copied into a label.
    m.observeAdmission({
      operation: 'team-a/orders',
      webhook: 'mutating',
      allowed: true,
      seconds: 2,
    });
    m.observeAdmission({ operation: undefined, webhook: 'mutating', allowed: true, seconds: 0.01 });
    m.observeReconcile('success', 0.05);
    m.observeReconcile('conflict', 0.02);
    m.setLeader(true);
    m.setWorkqueueDepth(3);
    m.setConfigCounts({ Active: 4, Error: 1 });
    const text = await m.registry.metrics();
    const expectLines = [
      'topology_admission_requests_total{operation="CREATE",webhook="validating",allowed="true"} 1',
      'topology_admission_requests_total{operation="DELETE",webhook="validating",allowed="false"} 1',
      'topology_admission_requests_total{operation="UNKNOWN",webhook="mutating",allowed="true"} 2',
      'topology_admission_duration_seconds_bucket{le="0.0005",webhook="validating"} 1',
      'topology_admission_duration_seconds_bucket{le="0.0025",webhook="validating"} 2',
      'topology_admission_duration_seconds_bucket{le="1",webhook="mutating"} 1',
      'topology_admission_duration_seconds_bucket{le="+Inf",webhook="mutating"} 2',
      'topology_reconcile_total{result="success"} 1',
      'topology_reconcile_total{result="error"} 0',
      'topology_reconcile_total{result="conflict"} 1',
      'topology_reconcile_duration_seconds_count 2',
      'topology_workqueue_depth 3',
      'topology_leader 1',
      'topology_configs{state="Active"} 4',
      'topology_configs{state="Pending"} 0',
      'topology_configs{state="Error"} 1',
    ];
    const lines = text.split('\n');
    for (const line of expectLines) assert.ok(lines.includes(line), `missing: ${line}`);
    assert.ok(!text.includes('team-a'));
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    m.setLeader(false);
    m.setConfigCounts({});
    const after = (await m.registry.metrics()).split('\n');
    assert.ok(after.includes('topology_leader 0'));
    assert.ok(after.includes('topology_configs{state="Active"} 0'));
  });

  test("controller-runtime's names, labels and buckets, beside the product's own", async () => {
    const certificate = issueCertificate(
      createCertificateAuthority({ commonName: 'ca', validityDays: 3 }),
      {
        commonName: 'webhook',
        dnsNames: ['webhook.test'],
        validityDays: 2,
        usage: 'server',
      },
    );
    const m = createMetrics({
      leaseName: 'topology-webhook.harikube.info',
      servingCertificate: () => certificate.certPem,
      targetSecretSizes: () => ({ largestBytes: 1234, limitBytes: 1_000_000 }),
    });
    const path = '/validate-harikube-info-v1-topologyconfig';
    m.webhookHttp.started(path);
    m.webhookHttp.started(path);
    m.webhookHttp.finished(path, 200, 0.003);
    m.webhookHttp.started('/mutate');
    m.webhookHttp.finished('/mutate', 400, 0.0001);
    m.observeReconcile('success', 0.2);
    m.observeReconcile('error', 1.3);
    m.observeReconcile('conflict', 0.01);
    m.setWorkers(1, 2);
    m.setWorkqueueDepth(4);
    m.workQueue.added();
    m.workQueue.started(0.5);
    m.workQueue.finished(0.02);
    m.workQueue.retried();
    m.setLeader(true);
    const lines = (await m.registry.metrics()).split('\n');
    const notAfter = new X509Certificate(certificate.certPem).validToDate.getTime() / 1000;
    for (const line of [
      `controller_runtime_webhook_requests_total{webhook="${path}",code="200"} 1`,
      'controller_runtime_webhook_requests_total{webhook="/mutate",code="400"} 1',
      `controller_runtime_webhook_requests_in_flight{webhook="${path}"} 1`,
      `controller_runtime_webhook_latency_seconds_bucket{le="0.01",webhook="${path}"} 1`,
      `controller_runtime_webhook_latency_seconds_bucket{le="0.001",webhook="${path}"} 0`,
      'controller_runtime_reconcile_total{controller="topologyconfig",result="success"} 1',
      'controller_runtime_reconcile_total{controller="topologyconfig",result="error"} 1',
      'controller_runtime_reconcile_total{controller="topologyconfig",result="requeue"} 1',
      'controller_runtime_reconcile_total{controller="topologyconfig",result="requeue_after"} 0',
      'controller_runtime_reconcile_errors_total{controller="topologyconfig"} 1',
      'controller_runtime_reconcile_time_seconds_bucket{le="0.15",controller="topologyconfig"} 1',
      'controller_runtime_reconcile_time_seconds_bucket{le="1.5",controller="topologyconfig"} 3',
      'controller_runtime_active_workers{controller="topologyconfig"} 1',
      'controller_runtime_max_concurrent_reconciles{controller="topologyconfig"} 2',
      'workqueue_depth{name="topologyconfig",controller="topologyconfig",priority=""} 4',
      'workqueue_adds_total{name="topologyconfig",controller="topologyconfig"} 1',
      'workqueue_retries_total{name="topologyconfig",controller="topologyconfig"} 1',
      'workqueue_queue_duration_seconds_bucket{le="1",name="topologyconfig",controller="topologyconfig"} 1',
      'workqueue_work_duration_seconds_bucket{le="0.1",name="topologyconfig",controller="topologyconfig"} 1',
      'leader_election_master_status{name="topology-webhook.harikube.info"} 1',
      `topology_webhook_certificate_expiration_timestamp_seconds ${notAfter}`,
      'topology_target_secret_largest_size_bytes 1234',
      'topology_target_secret_size_limit_bytes 1000000',
    ])
      assert.ok(lines.includes(line), `missing: ${line}`);
    // controller-runtime's webhook and work-queue buckets: 10 ns to 1000 s, ×10 apart.
    const les = lines
      .filter(
        (l) =>
          l.startsWith(`controller_runtime_webhook_latency_seconds_bucket{`) && l.includes(path),
      )
      .map((l) => /le="([^"]+)"/.exec(l)![1]);
    assert.deepEqual(les, [
      '1e-8',
      '1e-7',
      '0.000001',
      '0.00001',
      '0.0001',
      '0.001',
      '0.01',
      '0.1',
      '1',
      '10',
      '100',
      '1000',
      '+Inf',
    ]);
    m.setLeader(false);
    assert.ok(
      (await m.registry.metrics()).includes(
        'leader_election_master_status{name="topology-webhook.harikube.info"} 0',
      ),
    );
  });

  test('registries are independent (no global registry)', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.setWorkqueueDepth(7);
    assert.ok((await b.registry.metrics()).split('\n').includes('topology_workqueue_depth 0'));
  });
});

describe('createAuthCache', () => {
  test('caches positive and negative decisions for the TTL, keyed by a SHA-256 of the token', async () => {
    let now = 1_000;
    const calls: string[] = [];
    const cache = createAuthCache(
      async (token) => {
        calls.push(token);
        return token === 'good' ? 'ok' : 'unauthenticated';
      },
      { ttlMs: 10_000, now: () => now },
    );
    assert.equal(await cache.check('good'), 'ok');
    assert.equal(await cache.check('bad'), 'unauthenticated');
    now += 9_999;
    assert.equal(await cache.check('good'), 'ok');
    assert.equal(await cache.check('bad'), 'unauthenticated');
    assert.deepEqual(calls, ['good', 'bad']);
    now += 1;
    assert.equal(await cache.check('good'), 'ok');
    assert.deepEqual(calls, ['good', 'bad', 'good']);
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    assert.deepEqual(cache.keys().sort(), [sha('bad'), sha('good')].sort());
    assert.ok(!cache.keys().some((k) => k.includes('good') || k.includes('bad')));
  });

  test('shares one review among concurrent checks of a token', async () => {
    let calls = 0;
    let release!: (d: AuthDecision) => void;
    const cache = createAuthCache(() => {
      calls++;
      return new Promise((resolve) => (release = resolve));
    });
    const pending = [cache.check('t'), cache.check('t'), cache.check('t')];
    release('forbidden');
    assert.deepEqual(await Promise.all(pending), ['forbidden', 'forbidden', 'forbidden']);
    assert.equal(calls, 1);
  });

  test('does not cache failures', async () => {
    let calls = 0;
    const cache = createAuthCache(async () => {
      calls++;
      if (calls === 1) throw new Error('apiserver down');
      return 'ok';
    });
    await assert.rejects(cache.check('t'), { message: 'apiserver down' });
    assert.equal(await cache.check('t'), 'ok');
    assert.equal(calls, 2);
  });

  test('holds at most maxEntries tokens', async () => {
    const cache = createAuthCache(async () => 'unauthenticated', { maxEntries: 3 });
    for (let i = 0; i < 10; i++) await cache.check(`token-${i}`);
    assert.equal(cache.keys().length, 3);
  });
});

describe('reviewAuthorizer', () => {
  function fakeApis(
    tokens: Record<string, { username: string; groups: string[] }>,
    allowed: string[],
  ) {
    const seen: { tokenReviews: unknown[]; accessReviews: unknown[] } = {
      tokenReviews: [],
      accessReviews: [],
    };
    const apis: ReviewApis = {
      createTokenReview: async (body) => {
        seen.tokenReviews.push(body);
        const user = tokens[body.spec.token ?? ''];
        return { ...body, status: user ? { authenticated: true, user } : { authenticated: false } };
      },
      createSubjectAccessReview: async (body) => {
        seen.accessReviews.push(body);
        return { ...body, status: { allowed: allowed.includes(body.spec.user ?? '') } };
      },
    };
    return { apis, seen };
  }

  test('asks TokenReview who the token is and SubjectAccessReview whether they may get /metrics', async () => {
    const { apis, seen } = fakeApis(
      {
        'prom-token': {
          username: 'system:serviceaccount:monitoring:prometheus',
          groups: ['system:serviceaccounts'],
        },
        'dev-token': { username: 'dev', groups: [] },
      },
      ['system:serviceaccount:monitoring:prometheus'],
    );
    const authorize = reviewAuthorizer(apis);
    assert.equal(await authorize('prom-token'), 'ok');
    assert.equal(await authorize('dev-token'), 'forbidden');
    assert.equal(await authorize('forged'), 'unauthenticated');
    assert.deepEqual(seen.tokenReviews[0], {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: 'prom-token' },
    });
    assert.deepEqual(seen.accessReviews[0], {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: 'system:serviceaccount:monitoring:prometheus',
        groups: ['system:serviceaccounts'],
        nonResourceAttributes: { path: '/metrics', verb: 'get' },
      },
    });
    // An unauthenticated token never reaches SubjectAccessReview.
    assert.equal(seen.accessReviews.length, 2);
  });
});

describe('metrics server', () => {
  const { ca, serving: leaf } = loopbackTls('metrics', 2);
  const cert = parseServingCertificate(leaf.certPem, leaf.keyPem);
  const decisions: Record<string, AuthDecision | 'throw'> = {
    good: 'ok',
    bad: 'unauthenticated',
    nope: 'forbidden',
    broken: 'throw',
  };
  const asked: string[] = [];
  let server: MetricsServer;
  let port: number;
  const metrics = createMetrics();

  before(async () => {
    server = await startMetricsServer({
      address: { host: '127.0.0.1', port: 0 },
      tls: () => cert,
      authorize: async (token) => {
        asked.push(token);
        const d = decisions[token] ?? 'unauthenticated';
        if (d === 'throw') throw new Error('TokenReview failed');
        return d;
      },
      registry: metrics.registry,
      logger: pino({ level: 'silent' }),
    });
    port = server.address().port;
  });
  after(() => server.close());

  function get(
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path, headers, ca: ca.certPem, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const cases: { name: string; headers: Record<string, string>; status: number; body?: string }[] =
    [
      { name: 'no token', headers: {}, status: 401, body: 'Unauthorized\n' },
      { name: 'not a bearer token', headers: { authorization: 'Basic dXNlcjpwYXNz' }, status: 401 },
      { name: 'empty bearer token', headers: { authorization: 'Bearer ' }, status: 401 },
      { name: 'token TokenReview rejects', headers: { authorization: 'Bearer bad' }, status: 401 },
      {
        name: 'authenticated but SubjectAccessReview denies',
        headers: { authorization: 'Bearer nope' },
        status: 403,
        body: 'Forbidden\n',
      },
      { name: 'review fails', headers: { authorization: 'Bearer broken' }, status: 500 },
    ];
  for (const c of cases) {
    test(`${c.name} → ${c.status}`, async () => {
      const res = await get('/metrics', c.headers);
      assert.equal(res.status, c.status);
      if (c.body !== undefined) assert.equal(res.body, c.body);
      assert.ok(!res.body.includes('topology_'));
      if (c.status === 401) assert.equal(res.headers['www-authenticate'], 'Bearer');
    });
  }

  test('an authorized token gets the metrics in the Prometheus text format', async () => {
    metrics.setWorkqueueDepth(5);
    const res = await get('/metrics', { authorization: 'Bearer good' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.ok(res.body.split('\n').includes('topology_workqueue_depth 5'));
    assert.match(res.body, /^# TYPE topology_admission_requests_total counter$/m);
  });

  test('decisions are cached; failures are not', async () => {
    asked.length = 0;
    for (const token of ['good', 'good', 'nope', 'nope', 'broken', 'broken']) {
      await get('/metrics', { authorization: `Bearer ${token}` });
    }
    assert.deepEqual(asked, ['broken', 'broken']);
  });

  test('other paths are 404 and other methods 405', async () => {
    assert.equal((await get('/healthz', { authorization: 'Bearer good' })).status, 404);
    const post = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/metrics', method: 'POST', ca: ca.certPem, agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(post, 405);
  });

  test('refuses plain HTTP', async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  });
});

describe('metrics server, plain (--metrics-secure=false)', () => {
  test('serves /metrics over plain HTTP to anyone, without asking for a token', async () => {
    const metrics = createMetrics();
    const server = await startMetricsServer({
      address: { host: '127.0.0.1', port: 0 },
      plain: true,
      registry: metrics.registry,
      logger: pino({ level: 'silent' }),
    });
    try {
      const { port } = server.address();
      const get = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          }).on('error', reject);
        });
      const ok = await get('/metrics');
      assert.equal(ok.status, 200);
      assert.match(ok.body, /^controller_runtime_reconcile_total\{/m);
      assert.equal((await get('/other')).status, 404);
    } finally {
      await server.close();
    }
  });
});
