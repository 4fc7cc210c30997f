import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import https from 'node:https';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import pino from 'pino';
import { buildWebhookServer, BODY_LIMIT_BYTES } from '../../../src/admission/server.ts';
import { loopbackTls } from '../../harness/loopback-tls.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';
import { stringifyJson } from '../../../src/resource/json.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { review, topologyConfig } from './fixtures.ts';

const { ca, serving } = loopbackTls('webhook');

const index = new ConfigIndex();
const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(line) });
const requests: string[] = [];
const app = buildWebhookServer({
  tls: serving,
  context: () => ({ view: index, policy: defaultPolicy }),
  logger,
  http: {
    started: (path) => requests.push(`start ${path}`),
    finished: (path, code) => requests.push(`end ${path} ${code}`),
  },
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await app.inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

function applyPatch(object: unknown, patch?: string): unknown {
  if (!patch) return object;
  const ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
  return fastJsonPatch.applyPatch(structuredClone(object), ops, true, false).newDocument;
}

before(async () => {
  await app.ready();
});
after(async () => {
  await app.close();
});

describe('validating webhook', () => {
  test('admits a valid config and echoes the uid', async () => {
    const { status, body } = await post('/validate', review('CREATE', topologyConfig()));
    assert.equal(status, 200);
    assert.equal(body.apiVersion, 'admission.k8s.io/v1');
    assert.equal(body.kind, 'AdmissionReview');
    assert.equal(body.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(body.response.allowed, true);
  });

  test('serves the kubebuilder paths too', async () => {
    const v = await post(
      '/validate-harikube-info-v1-topologyconfig',
      review('CREATE', topologyConfig()),
    );
    const m = await post(
      '/mutate-harikube-info-v1-topologyconfig',
      review('CREATE', topologyConfig()),
    );
    assert.equal(v.body.response.allowed, true);
    assert.equal(m.body.response.allowed, true);
  });

  test('denies an invalid config with every field path, as 422 Invalid, without the endpoint', async () => {
    const bad = topologyConfig({
      position: 0,
      backends: [{ name: 'orders-db', endpoint: 'mysql://app:secret-password@tcp(db:3306)/kine' }],
    });
    const { status, body } = await post('/validate', review('CREATE', bad));
    assert.equal(status, 200);
    const response = body.response;
    assert.equal(response.allowed, false);
    assert.equal(response.status.code, 422);
    assert.equal(response.status.reason, 'Invalid');
    assert.match(response.status.message, /^TopologyConfig "team-a\/orders" is invalid: \[/);
    assert.match(response.status.message, /spec\.position/);
    assert.match(response.status.message, /spec\.backends\[0\]/);
    const fields = response.status.details.causes.map((c: { field: string }) => c.field);
    assert.ok(fields.includes('spec.position'));
    assert.ok(!JSON.stringify(body).includes('secret-password'), 'the endpoint must not be echoed');
    assert.ok(!logLines.join('').includes('secret-password'), 'the endpoint must not be logged');
  });

  test('answers dryRun requests the same way', async () => {
    const bad = topologyConfig({ position: 0 });
    const normal = await post('/validate', review('CREATE', bad));
    const dry = await post('/validate', review('CREATE', bad, undefined, { dryRun: true }));
    assert.deepEqual(dry.body, normal.body);
  });

  test('allows an UPDATE that leaves the spec unchanged (finalizer and label housekeeping)', async () => {
    const old = { ...topologyConfig({ position: 0 }) };
    const next = { ...old, metadata: { ...old.metadata, finalizers: [] } };
    const { body } = await post('/validate', review('UPDATE', next, old));
    assert.equal(body.response.allowed, true);
  });

  test('refuses a review of another resource as a misconfiguration', async () => {
    const r = review('CREATE', topologyConfig());
    r.request.resource = { group: '', version: 'v1', resource: 'secrets' };
    const { status, body } = await post('/validate', r);
    assert.equal(status, 200);
    assert.equal(body.response.allowed, false);
    assert.equal(body.response.status.code, 400);
    assert.match(body.response.status.message, /only judges topologyconfigs\.harikube\.info\/v1/);
  });

  test('logs one line per review with uid, operation, object, decision and latency', async () => {
    logLines.length = 0;
    await post('/validate', review('CREATE', topologyConfig()));
    const entries = logLines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'admission review');
    assert.equal(entries.length, 1);
    const entry = entries[0];
    assert.equal(entry.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(entry.operation, 'CREATE');
    assert.equal(entry.object, 'team-a/orders');
    assert.equal(entry.allowed, true);
    assert.equal(typeof entry.latencyMs, 'number');
  });

  test('logs a denial at info with its reason, a plain admission only at debug', async () => {
    logLines.length = 0;
    await post('/validate', review('CREATE', topologyConfig()));
    await post('/validate', review('CREATE', topologyConfig({ position: -1 })));
    const entries = logLines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'admission review');
    assert.deepEqual(
      entries.map((e) => [e.allowed, e.level]),
      [
        [true, pino.levels.values.debug],
        [false, pino.levels.values.info],
      ],
    );
    assert.match(entries[1].reason, /spec\.position/);
  });
});

describe('mutating webhook', () => {
  test('defaults position, label and finalizer with a JSONPatch; applying it again changes nothing', async () => {
    const input = topologyConfig();
    delete (input.spec as Partial<TopologyConfig['spec']>).position;
    const first = await post('/mutate', review('CREATE', input));
    assert.equal(first.body.response.allowed, true);
    assert.equal(first.body.response.patchType, 'JSONPatch');
    const mutated = applyPatch(input, first.body.response.patch) as TopologyConfig;
    assert.equal(mutated.spec.position, 1);
    assert.deepEqual(mutated.metadata.finalizers, ['harikube.info/finalizer']);
    assert.equal(
      mutated.metadata.labels?.['harikube.info/target-secret'],
      'harikube.topology-config',
    );

    const second = await post('/mutate', review('CREATE', mutated));
    assert.equal(second.body.response.allowed, true);
    assert.equal(second.body.response.patch, undefined, 'reinvocation must be a no-op');
  });

  test('DELETE is allowed without a patch', async () => {
    const { body } = await post('/mutate', review('DELETE', null, topologyConfig()));
    assert.equal(body.response.allowed, true);
    assert.equal(body.response.patch, undefined);
  });
});

describe('durations beyond 2^53 - 1 nanoseconds are read exactly', () => {
  // The API server keeps int64s exactly and sends them as digits; JSON.stringify cannot write a bigint.
  const body = (maxLifeTime: bigint) =>
    stringifyJson(
      review(
        'CREATE',
        topologyConfig({
          backends: [
            {
              name: 'orders-db',
              endpoint: 'mysql://app@tcp(orders.db:3306)/kine',
              connectionPool: { maxLifeTime, maxIdleLifeTime: 2n ** 53n + 1n },
              customresource: { group: 'stable.example.com', kind: 'orders' },
            },
          ],
        }),
      ),
    );
  for (const n of [2n ** 53n + 1n, 2n ** 63n - 1n]) {
    test(`${n} is admitted, and the mutating patch leaves it alone`, async () => {
      const validated = await post('/validate', body(n));
      assert.equal(validated.body.response.allowed, true, validated.body.response.status?.message);
      const mutated = await post('/mutate', body(n));
      assert.equal(mutated.body.response.allowed, true);
      const ops = JSON.parse(Buffer.from(mutated.body.response.patch, 'base64').toString('utf8'));
      assert.deepEqual(
        ops.filter((op: { path: string }) => op.path.includes('connectionPool')),
        [],
      );
    });
  }

  test('int64 max + 1 is refused with the limit', async () => {
    const { body: answer } = await post('/validate', body(2n ** 63n));
    assert.equal(answer.response.allowed, false);
    assert.match(
      answer.response.status.message,
      /spec\.backends\[0\]\.connectionPool\.maxLifeTime: must be at most 9223372036854775807 nanoseconds \(Go's int64 limit, 2562047h47m16\.854775807s\)/,
    );
  });
});

describe('transport errors get a clear 4xx, never a crash', () => {
  const cases: Array<[string, unknown, Record<string, string>, number, RegExp]> = [
    ['malformed JSON', '{"apiVersion": ', {}, 400, /JSON/i],
    [
      '5,000 levels of nesting',
      `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      {},
      400,
      /nests deeper than 64 levels/,
    ],
    [
      'brackets inside strings do not count',
      `{"a":"${'['.repeat(5000)}"}`,
      {},
      400,
      /kind must be AdmissionReview/,
    ],
    ['not an object', '[1,2]', {}, 400, /AdmissionReview object/],
    [
      'wrong kind',
      { apiVersion: 'admission.k8s.io/v1', kind: 'Pod' },
      {},
      400,
      /kind must be AdmissionReview/,
    ],
    [
      'v1beta1',
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} },
      {},
      400,
      /admission\.k8s\.io\/v1/,
    ],
    [
      'missing uid',
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { operation: 'CREATE' },
      },
      {},
      400,
      /uid is missing/,
    ],
    [
      'wrong content type',
      'hello',
      { 'content-type': 'text/plain' },
      415,
      /Unsupported Media Type|content-type/i,
    ],
  ];
  for (const [name, body, headers, code, message] of cases) {
    test(name, async () => {
      const res = await post('/validate', body, headers);
      assert.equal(res.status, code);
      assert.match(res.body.message, message);
    });
  }

  test('a body above the limit gets 413; one a little below is read', async () => {
    const object = topologyConfig();
    const padding = 'x'.repeat(BODY_LIMIT_BYTES);
    const tooBig = await post(
      '/validate',
      review('CREATE', { ...object, metadata: { ...object.metadata, annotations: { padding } } }),
    );
    assert.equal(tooBig.status, 413);
    // What the API server can really send: an object and its old self, 3 MiB each.
    const three = 'y'.repeat(3 * 1024 * 1024 - 4096);
    const big = { ...object, metadata: { ...object.metadata, annotations: { padding: three } } };
    const fits = await post('/validate', review('UPDATE', big, big));
    assert.equal(fits.status, 200);
    assert.equal(fits.body.response.allowed, true);
  });
});

describe('integers beyond 2^53 in a review', () => {
  // The review's parser keeps them exact (bigints); the patch must carry them
  // as written. fast-json-patch clones what it adds through JSON.stringify,
  // which throws on a bigint: an UPDATE that keeps an old field holding one
  // was answered 500 (found by the property test below).
  test('an UPDATE keeping an old field that holds one: patched with the exact value', async () => {
    const meta = { name: 'x', namespace: 'team-a' };
    const text = (spec: string) =>
      `{"apiVersion":"harikube.info/v1","kind":"TopologyConfig","metadata":${JSON.stringify(meta)},"spec":${spec}}`;
    const body = JSON.stringify(review('UPDATE', { metadata: meta }, { metadata: meta }))
      .replace('"object":{"metadata":{"name":"x","namespace":"team-a"}}', `"object":${text('{}')}`)
      .replace(
        '"oldObject":{"metadata":{"name":"x","namespace":"team-a"}}',
        `"oldObject":${text('{"targetSecret":{"a":[9007199254740993]}}')}`,
      );
    assert.ok(body.includes('9007199254740993'), 'the review holds the exact integer');
    const res = await app.inject({
      method: 'POST',
      url: '/mutate',
      payload: body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 200, res.body);
    const response = JSON.parse(res.body).response as { allowed: boolean; patch: string };
    assert.equal(response.allowed, true);
    const patch = Buffer.from(response.patch, 'base64').toString('utf8');
    // Read as text: JSON.parse would round them.
    assert.ok(
      patch.includes('{"op":"add","path":"/spec/targetSecret","value":{"a":[9007199254740993]}}'),
      patch,
    );
  });
});

describe('property: any input gives a well-formed review or a 4xx', () => {
  const wellFormed = (
    res: { status: number; body: { response?: { uid?: string; allowed?: unknown } } },
    uid?: string,
  ) => {
    if (res.status >= 400 && res.status < 500) return true;
    if (res.status !== 200) return false;
    const response = res.body.response;
    return (
      response !== undefined &&
      typeof response.allowed === 'boolean' &&
      (uid === undefined || response.uid === uid)
    );
  };

  test('arbitrary JSON bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue(),
        fc.constantFrom('/validate', '/mutate'),
        async (value, url) => {
          const res = await post(url, JSON.stringify(value));
          assert.ok(
            wellFormed(res),
            `status ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test('arbitrary TopologyConfig-shaped objects in real reviews', async () => {
    const anything = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const backend = fc.record(
      {
        name: fc.oneof(fc.string(), anything),
        endpoint: fc.oneof(fc.string(), anything),
        connectionPool: fc.record(
          {
            maxIdle: fc.oneof(fc.integer(), fc.double(), anything),
            maxLifeTime: fc.oneof(fc.bigInt().map(Number), anything),
          },
          { requiredKeys: [] },
        ),
        customresource: fc.record({ group: fc.string(), kind: fc.string() }, { requiredKeys: [] }),
        prefix: fc.record({ prefix: fc.string() }, { requiredKeys: [] }),
        regexp: fc.record({ prefix: fc.string(), key: fc.string() }, { requiredKeys: [] }),
        namespace: fc.record(
          { namespace: fc.string(), kinds: fc.array(fc.string()) },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    const spec = fc.record(
      {
        position: fc.oneof(fc.integer(), fc.double(), anything),
        targetSecret: fc.oneof(fc.string(), fc.constant('harikube/topology-config'), anything),
        endpointDecryptSecret: fc.oneof(fc.string(), anything),
        backends: fc.oneof(fc.array(backend, { maxLength: 4 }), anything),
      },
      { requiredKeys: [] },
    );
    const object = spec.map((s) => ({
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyConfig',
      metadata: { name: 'x', namespace: 'team-a' },
      spec: s,
    }));
    await fc.assert(
      fc.asyncProperty(
        object,
        object,
        fc.constantFrom('CREATE', 'UPDATE', 'DELETE'),
        fc.constantFrom('/validate', '/mutate'),
        async (obj, old, op, url) => {
          const r = review(op as 'CREATE', obj, op === 'CREATE' ? undefined : old);
          const res = await post(url, r);
          assert.ok(
            wellFormed(res, r.request.uid),
            `status ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`,
          );
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('over real HTTPS', () => {
  test('speaks TLS 1.2+ and answers a review', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const body = JSON.stringify(review('CREATE', topologyConfig()));
    const answer = await new Promise<{
      status: number;
      json: { response: { allowed: boolean } };
      protocol: string;
    }>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/validate',
          method: 'POST',
          ca: ca.certPem,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          const protocol = (res.socket as import('node:tls').TLSSocket).getProtocol() ?? '';
          res.on('data', (c) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(text),
              protocol,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.json.response.allowed, true);
    assert.match(answer.protocol, /TLSv1\.[23]/);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
            path: '/validate',
            method: 'POST',
            ca: ca.certPem,
            maxVersion: 'TLSv1.1',
            minVersion: 'TLSv1',
          },
          resolve,
        );
        req.on('error', reject);
        req.end('{}');
      }),
    );
  });
});

describe('reviews over a bound are refused, and the next one is answered', () => {
  const backend = (i: number, extra: Record<string, unknown> = {}) => ({
    name: `b${i}`,
    endpoint: `mysql://tcp(b${i}.db:3306)/kine`,
    customresource: { group: 'stable.example.com', kind: `k${i}` },
    ...extra,
  });
  const hostile: Array<[string, unknown]> = [
    [
      'a 1 MiB pattern',
      topologyConfig({
        backends: [backend(0, { regexp: { prefix: '^/registry/', key: 'a'.repeat(1 << 20) } })],
      }),
    ],
    [
      // Small backends, so that the review fits the body limit and reaches the rules.
      '60,000 backends',
      topologyConfig({
        backends: Array.from({ length: 60_000 }, (_, i) => ({ name: `b${i}` }) as never),
      }),
    ],
    [
      'a 9 KB pattern that compiles to a million instructions',
      topologyConfig({ backends: [backend(0, { regexp: { key: '\\pL{1000}'.repeat(1000) } })] }),
    ],
  ];
  for (const [name, object] of hostile) {
    test(name, async () => {
      for (const url of ['/mutate', '/validate']) {
        const res = await post(url, review('CREATE', object));
        assert.equal(res.status, 200);
        if (url === '/mutate') assert.equal(res.body.response.patch, undefined, 'not defaulted');
        else {
          assert.equal(res.body.response.allowed, false);
          assert.match(res.body.response.status.message, /at most/);
        }
      }
      const next = await post('/validate', review('CREATE', topologyConfig()));
      assert.equal(next.body.response.allowed, true);
    });
  }
});

describe('bounded memory', () => {
  test('thousands of arbitrary reviews do not grow the heap', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const bodies = fc
      .sample(fc.jsonValue(), { numRuns: 200, seed: 7 })
      .map((v) => JSON.stringify(v));
    const valid = JSON.stringify(review('CREATE', topologyConfig()));
    const invalidBody = JSON.stringify(review('CREATE', topologyConfig({ position: 0 })));
    const round = async () => {
      logLines.length = 0; // the test's own log capture must not count
      for (const [i, body] of bodies.entries()) {
        await post(i % 2 ? '/validate' : '/mutate', body);
        await post('/validate', i % 3 ? valid : invalidBody);
      }
    };
    await round();
    await round();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 8; i++) await round();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    console.log(`# heap growth over 3,200 reviews: ${Math.round(grown / 1024)} KiB`);
    assert.ok(
      grown < 8 * 1024 * 1024,
      `heap grew by ${Math.round(grown / 1024)} KiB over 3,200 reviews`,
    );
  });
});

describe('HTTP observer (controller-runtime webhook metrics)', () => {
  test('every request to a webhook path is reported with its code; other paths are not', async () => {
    requests.length = 0;
    await post('/validate-harikube-info-v1-topologyconfig', review('CREATE', topologyConfig()));
    await post('/mutate', '{"not": "a review"}');
    await post('/not-a-webhook', review('CREATE', topologyConfig()));
    assert.deepEqual(requests, [
      'start /validate-harikube-info-v1-topologyconfig',
      'end /validate-harikube-info-v1-topologyconfig 200',
      'start /mutate',
      'end /mutate 400',
    ]);
  });
});

describe('review observer', () => {
  test('tells the reviews that bring the merge work (create, delete, a spec changed) from housekeeping', async () => {
    const seen: { operation: string; changesSpec: boolean }[] = [];
    const observed = buildWebhookServer({
      tls: serving,
      context: () => ({ view: index, policy: defaultPolicy }),
      logger: pino({ level: 'silent' }),
      observe: ({ operation, changesSpec }) => seen.push({ operation, changesSpec }),
    });
    await observed.ready();
    try {
      const config = topologyConfig();
      const withFinalizer = structuredClone(config);
      withFinalizer.metadata.finalizers = ['harikube.info/topology-config'];
      const moved = structuredClone(config);
      moved.spec.position = (config.spec.position ?? 0) + 1;
      for (const body of [
        review('CREATE', config),
        review('UPDATE', withFinalizer, config),
        review('UPDATE', moved, config),
        review('DELETE', undefined, config),
      ]) {
        const res = await observed.inject({ method: 'POST', url: '/validate', payload: body });
        assert.equal(res.statusCode, 200);
      }
    } finally {
      await observed.close();
    }
    assert.deepEqual(seen, [
      { operation: 'CREATE', changesSpec: true },
      { operation: 'UPDATE', changesSpec: false },
      { operation: 'UPDATE', changesSpec: true },
      { operation: 'DELETE', changesSpec: true },
    ]);
  });
});
