// End-to-end: who may route what, with real identities on a real API server.
// A tenant ServiceAccount (team-b:dev) holds only the TopologyConfig editor
// role in its own namespace; the admin is system:masters. Every route of the
// issue is refused for the tenant with a reason naming the missing grant;
// the granted ones are admitted; the tenant cannot write a grant, nor make an
// unsafe change by setting the override annotation; a grant that shrinks
// keeps the entry in the Secret; with the webhook removed, the reconciler
// holds the same line.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { unregisterWebhooks } from '../harness/product.ts';
import { createServiceAccount, serviceAccountToken } from './credentials.ts';
import {
  ALLOW_HARIKUBE_TARGETS,
  ensureNamespace,
  eventsOf,
  getJson,
  mustDeleteConfig,
  mustApply,
  OVERRIDE,
  readConfig,
  readSecret,
  useEnv,
  waitFor,
  waitForStatus,
  withLogs,
} from './support.ts';

const TARGET = 'harikube/tenancy';
const TENANT = 'system:serviceaccount:team-b:dev';
const env = useEnv({
  namespaces: ['team-a', 'team-b'],
  productArgs: [ALLOW_HARIKUBE_TARGETS, '--platform-namespaces=harikube'],
});

let token: string;

function config(options: {
  name: string;
  namespace?: string;
  position: number;
  route: string;
  endpoint?: string;
  backend?: string;
  annotations?: Record<string, string>;
}): string {
  const annotations = Object.entries(options.annotations ?? {})
    .map(([k, v]) => `\n    ${k}: "${v}"`)
    .join('');
  return `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: ${options.name}
  namespace: ${options.namespace ?? 'team-b'}${annotations ? `\n  annotations:${annotations}` : ''}
spec:
  targetSecret: ${TARGET}
  position: ${options.position}
  backends:
  - name: ${options.backend ?? `${options.name}-db`}
    endpoint: ${options.endpoint ?? `mysql://app:pw@tcp(${options.name}.team-b.svc:3306)/kine`}
    ${options.route}
`;
}

function grant(uid: string, groups: string[]): string {
  return `apiVersion: harikube.info/v1
kind: TopologyRoutingGrant
metadata:
  name: team-b
spec:
  namespace: team-b
  namespaceUID: ${uid}
  groups: [${groups.map((g) => JSON.stringify(g)).join(', ')}]
  kinds: ['*']
  namespaces: ['<namespace>']
  endpoints:
    schemes: [mysql]
    hosts: ['*.<namespace>.svc']
  positions: {min: 100, max: 199}
`;
}

const asTenant = (args: string[], input?: string) =>
  env.cp.kubectl([`--token=${token}`, ...args], input === undefined ? {} : { input });
const tenantApply = (yaml: string) => asTenant(['apply', '-f', '-'], yaml);

describe('tenant routing policy with real identities', () => {
  let uid: string;
  before(async () => {
    const { cp } = env;
    await createServiceAccount(cp, 'team-b', 'dev');
    const bound = await cp.kubectl([
      'create',
      'rolebinding',
      'dev-edits-configs',
      '-n',
      'team-b',
      '--clusterrole=topologyconfig-editor',
      `--serviceaccount=team-b:dev`,
    ]);
    assert.equal(bound.code, 0, bound.stderr);
    token = await serviceAccountToken(cp, 'team-b', 'dev');
    const ns = await cp.kubectl(['get', 'namespace', 'team-b', '-o', 'jsonpath={.metadata.uid}']);
    uid = ns.stdout.trim();
    assert.match(uid, /^[0-9a-f-]{36}$/);
  });

  test('without a grant, a tenant namespace routes nothing; the reason says where to grant', () =>
    withLogs(env, async () => {
      const refused = await tenantApply(
        config({
          name: 'nothing',
          position: 150,
          route: 'customresource: {group: shop.team-b.example.com}',
        }),
      );
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /team-b is a tenant namespace that may route nothing: namespace team-b has no TopologyRoutingGrant .*kubectl get topologyroutinggrants/,
      );
    }));

  test('the tenant cannot create or change a grant', () =>
    withLogs(env, async () => {
      const created = await tenantApply(grant(uid, ['*.example.com']));
      assert.notEqual(created.code, 0);
      assert.match(
        created.stderr,
        /forbidden: User "system:serviceaccount:team-b:dev" cannot (get|create|patch) resource "topologyroutinggrants"/,
      );
      await mustApply(env.cp, grant(uid, ['shop.team-b.example.com']));
      const changed = await asTenant([
        'patch',
        'topologyroutinggrant',
        'team-b',
        '--type=merge',
        '-p',
        '{"spec":{"groups":["*.example.com"]}}',
      ]);
      assert.notEqual(changed.code, 0);
      assert.match(changed.stderr, /cannot (get|patch) resource "topologyroutinggrants"/);
    }));

  const refusals: [string, string, RegExp, number?][] = [
    [
      'every new Secret (prefix /registry/secrets/)',
      'prefix: {prefix: /registry/secrets/}',
      /spec\.backends\[0\]\.prefix\.prefix: routes the keys under "\/registry\/secrets\/", which lie within no granted prefix: the TopologyRoutingGrant in force for namespace team-b \("team-b"\) does not allow it in spec\.prefixes/,
    ],
    [
      'everything new in kube-system',
      'namespace: {namespace: kube-system, kinds: [configmaps]}',
      /namespace\.namespace: routes namespace "kube-system", which is not granted: .* spec\.namespaces/,
    ],
    [
      "another team's API group",
      'customresource: {group: payments.example.com, kind: payments}',
      /customresource\.group: routes "payments" of API group "payments\.example\.com", which is not granted: .* spec\.groups/,
    ],
    [
      "regexp '.*'",
      "regexp: {prefix: '.*'}",
      /spec\.backends\[0\]\.regexp: its keys cannot be shown to lie within a granted prefix/,
    ],
    [
      'secrets of its own namespace (security-sensitive, not granted by name)',
      'namespace: {namespace: team-b, kinds: [secrets]}',
      /"secrets" is security-sensitive and routed only when granted by name/,
    ],
    [
      'position 1 (outside the band)',
      'customresource: {group: shop.team-b.example.com}',
      /spec\.position: 1 is outside the band of positions granted to namespace team-b \(100–199\)/,
      1,
    ],
  ];
  for (const [name, route, reason, position] of refusals) {
    test(`refused for the tenant: ${name}`, () =>
      withLogs(env, async () => {
        const refused = await tenantApply(
          config({ name: 'refused', position: position ?? 150, route }),
        );
        assert.notEqual(refused.code, 0, refused.stdout);
        assert.match(refused.stderr, reason);
        assert.equal(await readConfig(env.cp, 'team-b', 'refused'), undefined);
      }));
  }

  test('refused for the tenant: an endpoint outside the granted hosts (without showing it)', () =>
    withLogs(env, async () => {
      const refused = await tenantApply(
        config({
          name: 'refused',
          position: 150,
          route: 'customresource: {group: shop.team-b.example.com}',
          endpoint: 'mysql://app:hunter2@tcp(db.team-a.svc:3306)/kine',
        }),
      );
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /spec\.backends\[0\]\.endpoint: points at a mysql database on a host that is not granted/,
      );
      assert.ok(!refused.stderr.includes('hunter2') && !refused.stderr.includes('db.team-a.svc'));
    }));

  test('what the grant allows is admitted for the tenant and goes Active', () =>
    withLogs(env, async () => {
      const admitted = await tenantApply(
        config({
          name: 'shop',
          position: 150,
          route: 'customresource: {group: shop.team-b.example.com}',
        }),
      );
      assert.equal(admitted.code, 0, admitted.stderr);
      await waitForStatus(env.cp, 'team-b', 'shop', 'Active');
    }));

  test('the override annotation: refused for the tenant, admitted for the admin (authorised per change)', () =>
    withLogs(env, async () => {
      const { cp } = env;
      // team-b/shop (position 150) is Active and receives the whole group; a config before it
      // that takes some of those keys (first match) would strand what shop has stored there.
      await waitForStatus(cp, 'team-b', 'shop', 'Active');
      const ahead = config({
        name: 'ahead',
        position: 140,
        route: 'customresource: {group: shop.team-b.example.com, kind: carts}',
        annotations: OVERRIDE,
      });
      const refused = await tenantApply(ahead);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /would take keys that team-b\/shop \(position 150\) receives through spec\.backends\[0\]\.customresource, e\.g\. \/registry\/shop\.team-b\.example\.com\/carts\//,
      );
      assert.match(
        refused.stderr,
        new RegExp(
          `the override is not authorised for user "${TENANT}": RBAC does not allow the verb "override" on topologyconfigs\\.harikube\\.info in namespace team-b`,
        ),
      );
      // The admin may (system:masters is allowed every verb).
      const admitted = await mustApply(cp, ahead);
      assert.match(
        admitted,
        /unsafe routing change admitted under harikube\.info\/allow-unsafe-routing-change for user "[^"]+", authorised to override in namespace team-b/,
      );
    }));

  test('an annotation left on the object grants nothing to the next editor', () =>
    withLogs(env, async () => {
      const { cp } = env;
      // team-b/ahead carries the annotation (the admin set it); the tenant renames a backend.
      await waitForStatus(cp, 'team-b', 'ahead', 'Active');
      const renamed = config({
        name: 'ahead',
        position: 140,
        backend: 'renamed-db',
        route: 'customresource: {group: shop.team-b.example.com, kind: carts}',
        annotations: OVERRIDE,
      });
      const refused = await tenantApply(renamed);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /renamed from "ahead-db" to "renamed-db".*the override is not authorised for user/s,
      );
      // Bound to override in team-b, the tenant may change its own config's routing.
      const bound = await cp.kubectl([
        'create',
        'rolebinding',
        'dev-overrides',
        '-n',
        'team-b',
        '--clusterrole=topologyconfig-routing-override',
        '--serviceaccount=team-b:dev',
      ]);
      assert.equal(bound.code, 0, bound.stderr);
      await waitFor(
        'the override binding to take effect',
        async () => (await tenantApply(renamed)).code === 0,
      );
    }));

  test('a grant that shrinks: the config goes to Error with an Event, and keeps its entry in the Secret', () =>
    withLogs(env, async () => {
      const { cp } = env;
      const before = await readSecret(cp, 'harikube', 'tenancy');
      const key = Object.keys(before!.data).find((k) => k.endsWith('-team-b.shop.yaml'))!;
      assert.ok(key, JSON.stringify(Object.keys(before!.data)));
      await mustApply(cp, grant(uid, ['other.team-b.example.com']));
      const failed = await waitForStatus(cp, 'team-b', 'shop', 'Error');
      assert.match(
        failed.status.deployStatusReason,
        /routes the whole API group "shop\.team-b\.example\.com", which is not granted/,
      );
      assert.equal(failed.status.keptInSecret, true);
      const after = await readSecret(cp, 'harikube', 'tenancy');
      assert.equal(after!.data[key], before!.data[key]);
      const events = await eventsOf(cp, 'team-b', 'shop');
      assert.ok(
        events.some((e) => e.type === 'Warning' && /not granted/.test(e.message)),
        JSON.stringify(events),
      );
    }));

  test('deleting a namespace: its Active config is not deleted behind its data; the namespace waits for an authorised user', () =>
    withLogs(env, async () => {
      const { cp } = env;
      await ensureNamespace(cp, 'team-c');
      const ns = await cp.kubectl(['get', 'namespace', 'team-c', '-o', 'jsonpath={.metadata.uid}']);
      await mustApply(
        cp,
        grant(ns.stdout.trim(), ['c.example.com'])
          .replaceAll('team-b', 'team-c')
          .replace('{min: 100, max: 199}', '{min: 300, max: 399}'),
      );
      await mustApply(
        cp,
        config({
          name: 'orders',
          namespace: 'team-c',
          position: 300,
          route: 'customresource: {group: c.example.com}',
          endpoint: 'mysql://app:pw@tcp(db.team-c.svc:3306)/kine',
          // Set by the admin; the annotation stays on the object and grants the
          // namespace controller nothing.
          annotations: OVERRIDE,
        }),
      );
      await waitForStatus(cp, 'team-c', 'orders', 'Active');
      const entry = (data: Record<string, string>) =>
        Object.keys(data).filter((k) => k.endsWith('-team-c.orders.yaml'));
      assert.equal(entry((await readSecret(cp, 'harikube', 'tenancy'))!.data).length, 1);

      const deleted = await cp.kubectl(['delete', 'namespace', 'team-c', '--wait=false']);
      assert.equal(deleted.code, 0, deleted.stderr);
      // kube-controller-manager's namespace controller deletes as its own
      // ServiceAccount, which may not override: the delete is refused.
      const failure = await waitFor(
        'the namespace controller to report the refused delete',
        async () => {
          const namespace = await getJson<{
            status?: { conditions?: { type: string; status: string; message?: string }[] };
          }>(cp, ['namespace', 'team-c']);
          return namespace?.status?.conditions?.find(
            (c) => c.type === 'NamespaceDeletionContentFailure' && c.status === 'True',
          );
        },
        90_000,
        500,
      );
      assert.match(failure.message ?? '', /topologyconfigs/);
      assert.equal(
        (await readConfig(cp, 'team-c', 'orders'))?.metadata.deletionTimestamp,
        undefined,
      );
      assert.equal(entry((await readSecret(cp, 'harikube', 'tenancy'))!.data).length, 1);

      // An authorised user (the admin) releases it; then the namespace goes.
      await mustDeleteConfig(cp, 'team-c', 'orders', '--wait=false');
      await waitFor(
        'namespace team-c to be gone',
        async () => (await getJson(cp, ['namespace', 'team-c'])) === undefined,
        120_000,
        1000,
      );
      assert.deepEqual(entry((await readSecret(cp, 'harikube', 'tenancy'))!.data), []);
    }));

  test('with the webhook configurations removed, a violating config ends in Error and is not merged', () =>
    withLogs(env, async () => {
      const { cp } = env;
      await unregisterWebhooks(cp);
      await waitFor('a config to get past admission', async () => {
        const created = await tenantApply(
          config({ name: 'bypass', position: 170, route: 'prefix: {prefix: /registry/secrets/}' }),
        );
        return created.code === 0;
      });
      const failed = await waitForStatus(cp, 'team-b', 'bypass', 'Error');
      assert.match(failed.status.deployStatusReason, /lie within no granted prefix/);
      assert.notEqual(failed.status.keptInSecret, true);
      const secret = await readSecret(cp, 'harikube', 'tenancy');
      assert.ok(!Object.keys(secret!.data).some((k) => k.includes('team-b.bypass')));
    }));
});
