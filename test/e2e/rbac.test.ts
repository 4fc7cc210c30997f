// End-to-end: the product runs with the credentials of its own ServiceAccount
// (harikube-system/topology-webhook, a TokenRequest token) and exactly the
// RBAC of deploy/, on a real kube-apiserver. Everything it does must work:
// caches, the shared TLS Secret and caBundle, the Lease, Active configs with
// their Secret, Events, deletion; and what it should not be able to write,
// it cannot.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { kubectlAs, productCredentials } from './credentials.ts';
import {
  configYaml,
  eventsOf,
  getJson,
  mustApply,
  mustDeleteConfig,
  OVERRIDE,
  readConfig,
  readSecret,
  sleep,
  useEnv,
  waitFor,
  waitForStatus,
  withLogs,
} from './support.ts';

const NS = 'harikube-system';
const SA_USER = `system:serviceaccount:${NS}:topology-webhook`;

let token: string;
// deploy/ (namespaces, the ServiceAccount, every Role and binding, the
// webhook configurations), then the product with the ServiceAccount's token.
// Its kubeconfig list starts with the admin's file, whose current-context
// wins unless --context picks the ServiceAccount's: every test below that
// sees the ServiceAccount's RBAC (a 403 naming it) shows the flag is honoured.
const env = useEnv({
  namespaces: ['team-a', 'team-x'],
  products: async (cp) => {
    const credentials = await productCredentials(cp);
    token = credentials.token;
    return [
      {
        kubeconfigPath: `${cp.kubeconfigPath}:${credentials.kubeconfigPath}`,
        leaderElect: true,
        args: [
          `--context=${credentials.context}`,
          '--allowed-target-secrets=harikube/topology-config,team-x/*',
        ],
      },
    ];
  },
});

describe('the product with its ServiceAccount’s own credentials', () => {
  test('runs as the ServiceAccount, not as an admin', () =>
    withLogs(env, async ({ cp }) => {
      const whoami = await kubectlAs(cp, token, ['auth', 'whoami', '-o', 'json']);
      assert.equal(whoami.code, 0, whoami.stderr);
      const review = JSON.parse(whoami.stdout) as { status: { userInfo: { username: string } } };
      assert.equal(review.status.userInfo.username, SA_USER);
      const admin = await kubectlAs(cp, token, ['auth', 'can-i', '*', '*']);
      assert.equal(admin.stdout.trim(), 'no');
    }));

  test('its caches sync (configs, managed Secrets, Secrets asking adoption, key Secrets, grants and namespaces)', () => {
    const synced = env.product
      .logs()
      .filter((l) => l.msg === 'cache synced')
      .map((l) => l.informer)
      .sort();
    assert.deepEqual(synced, [
      'adopt-secrets',
      'endpoint-key-secrets',
      'managed-secrets',
      'namespaces',
      'topologyconfigs',
      'topologyroutinggrants',
    ]);
  });

  test('it created the shared TLS Secret and injected its CA into both webhook configurations', () =>
    withLogs(env, async ({ cp }) => {
      const secret = await getJson<{ type: string; data: Record<string, string> }>(cp, [
        'secret',
        '-n',
        NS,
        'topology-webhook-tls',
      ]);
      assert.ok(secret, 'the shared TLS Secret exists');
      assert.equal(secret.type, 'kubernetes.io/tls');
      for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
        const config = await getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(cp, [
          kind,
          'topology-webhook',
        ]);
        assert.equal(config?.webhooks[0]?.clientConfig.caBundle, secret.data['ca.crt'], kind);
      }
    }));

  test('it holds the leader-election Lease', () =>
    withLogs(env, async ({ cp, product }) => {
      const lease = await waitFor('the Lease to be held', async () => {
        const l = await getJson<{ spec: { holderIdentity?: string } }>(cp, [
          'lease',
          '-n',
          NS,
          'topology-webhook.harikube.info',
        ]);
        return l?.spec.holderIdentity ? l : undefined;
      });
      assert.ok(product.logs().some((l) => l.msg === 'became leader'));
      assert.ok(lease.spec.holderIdentity);
    }));

  test('a valid config becomes Active, its Secret is written and an Event recorded', () =>
    withLogs(env, async ({ cp }) => {
      await mustApply(
        cp,
        configYaml({
          name: 'orders',
          namespace: 'team-a',
          position: 1,
          annotations: OVERRIDE,
          backends: [{ name: 'orders-db', endpoint: 'mysql://app:pw@tcp(orders.db:3306)/kine' }],
        }),
      );
      await waitForStatus(cp, 'team-a', 'orders', 'Active');
      const secret = await readSecret(cp, 'harikube', 'topology-config');
      assert.deepEqual(Object.keys(secret?.data ?? {}), ['0000000001-team-a.orders.yaml']);
      const events = await waitFor('an Active Event', async () =>
        (await eventsOf(cp, 'team-a', 'orders')).find((e) => e.reason === 'Active'),
      );
      assert.equal(events.type, 'Normal');
    }));

  test('deleting it removes its backends from the Secret and releases the finalizer', () =>
    withLogs(env, async ({ cp }) => {
      await mustDeleteConfig(cp, 'team-a', 'orders', '--timeout=30s');
      assert.equal(await readConfig(cp, 'team-a', 'orders'), undefined);
      assert.deepEqual((await readSecret(cp, 'harikube', 'topology-config'))?.data, {});
    }));

  test('a config naming a target Secret its RBAC does not cover ends in Error with the reason', () =>
    withLogs(env, async ({ cp, product }) => {
      await mustApply(
        cp,
        configYaml({
          name: 'routes',
          namespace: 'team-x',
          position: 1,
          targetSecret: 'team-x/routes',
          backends: [{ name: 'routes-db', endpoint: 'postgres://routes.db:5432/kine' }],
        }),
      );
      const config = await waitForStatus(cp, 'team-x', 'routes', 'Error');
      assert.equal(
        config.status.deployStatusReason,
        `the operator is not allowed to write Secret team-x/routes (RBAC): secrets is forbidden: User "${SA_USER}" cannot create resource "secrets" in API group "" in the namespace "team-x"`,
      );
      assert.equal(await readSecret(cp, 'team-x', 'routes'), undefined);
      const warning = await waitFor('an Error Event', async () =>
        (await eventsOf(cp, 'team-x', 'routes')).find((e) => e.reason === 'Error'),
      );
      assert.equal(warning.type, 'Warning');
      assert.equal(warning.message, config.status.deployStatusReason);
      // Not a crash loop, not a hot retry loop.
      await sleep(2_000);
      assert.equal(await product.ready(), true);
      const failures = product.logs().filter((l) => l.msg === 'reconcile failed; will retry');
      assert.deepEqual(failures, []);
      // And it can still be deleted: the Secret never held its backends.
      await mustDeleteConfig(cp, 'team-x', 'routes', '--timeout=30s');
    }));

  test('nothing it did was refused (no 403 in its log)', () => {
    const refused = env.product
      .logs()
      .filter((l) => (l.level as number) >= 40 && /forbidden|\b403\b/i.test(JSON.stringify(l)));
    assert.deepEqual(refused, []);
  });
});

