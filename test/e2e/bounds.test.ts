// End-to-end: reviews built to exhaust a replica (a 1 MiB pattern, 60,000
// backends, 5,000 levels of nesting, a pattern that compiles to a million
// instructions) sent to the running server, as anything that reaches its port
// could; each is refused within the webhook timeout, the process's peak
// resident memory stays under the Deployment's limit, and the next review is
// answered normally. The pattern also goes through kubectl, as a user would.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { encryptEndpoint } from '../../src/crypto/aes-gcm.ts';
import {
  apply,
  configYaml,
  keySecretYaml,
  mustApply,
  useEnv,
  waitForStatus,
  withLogs,
} from './support.ts';

const env = useEnv({ namespaces: ['team-a'] });

/** The Deployment's memory limit (deploy/manager/deployment.yaml: 256Mi). */
const MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;
/** The webhook configurations' timeoutSeconds. */
const WEBHOOK_TIMEOUT_MS = 5000;

function post(port: number, path: string, body: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // The server's certificate is checked by the API server in the other tests.
        rejectUnauthorized: false,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A process's resident set size now (VmRSS) or at its peak (VmHWM), in bytes. */
function rss(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmHWM'): number {
  const line = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return Number(line?.[1] ?? NaN) * 1024;
}
const peakRss = (pid: number) => rss(pid);
const MiB = (bytes: number) => Math.round(bytes / 2 ** 20);

const backend = (i: number, extra: Record<string, unknown> = {}) => ({
  name: `b${i}`,
  endpoint: `mysql://tcp(b${i}.db:3306)/kine`,
  customresource: { group: 'stable.example.com', kind: `k${i}` },
  ...extra,
});

const config = (backends: unknown[]) => ({
  apiVersion: 'harikube.info/v1',
  kind: 'TopologyConfig',
  metadata: { name: 'hostile', namespace: 'team-a', uid: 'uid-hostile' },
  spec: { position: 1, targetSecret: 'harikube/topology-config', backends },
});

const review = (object: unknown) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'a5d1c7e4-0000-4000-8000-000000000001',
      kind: { group: 'harikube.info', version: 'v1', kind: 'TopologyConfig' },
      resource: { group: 'harikube.info', version: 'v1', resource: 'topologyconfigs' },
      name: 'hostile',
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'mallory' },
      object,
    },
  });

/** The pattern: 9 KB, a million instructions. */
const HEAVY_PATTERN = '\\pL{1000}'.repeat(1000);
/** Within the length limit, still 100,000 instructions. */
const DENSE_PATTERN = '\\pL{1000}'.repeat(100);

