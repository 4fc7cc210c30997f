// End-to-end: /metrics over HTTPS, guarded by TokenReview + SubjectAccessReview
// on a real kube-apiserver. The product runs with its own ServiceAccount's
// token (so the metrics-auth ClusterRole of deploy/ is what lets it review
// scrapers); scrapers are ServiceAccounts with and without the metrics-reader
// ClusterRole. The client trusts the webhook's CA as published in the webhook
// configurations' caBundle: no verification is skipped.
import assert from 'node:assert/strict';
import https from 'node:https';
import { before, describe, test } from 'node:test';
import { createServiceAccount, productCredentials, serviceAccountToken } from './credentials.ts';
import { ALERTS, PANELS } from '../../scripts/gen-monitoring.ts';
import { apply, configYaml, getJson, mustApply, useEnv, withLogs } from './support.ts';

let caPem: string;
let readerToken: string;
let otherToken: string;

const ENDPOINT = 'mysql://metrics:s3cret@tcp(metrics-orders.db:3306)/kine';

const env = useEnv({
  namespaces: ['team-metrics', 'monitoring'],
  products: async (cp) => [{ kubeconfigPath: (await productCredentials(cp)).kubeconfigPath }],
});

function scrape(token?: string, path = '/metrics'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      {
        host: '127.0.0.1',
        port: env.product.metricsPort,
        path,
        ca: caPem,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: 10_000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('timeout', () => request.destroy(new Error('scrape timed out')));
    request.on('error', reject);
  });
}