describe('writes the ServiceAccount must not make are forbidden', () => {
  before(async () => {
    // Secrets that exist but are not the product's to write.
    const existing: [string, string][] = [
      ['harikube', 'not-the-target'],
      [NS, 'other'],
    ];
    for (const [ns, name] of existing) {
      const created = await env.cp.kubectl([
        'create',
        'secret',
        'generic',
        name,
        '-n',
        ns,
        '--from-literal=k=v',
      ]);
      assert.equal(created.code, 0, created.stderr);
    }
  });

  const cases: [string, string[], string][] = [
    [
      'create a Secret in default',
      ['create', 'secret', 'generic', 'x', '-n', 'default', '--from-literal=a=b'],
      'cannot create resource "secrets" in API group "" in the namespace "default"',
    ],
    [
      'create a Secret in a tenant namespace',
      ['create', 'secret', 'generic', 'x', '-n', 'team-x', '--from-literal=a=b'],
      'cannot create resource "secrets" in API group "" in the namespace "team-x"',
    ],
    [
      'update another Secret in the target namespace',
      ['label', 'secret', 'not-the-target', '-n', 'harikube', 'x=y'],
      'cannot patch resource "secrets" in API group "" in the namespace "harikube"',
    ],
    [
      'update another Secret in its own namespace',
      ['label', 'secret', 'other', '-n', NS, 'x=y'],
      `cannot patch resource "secrets" in API group "" in the namespace "${NS}"`,
    ],
    [
      'delete the target Secret',
      ['delete', 'secret', 'topology-config', '-n', 'harikube'],
      'cannot delete resource "secrets" in API group "" in the namespace "harikube"',
    ],
    [
      'delete its own TLS Secret',
      ['delete', 'secret', 'topology-webhook-tls', '-n', NS],
      `cannot delete resource "secrets" in API group "" in the namespace "${NS}"`,
    ],
    [
      'create a TopologyConfig',
      ['create', '-f', '-'],
      'cannot create resource "topologyconfigs" in API group "harikube.info" in the namespace "team-a"',
    ],
    [
      'read or change another webhook configuration',
      ['label', 'validatingwebhookconfiguration', 'other-webhook', 'x=y'],
      'cannot get resource "validatingwebhookconfigurations" in API group "admissionregistration.k8s.io" at the cluster scope',
    ],
  ];
  for (const [name, args, message] of cases) {
    test(name, () =>
      withLogs(env, async ({ cp }) => {
        if (args.includes('validatingwebhookconfiguration')) {
          const other = await cp.kubectl(['apply', '-f', '-'], {
            input:
              'apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: other-webhook\nwebhooks: []\n',
          });
          assert.equal(other.code, 0, other.stderr);
        }
        const input = configYaml({
          name: 'forged',
          namespace: 'team-a',
          position: 9,
          backends: [{ name: 'forged-db', endpoint: 'postgres://forged.db:5432/kine' }],
        });
        const result = await cp.kubectl([`--token=${token}`, ...args], { input });
        assert.notEqual(result.code, 0, `should be forbidden: ${result.stdout}`);
        assert.ok(
          result.stderr.includes(` is forbidden: User "${SA_USER}" ${message}`),
          `unexpected error: ${result.stderr}`,
        );
      }),
    );
  }

  test('while the writes it needs are allowed (the token is valid and scoped as documented)', () =>
    withLogs(env, async ({ cp }) => {
      const allowed: string[][] = [
        ['create', 'secrets', '-n', 'harikube'],
        ['update', 'secrets/topology-config', '-n', 'harikube'],
        ['update', 'secrets/topology-webhook-tls', '-n', NS],
        ['update', 'leases/topology-webhook.harikube.info', '-n', NS],
        ['patch', 'topologyconfigs.harikube.info/status', '-n', 'team-a'],
      ];
      for (const args of allowed) {
        const result = await kubectlAs(cp, token, ['auth', 'can-i', ...args]);
        assert.equal(result.stdout.trim(), 'yes', args.join(' '));
      }
    }));
});