describe('reviews built to exhaust a replica', () => {
  test('each is refused in time, memory stays under the limit, the next review is answered', () =>
    withLogs(env, async ({ product }) => {
      const pid = product.pid();
      assert.ok(pid, 'the server runs');
      const before = peakRss(pid);
      const hostile: Array<[string, string]> = [
        [
          'a 1 MiB pattern',
          review(
            config([backend(0, { regexp: { prefix: '^/registry/', key: 'a'.repeat(1 << 20) } })]),
          ),
        ],
        [
          '60,000 backends',
          review(config(Array.from({ length: 60_000 }, (_, i) => ({ name: `b${i}` })))),
        ],
        [
          // Written out: JSON.stringify itself recurses.
          '5,000 levels of nesting',
          review(config([backend(0)])).replace(
            '"name":"b0"',
            `"name":"b0","extra":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
          ),
        ],
        [
          'a 9 KB pattern of a million instructions',
          review(config([backend(0, { regexp: { key: HEAVY_PATTERN } })])),
        ],
        [
          'a 900-character pattern of 100,000 instructions',
          review(config([backend(0, { regexp: { key: DENSE_PATTERN } })])),
        ],
      ];
      for (const [name, body] of hostile) {
        for (const path of ['/mutate', '/validate']) {
          const started = performance.now();
          const res = await post(product.webhookPort, path, body);
          const ms = performance.now() - started;
          console.log(
            `# ${name} ${path}: ${res.status} in ${Math.round(ms)} ms, ${Math.round(body.length / 1024)} KiB`,
          );
          assert.ok(ms < WEBHOOK_TIMEOUT_MS, `${name}: answered in ${Math.round(ms)} ms`);
          if (res.status === 200) {
            const response = (
              JSON.parse(res.body) as { response: { allowed: boolean; patch?: string } }
            ).response;
            if (path === '/validate') assert.equal(response.allowed, false, `${name} is refused`);
            else assert.equal(response.patch, undefined, `${name} is not defaulted`);
          } else assert.ok(res.status >= 400 && res.status < 500, `${name}: ${res.status}`);
        }
      }
      const peak = peakRss(pid);
      console.log(
        `# peak RSS: ${Math.round(before / 2 ** 20)} MiB before, ${Math.round(peak / 2 ** 20)} MiB after the reviews (limit ${MEMORY_LIMIT_BYTES / 2 ** 20} MiB)`,
      );
      assert.ok(peak < MEMORY_LIMIT_BYTES, `peak RSS ${peak} bytes`);

      const valid = await post(product.webhookPort, '/validate', review(config([backend(0)])));
      assert.equal(valid.status, 200);
      assert.equal(
        (JSON.parse(valid.body) as { response: { allowed: boolean } }).response.allowed,
        true,
      );
    }));

  test('kubectl: server-side dry runs of such patterns are refused with the bound', () =>
    withLogs(env, async ({ cp }) => {
      const dryRun = (pattern: string) =>
        apply(
          cp,
          configYaml({
            name: 'heavy',
            namespace: 'team-a',
            position: 5,
            backends: [
              {
                name: 'heavy-db',
                endpoint: 'mysql://tcp(heavy.db:3306)/kine',
                extra: `regexp: {key: ${JSON.stringify(pattern)}}`,
              },
            ],
          }),
          ['--dry-run=server'],
        );
      const heavy = await dryRun(HEAVY_PATTERN);
      assert.notEqual(heavy.code, 0);
      assert.match(
        heavy.stderr,
        /spec\.backends\[0\]\.regexp\.key: may have at most 1024 characters \(has 9000\)/,
      );
      const dense = await dryRun(DENSE_PATTERN);
      assert.notEqual(dense.code, 0);
      assert.match(
        dense.stderr,
        /spec\.backends\[0\]\.regexp\.key: would compile to about 100000 RE2 instructions; at most 5000/,
      );
    }));

  test('labelled Secrets of 600 KB each are cut down as they enter the caches; their keys still work', () =>
    withLogs(env, async ({ cp, product }) => {
      const pid = product.pid()!;
      const before = rss(pid, 'VmRSS');
      const key = randomBytes(32);
      const junk = randomBytes(600 * 1024).toString('base64');
      const secrets = Array.from({ length: 40 }, (_, i) =>
        keySecretYaml('team-a', `bulky-${i}`, { k1: key }).replace(
          '\ndata:\n',
          `\ndata:\n  junk: ${junk}\n`,
        ),
      );
      // create, not apply: apply's last-applied annotation may not exceed 256 KiB.
      const created = await cp.kubectl(['create', '-f', '-'], { input: secrets.join('---\n') });
      assert.equal(created.code, 0, created.stderr);
      // A config naming one of them decrypts with its key and goes Active.
      await mustApply(
        cp,
        configYaml({
          name: 'bulky',
          namespace: 'team-a',
          position: 7,
          endpointDecryptSecret: 'team-a/bulky-39',
          backends: [
            { name: 'bulky-db', endpoint: encryptEndpoint(key, 'mysql://tcp(bulky.db:3306)/kine') },
          ],
        }),
      );
      await waitForStatus(cp, 'team-a', 'bulky', 'Active');
      const after = rss(pid, 'VmRSS');
      console.log(
        `# RSS with 40 labelled 600 KB key Secrets (${MiB(40 * junk.length)} MiB of data): ${MiB(before)} MiB before, ${MiB(after)} MiB after, peak ${MiB(peakRss(pid))} MiB (limit ${MiB(MEMORY_LIMIT_BYTES)} MiB)`,
      );
      // Reported, not asserted: the watch still delivers each Secret whole
      // before it is cut down, and V8 returns that memory late.
    }));
});