/** The metric names a PromQL expression reads (label matchers, by-lists and functions left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  return [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((name) => name.includes('_'));
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, sample lines only. */
function parse(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

function admissions(samples: Sample[], webhook: string, operation: string, allowed: string) {
  return (
    samples.find(
      (s) =>
        s.name === 'topology_admission_requests_total' &&
        s.labels.webhook === webhook &&
        s.labels.operation === operation &&
        s.labels.allowed === allowed,
    )?.value ?? 0
  );
}

describe('/metrics', () => {
  // Scrapers: a ServiceAccount bound to metrics-reader and one without.
  before(async () => {
    const { cp } = env;
    await createServiceAccount(cp, 'monitoring', 'prometheus');
    await createServiceAccount(cp, 'monitoring', 'nosy');
    const bound = await cp.kubectl([
      'create',
      'clusterrolebinding',
      'prometheus-topology-metrics',
      '--clusterrole=topology-webhook-metrics-reader',
      '--serviceaccount=monitoring:prometheus',
    ]);
    assert.equal(bound.code, 0, bound.stderr);
    readerToken = await serviceAccountToken(cp, 'monitoring', 'prometheus');
    otherToken = await serviceAccountToken(cp, 'monitoring', 'nosy');

    const webhook = await getJson<{ webhooks: { clientConfig: { caBundle: string } }[] }>(cp, [
      'validatingwebhookconfiguration',
      'topology-webhook',
    ]);
    caPem = Buffer.from(webhook!.webhooks[0]!.clientConfig.caBundle, 'base64').toString('utf8');
  });

  test('with a token bound to metrics-reader: 200 and admission counts after kubectl apply', () =>
    withLogs(env, async ({ cp }) => {
      const before = await scrape(readerToken);
      assert.equal(before.status, 200, before.body);
      const b = parse(before.body);

      await mustApply(
        cp,
        configYaml({
          name: 'orders',
          namespace: 'team-metrics',
          position: 1,
          backends: [{ name: 'metrics-orders', endpoint: ENDPOINT }],
        }),
      );
      const refused = await apply(
        cp,
        configYaml({
          name: 'broken',
          namespace: 'team-metrics',
          position: 2,
          backends: [
            {
              name: 'metrics-broken',
              endpoint: 'postgres://broken.db/kine',
              extra: "prefix: {prefix: 'no slash'}",
            },
          ],
        }),
      );
      assert.notEqual(refused.code, 0, 'the invalid config is refused');

      const after = await scrape(readerToken);
      assert.equal(after.status, 200);
      const a = parse(after.body);
      const delta = (webhook: string, allowed: string) =>
        admissions(a, webhook, 'CREATE', allowed) - admissions(b, webhook, 'CREATE', allowed);
      assert.equal(delta('validating', 'true'), 1, 'the valid config was admitted once');
      assert.equal(delta('validating', 'false'), 1, 'the invalid one was denied once');
      assert.equal(delta('mutating', 'true'), 2, 'both went through the mutating webhook');
      const latencyCount = (samples: Sample[]) =>
        samples
          .filter((s) => s.name === 'topology_admission_duration_seconds_count')
          .reduce((sum, s) => sum + s.value, 0);
      assert.equal(latencyCount(a) - latencyCount(b), 4, 'each review is in the latency histogram');
      assert.ok(a.some((s) => s.name === 'topology_leader' && s.value === 1));
      for (const name of [
        'topology_reconcile_total',
        'topology_workqueue_depth',
        'topology_configs',
      ]) {
        assert.ok(
          a.some((s) => s.name === name),
          `${name} is exported`,
        );
      }
    }));

  test("controller-runtime's metric names are exported, and every metric the dashboard and alerts read", async () => {
    const { status, body } = await scrape(readerToken);
    assert.equal(status, 200);
    // Names as families: a histogram's _bucket, _sum and _count belong to its TYPE line.
    const families = new Map(
      [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    const exported = (name: string) =>
      families.has(name) || families.get(name.replace(/_(bucket|sum|count)$/, '')) === 'histogram';
    for (const name of [
      'controller_runtime_webhook_requests_total',
      'controller_runtime_webhook_latency_seconds',
      'controller_runtime_webhook_requests_in_flight',
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total',
      'controller_runtime_reconcile_time_seconds',
      'controller_runtime_active_workers',
      'controller_runtime_max_concurrent_reconciles',
      'workqueue_depth',
      'workqueue_adds_total',
      'workqueue_queue_duration_seconds',
      'workqueue_work_duration_seconds',
      'workqueue_retries_total',
      'leader_election_master_status',
      'topology_webhook_certificate_expiration_timestamp_seconds',
      'topology_target_secret_largest_size_bytes',
      'topology_target_secret_size_limit_bytes',
    ])
      assert.ok(families.has(name), `${name} is exported`);
    // The reviews and reconciles of the test above were counted under the controller-runtime names too.
    const samples = parse(body);
    assert.ok(
      samples.some(
        (s) =>
          s.name === 'controller_runtime_webhook_requests_total' &&
          s.labels.webhook === '/validate-harikube-info-v1-topologyconfig' &&
          s.labels.code === '200' &&
          s.value >= 2,
      ),
    );
    const expiry = samples.find(
      (s) => s.name === 'topology_webhook_certificate_expiration_timestamp_seconds',
    );
    assert.ok(expiry && expiry.value > Date.now() / 1000, 'the serving certificate expires later');
    // Every metric a query of the dashboard or an alert reads.
    const queries = [
      ...ALERTS.map((a) => a.expr),
      ...PANELS.flatMap((p) => p.targets.map((t) => t.expr)),
    ];
    const read = new Set(queries.flatMap(metricNames));
    assert.ok(read.size >= 15, `the queries read ${[...read].join(', ')}`);
    for (const name of read)
      assert.ok(exported(name), `${name} (read by the dashboard or an alert) is exported`);
  });

  test('no label value holds an endpoint, a name or anything a user controls', async () => {
    const { status, body } = await scrape(readerToken);
    assert.equal(status, 200);
    const samples = parse(body);
    const closed = new Set([
      'CREATE',
      'UPDATE',
      'DELETE',
      'CONNECT',
      'UNKNOWN',
      'validating',
      'mutating',
      'true',
      'false',
      'success',
      'error',
      'conflict',
      'Active',
      'Pending',
      'Error',
      // controller-runtime's names: webhook paths, the controller, its results, the Lease.
      ...['/validate', '/mutate'].flatMap((p) => [p, `${p}-harikube-info-v1-topologyconfig`]),
      'topologyconfig',
      'requeue',
      'requeue_after',
      'topology-webhook.harikube.info',
      '',
    ]);
    const ours = /^(topology_|controller_runtime_|workqueue_|leader_election_)/;
    for (const s of samples.filter((x) => ours.test(x.name))) {
      for (const [label, value] of Object.entries(s.labels)) {
        if (label === 'le') assert.ok(value === '+Inf' || Number.isFinite(Number(value)));
        else if (label === 'code') assert.match(value, /^[1-5]\d\d$/);
        else
          assert.ok(closed.has(value), `${s.name}{${label}="${value}"} is not from a closed set`);
      }
    }
    const values = samples.flatMap((s) => Object.values(s.labels));
    for (const forbidden of [
      'orders',
      'broken',
      'team-metrics',
      'metrics-orders',
      's3cret',
      '://',
      'harikube/',
      readerToken,
    ]) {
      assert.deepEqual(
        values.filter((v) => v.includes(forbidden)),
        [],
        `a label value contains ${forbidden}`,
      );
    }
    assert.ok(!body.includes('s3cret') && !body.includes(ENDPOINT), 'no endpoint anywhere');
  });

  test('without a token: 401', async () => {
    const { status, body } = await scrape();
    assert.equal(status, 401);
    assert.equal(body, 'Unauthorized\n');
  });

  test('with a token the API server does not accept: 401', async () => {
    const { status } = await scrape(`${readerToken.slice(0, -4)}AAAA`);
    assert.equal(status, 401);
  });

  test('with a valid token of a ServiceAccount without metrics-reader: 403', async () => {
    const { status, body } = await scrape(otherToken);
    assert.equal(status, 403);
    assert.equal(body, 'Forbidden\n');
  });

  test('the endpoint serves the webhook certificate, trusted through the published caBundle', () =>
    withLogs(env, async ({ cp, product }) => {
      // scrape() verifies the chain and the IP SAN against caPem; a wrong CA fails the handshake.
      const other = await new Promise<string>((resolve) => {
        https
          .get(
            { host: '127.0.0.1', port: product.metricsPort, path: '/metrics', ca: cp.caPem },
            () => resolve('connected'),
          )
          .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      assert.match(other, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    }));
});
