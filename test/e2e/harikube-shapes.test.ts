// End to end: the shapes HariKube's own documentation and published tests
// write, through the real API server, the webhooks and the reconciler, as a
// platform team coming from HariKube's operator would apply them: Go
// duration strings, a relative key prefix, a `namespace` backend without
// kinds, and the short names.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ALLOW_HARIKUBE_TARGETS,
  apply,
  ensureNamespace,
  mustApply,
  readConfig,
  readSecret,
  useEnv,
  waitForStatus,
  withLogs,
} from './support.ts';
import { goFormatDurations } from '../unit/secret-format/go-durations.ts';

const env = useEnv({ productArgs: [ALLOW_HARIKUBE_TARGETS] });

// The default target Secret's namespace is a platform namespace: it may route anything but
// the keys nobody routes.
const NS = 'harikube';
const TARGET = 'harikube/e2e-shapes';

describe('HariKube-shaped configs', () => {
  test('Go duration strings and a relative prefix are admitted, left as written, and rendered as Go does', () =>
    withLogs(env, async ({ cp }) => {
      await ensureNamespace(cp, NS);
      await mustApply(
        cp,
        `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: docs-shapes
  namespace: ${NS}
spec:
  targetSecret: ${TARGET}
  backends:
  - name: docs-pods
    endpoint: postgres://app:pw@pods-db.harikube.svc:5432/kine
    connectionPool:
      maxOpen: 10
      maxLifeTime: 5m
      maxIdleLifeTime: 1.5h
    prefix:
      prefix: pods
  - name: docs-team
    endpoint: postgres://app:pw@team-db.harikube.svc:5432/kine
    connectionPool:
      maxLifeTime: 2562047h47m16.854775807s
      maxIdleLifeTime: 300000000000
    namespace:
      namespace: docs-team
`,
      );
      const config = await waitForStatus(cp, NS, 'docs-shapes', 'Active');
      // The webhook leaves the user's values as written: a GitOps tool sees no drift.
      const { backends } = config.spec as { backends: { connectionPool?: unknown }[] };
      const pools = backends.map((b) => b.connectionPool);
      assert.deepEqual(pools[0], { maxOpen: 10, maxLifeTime: '5m', maxIdleLifeTime: '1.5h' });
      assert.deepEqual(pools[1], {
        maxLifeTime: '2562047h47m16.854775807s',
        maxIdleLifeTime: 300000000000,
      });

      const secret = await readSecret(cp, 'harikube', 'e2e-shapes');
      assert.ok(secret);
      const [key] = Object.keys(secret.data);
      assert.match(key!, /^\d{10}-harikube\.docs-shapes\.yaml$/);
      assert.equal(
        secret.data[key!],
        `backends:
- name: docs-pods
  endpoint: postgres://app:pw@pods-db.harikube.svc:5432/kine
  connectionPool:
    maxOpen: 10
    maxLifeTime: 5m0s
    maxIdleLifeTime: 1h30m0s
  prefix:
    prefix: pods
- name: docs-team
  endpoint: postgres://app:pw@team-db.harikube.svc:5432/kine
  connectionPool:
    maxLifeTime: 2562047h47m16.854775807s
    maxIdleLifeTime: 5m0s
  namespace:
    namespace: docs-team
    kinds: []
`,
      );
    }));

  test("the older operator's deployOrder annotation orders configs without spec.position; status.deployOrder mirrors it", () =>
    withLogs(env, async ({ cp }) => {
      await ensureNamespace(cp, NS);
      const ordered = (name: string, order: string) => `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: ${name}
  namespace: ${NS}
  annotations:
    harikube.info/deployOrder: "${order}"
spec:
  targetSecret: harikube/e2e-order
  backends:
  - name: ${name}
    endpoint: postgres://app:pw@${name}.harikube.svc:5432/kine
    connectionPool:
      maxLifeTime: 5m
    customresource:
      group: ${name}.example.com
`;
      await mustApply(cp, ordered('order-ten', '10') + '---\n' + ordered('order-two', '2'));
      const ten = await waitForStatus(cp, NS, 'order-ten', 'Active');
      const two = await waitForStatus(cp, NS, 'order-two', 'Active');
      assert.equal((ten.spec as { position?: number }).position, 10);
      assert.equal((two.spec as { position?: number }).position, 2);
      assert.equal((ten.status as { deployOrder?: number }).deployOrder, 10);
      assert.equal((two.status as { deployOrder?: number }).deployOrder, 2);
      const secret = await readSecret(cp, 'harikube', 'e2e-order');
      // Padded keys: 2 before 10, the order the older operator meant.
      assert.deepEqual(Object.keys(secret!.data), [
        '0000000002-harikube.order-two.yaml',
        '0000000010-harikube.order-ten.yaml',
      ]);

      const bad = await apply(cp, ordered('order-bad', 'first'));
      assert.notEqual(bad.code, 0);
      assert.match(
        bad.stderr,
        /metadata\.annotations\[harikube\.info\/deployOrder\]: .*must be an integer from 1/,
      );
    }));

  test('integer nanoseconds up to int64 max are stored, rendered as Go does and never drift', () =>
    withLogs(env, async ({ cp }) => {
      await ensureNamespace(cp, NS);
      const JUST_ABOVE_2_53 = 2n ** 53n + 1n; // JSON.parse alone reads 9007199254740992
      const INT64_MAX = 2n ** 63n - 1n;
      const manifest = (
        name: string,
        lifeTime: string,
        idleLifeTime: string,
      ) => `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  targetSecret: harikube/e2e-int64
  backends:
  - name: ${name}
    endpoint: postgres://app:pw@${name}.harikube.svc:5432/kine
    connectionPool:
      maxLifeTime: ${lifeTime}
      maxIdleLifeTime: ${idleLifeTime}
    customresource:
      group: ${name}.example.com
`;
      const exact = manifest('int64-exact', String(JUST_ABOVE_2_53), String(INT64_MAX));
      await mustApply(cp, exact);
      await waitForStatus(cp, NS, 'int64-exact', 'Active');

      // The API server keeps both integers digit for digit (read as text: JSON.parse would round them).
      const stored = await cp.kubectl([
        'get',
        'topologyconfig',
        '-n',
        NS,
        'int64-exact',
        '-o',
        'json',
      ]);
      assert.equal(stored.code, 0, stored.stderr);
      assert.match(stored.stdout, /"maxLifeTime": 9007199254740993[,\n]/);
      assert.match(stored.stdout, /"maxIdleLifeTime": 9223372036854775807[,\n]/);

      // The reconciler (which saw the object through its watch) writes Go's own strings.
      const [lifeTime, idleLifeTime] = goFormatDurations([JUST_ABOVE_2_53, INT64_MAX]);
      const secret = await readSecret(cp, 'harikube', 'e2e-int64');
      assert.equal(
        secret?.data['0000000001-harikube.int64-exact.yaml'],
        `backends:
- name: int64-exact
  endpoint: postgres://app:pw@int64-exact.harikube.svc:5432/kine
  connectionPool:
    maxLifeTime: ${lifeTime}
    maxIdleLifeTime: ${idleLifeTime}
  customresource:
    group: int64-exact.example.com
`,
      );

      // No drift: the webhooks left the values as written, so applying again changes nothing.
      const again = await mustApply(cp, exact);
      assert.match(again, /topologyconfig\.harikube\.info\/int64-exact unchanged/);
      const diff = await cp.kubectl(['diff', '-f', '-'], { input: exact });
      assert.equal(diff.code, 0, diff.stdout + diff.stderr);

      // One past int64 max: the API server reads it as a float and its schema refuses it
      // (the webhook's own limit serves `topology validate`). A negative count: the webhook.
      const over = await apply(cp, manifest('int64-over', '9223372036854775808', '0'));
      assert.notEqual(over.code, 0);
      assert.match(
        over.stderr,
        /spec\.backends\[0\]\.connectionPool\.maxLifeTime in body must be of type integer/,
      );
      const negative = await apply(cp, manifest('int64-negative', '0', '-9007199254740993'));
      assert.notEqual(negative.code, 0);
      assert.match(
        negative.stderr,
        /spec\.backends\[0\]\.connectionPool\.maxIdleLifeTime: must not be negative/,
      );
      assert.equal(await readConfig(cp, NS, 'int64-over'), undefined);
      assert.equal(await readConfig(cp, NS, 'int64-negative'), undefined);
    }));

  test('a duration Go cannot read is refused by the API server, with the forms it takes', () =>
    withLogs(env, async ({ cp }) => {
      await ensureNamespace(cp, NS);
      const result = await apply(
        cp,
        `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: one-day
  namespace: ${NS}
spec:
  targetSecret: ${TARGET}
  backends:
  - name: one-day
    endpoint: postgres://app:pw@day-db.harikube.svc:5432/kine
    connectionPool:
      maxLifeTime: 1d
    customresource:
      group: days.example.com
`,
      );
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /spec\.backends\[0\]\.connectionPool\.maxLifeTime/);
      assert.equal(await readConfig(cp, NS, 'one-day'), undefined);
    }));
});
