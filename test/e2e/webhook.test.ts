// End-to-end: the admission webhook registered in a real kube-apiserver
// through Validating/MutatingWebhookConfigurations (https on loopback, the
// caBundle injected by the server), exercised with kubectl as a user would.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  annotateOverride,
  apply,
  configYaml,
  deleteConfig,
  mustApply,
  mustDeleteConfig,
  OVERRIDE,
  readConfig,
  readSecret,
  useEnv,
  waitForStatus,
  withLogs,
} from './support.ts';

const env = useEnv({ namespaces: ['team-a', 'team-b', 'team-c'] });

const backend = (name: string, extra?: string) => ({
  name,
  endpoint: `mysql://app:pw@tcp(${name}.db:3306)/kine`,
  extra,
});

describe('kubectl apply of a bad config fails with the field path and the reason', () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'a backend without any routing selector',
      configYaml({
        name: 'no-selector',
        namespace: 'team-c',
        position: 50,
        backends: [backend('no-selector-db', 'backendTLS: {skipVerify: true}')],
      }),
      /spec\.backends\[0\]: Required value: .*routing selector/,
    ],
    [
      'a look-ahead regexp (JavaScript accepts it, Go RE2 does not)',
      configYaml({
        name: 'lookahead',
        namespace: 'team-c',
        position: 51,
        backends: [backend('lookahead-db', 'regexp: {prefix: "^/registry/(?=pods)"}')],
      }),
      /spec\.backends\[0\]\.regexp\.prefix: .*RE2.*\(\?=/,
    ],
    [
      'a back-reference regexp',
      configYaml({
        name: 'backref',
        namespace: 'team-c',
        position: 52,
        backends: [backend('backref-db', 'regexp: {key: "(a)\\\\1"}')],
      }),
      /spec\.backends\[0\]\.regexp\.key: .*RE2/,
    ],
    [
      'a prefix with whitespace, which no storage key has',
      configYaml({
        name: 'bad-prefix',
        namespace: 'team-c',
        position: 53,
        backends: [backend('bad-prefix-db', 'prefix: {prefix: "registry pods"}')],
      }),
      /spec\.backends\[0\]\.prefix\.prefix: must not contain whitespace/,
    ],
    [
      'a customresource selector without a group',
      configYaml({
        name: 'no-group',
        namespace: 'team-c',
        position: 54,
        backends: [backend('no-group-db', 'customresource: {kind: shirts}')],
      }),
      /spec\.backends\[0\]\.customresource\.group: Required value/,
    ],
    [
      'a namespace selector with an invalid namespace',
      configYaml({
        name: 'bad-ns',
        namespace: 'team-c',
        position: 55,
        backends: [backend('bad-ns-db', 'namespace: {namespace: Not_A_Namespace}')],
      }),
      /spec\.backends\[0\]\.namespace\.namespace: "Not_A_Namespace"/,
    ],
    [
      'a malformed targetSecret',
      configYaml({
        name: 'bad-target',
        namespace: 'team-c',
        position: 56,
        targetSecret: 'no-slash',
        backends: [backend('bad-target-db')],
      }),
      /spec\.targetSecret: "no-slash"/,
    ],
    [
      'a target Secret the cluster policy does not allow',
      configYaml({
        name: 'other-target',
        namespace: 'team-c',
        position: 57,
        targetSecret: 'kube-system/bootstrap-token',
        backends: [backend('other-target-db')],
      }),
      /spec\.targetSecret: .*(not allowed|allowed)/,
    ],
    [
      'an endpointDecryptSecret in another namespace',
      configYaml({
        name: 'cross-ns-key',
        namespace: 'team-c',
        position: 58,
        endpointDecryptSecret: 'team-a/keys',
        backends: [backend('cross-ns-key-db')],
      }),
      /spec\.endpointDecryptSecret: .*namespace/,
    ],
    [
      'an endpointDecryptSecret that does not exist',
      configYaml({
        name: 'missing-key',
        namespace: 'team-c',
        position: 59,
        endpointDecryptSecret: 'team-c/nope',
        backends: [backend('missing-key-db')],
      }),
      /spec\.endpointDecryptSecret: .*(not found|does not exist)/,
    ],
    [
      'a negative duration beyond 2^53 (read exactly, as int64 min)',
      configYaml({
        name: 'huge-duration',
        namespace: 'team-c',
        position: 60,
        backends: [
          backend(
            'huge-duration-db',
            'connectionPool: {maxLifeTime: -9223372036854775808}\ncustomresource: {group: g.example.com, kind: huge}',
          ),
        ],
      }),
      /spec\.backends\[0\]\.connectionPool\.maxLifeTime: must not be negative/,
    ],
    [
      'a negative duration',
      configYaml({
        name: 'negative',
        namespace: 'team-c',
        position: 61,
        backends: [
          backend(
            'negative-db',
            'connectionPool: {maxIdleLifeTime: -1}\ncustomresource: {group: g.example.com, kind: negative}',
          ),
        ],
      }),
      /spec\.backends\[0\]\.connectionPool\.maxIdleLifeTime: must not be negative/,
    ],
    [
      'two backends with the same name in one config',
      configYaml({
        name: 'dup',
        namespace: 'team-c',
        position: 62,
        backends: [
          backend('dup-db'),
          { ...backend('dup-db'), endpoint: 'mysql://other', kind: 'other' },
        ],
      }),
      /spec\.backends\[1\]\.name: .*dup-db/,
    ],
    // Keys nobody may route (the deny list), whoever asks.
    [
      'a route over every Secret, the target Secret included (HariKube docs write "secrets")',
      configYaml({
        name: 'all-secrets',
        namespace: 'team-c',
        position: 63,
        backends: [backend('all-secrets-db', 'prefix: {prefix: secrets}')],
      }),
      /spec\.backends\[0\]\.prefix: routes the target Secret harikube\/topology-config \(e\.g\. \/registry\/secrets\/harikube\/topology-config\).*which must stay in the main database, whoever asks/,
    ],
    [
      'a route over TopologyConfigs',
      configYaml({
        name: 'configs',
        namespace: 'team-c',
        position: 64,
        backends: [
          backend('configs-db', 'customresource: {group: harikube.info, kind: topologyconfigs}'),
        ],
      }),
      /spec\.backends\[0\]\.customresource: routes TopologyConfigs \(e\.g\. \/registry\/harikube\.info\/topologyconfigs\/…\)/,
    ],
    [
      'a route over Namespaces, cluster RBAC and CRDs',
      configYaml({
        name: 'cluster-objects',
        namespace: 'team-c',
        position: 65,
        backends: [
          backend(
            'cluster-objects-db',
            'regexp: {key: "^/registry/(namespaces|clusterroles|apiextensions\\\\.k8s\\\\.io)/"}',
          ),
        ],
      }),
      /spec\.backends\[0\]\.regexp: routes Namespaces .*ClusterRoles and ClusterRoleBindings \(RBAC\).*CustomResourceDefinitions/,
    ],
  ];
  for (const [name, yaml, expected] of cases) {
    test(name, () =>
      withLogs(env, async ({ cp }) => {
        const result = await apply(cp, yaml);
        assert.notEqual(result.code, 0, `apply should fail, got: ${result.stdout}`);
        assert.match(result.stderr, /The TopologyConfig "[a-z-]+" is invalid/);
        assert.match(result.stderr, expected);
        assert.ok(!result.stderr.includes('app:pw@'), 'the endpoint must not appear in the reason');
        // --dry-run=server is judged the same way.
        const dry = await apply(cp, yaml, ['--dry-run=server']);
        assert.notEqual(dry.code, 0);
        assert.match(dry.stderr, expected);
      }),
    );
  }

  test('the apiserver itself (schema) and the webhook agree: position 0 and empty backends are refused', () =>
    withLogs(env, async ({ cp }) => {
      const zero = await apply(
        cp,
        configYaml({
          name: 'zero',
          namespace: 'team-c',
          position: 0,
          backends: [backend('zero-db')],
        }),
      );
      assert.notEqual(zero.code, 0);
      assert.match(zero.stderr, /spec\.position/);
    }));
});

describe('a valid config', () => {
  test('is admitted, mutated (position, label, finalizer) and becomes Active', () =>
    withLogs(env, async ({ cp }) => {
      const started = Date.now();
      const output = await mustApply(
        cp,
        configYaml({ name: 'orders', namespace: 'team-a', backends: [backend('orders-db')] }),
      );
      assert.match(output, /topologyconfig\.harikube\.info\/orders created/);
      const object = await waitForStatus(cp, 'team-a', 'orders', 'Active');
      console.log(
        `# kubectl apply → Active: ${Date.now() - started} ms (including kubectl start-up)`,
      );
      assert.equal(object.spec.position, 1, 'an omitted position becomes the next free one');
      assert.equal(object.spec.targetSecret, 'harikube/topology-config');
      assert.equal(
        object.metadata.labels?.['harikube.info/target-secret'],
        'harikube.topology-config',
      );
      assert.deepEqual(object.metadata.finalizers, ['harikube.info/finalizer']);
      const listed = await cp.kubectl([
        'get',
        'topologyconfigs',
        '-n',
        'team-a',
        '-l',
        'harikube.info/target-secret=harikube.topology-config',
      ]);
      assert.match(listed.stdout, /orders\s+Active\s+1\s+harikube\/topology-config/);
      const data = (await readSecret(cp, 'harikube', 'topology-config'))?.data;
      assert.ok(data?.['0000000001-team-a.orders.yaml']?.includes('name: orders-db'));
    }));

  test('a second config without a position goes to the bottom', () =>
    withLogs(env, async ({ cp }) => {
      await mustApply(
        cp,
        configYaml({ name: 'payments', namespace: 'team-b', backends: [backend('payments-db')] }),
      );
      const object = await waitForStatus(cp, 'team-b', 'payments', 'Active');
      assert.equal(object.spec.position, 2);
    }));

  test('a dry run creates nothing', () =>
    withLogs(env, async ({ cp }) => {
      const dry = await apply(
        cp,
        configYaml({ name: 'dry', namespace: 'team-a', backends: [backend('dry-db')] }),
        ['--dry-run=server'],
      );
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(await readConfig(cp, 'team-a', 'dry'), undefined);
    }));

  test('warnings reach kubectl (an unknown endpoint scheme)', () =>
    withLogs(env, async ({ cp }) => {
      const result = await apply(
        cp,
        configYaml({
          name: 'odd-scheme',
          namespace: 'team-a',
          backends: [
            { name: 'odd-scheme-db', endpoint: 'cassandra://db:9042/kine', kind: 'oddities' },
          ],
        }),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Warning: .*spec\.backends\[0\]\.endpoint/);
      assert.ok(
        !result.stderr.includes('cassandra://db'),
        'the warning must not echo the endpoint',
      );
    }));
});

describe('conflicts and append-only safety', () => {
  test('a conflicting second config is refused, naming the first', () =>
    withLogs(env, async ({ cp }) => {
      await waitForStatus(cp, 'team-a', 'orders', 'Active');
      const result = await apply(
        cp,
        configYaml({
          name: 'orders-copy',
          namespace: 'team-b',
          position: 30,
          backends: [{ name: 'orders-db', endpoint: 'mysql://elsewhere', kind: 'copies' }],
        }),
      );
      assert.notEqual(result.code, 0);
      assert.match(
        result.stderr,
        /spec\.backends\[0\]\.name: "orders-db" is already used by team-a\/orders \(position 1\)/,
      );
    }));

  test('a dry run cannot tell a right password from a wrong one', () =>
    withLogs(env, async ({ cp }) => {
      await waitForStatus(cp, 'team-a', 'orders', 'Active');
      // team-a/orders points at mysql://app:pw@tcp(orders-db.db:3306)/kine.
      const guess = (userinfo: string) =>
        apply(
          cp,
          configYaml({
            name: 'guess',
            namespace: 'team-b',
            position: 31,
            backends: [
              {
                name: 'guess-db',
                endpoint: `mysql://${userinfo}@tcp(orders-db.db:3306)/kine`,
                kind: 'guesses',
              },
            ],
          }),
          ['--dry-run=server'],
        );
      const right = await guess('app:pw');
      const wrong = await guess('app:wrong');
      const other = await guess('root:hunter2');
      assert.notEqual(right.code, 0);
      assert.match(
        right.stderr,
        /spec\.backends\[0\]\.endpoint: points at the same database as team-a\/orders/,
      );
      assert.deepEqual(wrong, right, 'a wrong password gets the same answer');
      assert.deepEqual(other, right, 'another user gets the same answer');
      assert.equal(await readConfig(cp, 'team-b', 'guess'), undefined);
    }));

  test('first match across selector types: a route taking keys of an Active config after it is refused, naming it and the keys; one taking none is admitted', () =>
    withLogs(env, async ({ cp }) => {
      await mustApply(
        cp,
        configYaml({
          name: 'late',
          namespace: 'team-c',
          position: 20,
          backends: [
            backend('late-cr', 'customresource: {group: orders.example.com, kind: orders}'),
            backend('late-ns', 'namespace: {namespace: shop, kinds: [pods]}'),
            backend('late-carts', 'prefix: {prefix: /registry/carts/}'),
          ],
        }),
      );
      await waitForStatus(cp, 'team-c', 'late', 'Active');
      const refused: [string, string, RegExp][] = [
        [
          'a whole group over a kind',
          'customresource: {group: orders.example.com}',
          /spec\.backends\[0\]\.customresource: would take keys that team-c\/late \(position 20\) receives through spec\.backends\[0\]\.customresource, e\.g\. \/registry\/orders\.example\.com\/orders\/…/,
        ],
        [
          'a relative prefix over a group',
          'prefix: {prefix: orders.example.com}',
          /spec\.backends\[0\]\.prefix: would take keys that team-c\/late \(position 20\) receives through spec\.backends\[0\]\.customresource, e\.g\. \/registry\/orders\.example\.com\/orders\/…/,
        ],
        [
          'a namespace over kinds of it',
          'namespace: {namespace: shop}',
          /spec\.backends\[0\]\.namespace: would take keys that team-c\/late \(position 20\) receives through spec\.backends\[1\]\.namespace, e\.g\. \/registry\/pods\/shop\/…/,
        ],
        [
          'a prefix inside a namespace route',
          'prefix: {prefix: /registry/pods/shop/web}',
          /spec\.backends\[0\]\.prefix: would take keys that team-c\/late \(position 20\) receives through spec\.backends\[1\]\.namespace, e\.g\. \/registry\/pods\/shop\/web…/,
        ],
        [
          'an anchored regexp inside a prefix',
          'regexp: {key: "^/registry/carts/[0-9]+$"}',
          /spec\.backends\[0\]\.regexp: would take keys that team-c\/late \(position 20\) receives through spec\.backends\[2\]\.prefix, e\.g\. \/registry\/carts\/0/,
        ],
      ];
      for (const [what, selector, reason] of refused) {
        const result = await apply(
          cp,
          configYaml({
            name: 'early-taker',
            namespace: 'team-c',
            position: 19,
            backends: [backend('early-taker-db', selector)],
          }),
        );
        assert.notEqual(result.code, 0, what);
        assert.match(result.stderr, reason, what);
        assert.match(result.stderr, /harikube\.info\/allow-unsafe-routing-change/, what);
      }

      // Before it, but taking none of its keys: admitted, and it goes live.
      const early = {
        name: 'early',
        namespace: 'team-c',
        position: 19,
        backends: [
          backend('early-db', 'customresource: {group: orders.example.com, kind: invoices}'),
          backend('early-ns', 'namespace: {namespace: shop, kinds: [configmaps]}'),
        ],
      };
      const admitted = await mustApply(cp, configYaml(early));
      assert.doesNotMatch(admitted, /Warning/);
      await waitForStatus(cp, 'team-c', 'early', 'Active');

      // A backend appended to the Active config before it is held to the same rule.
      const appended = await apply(
        cp,
        configYaml({
          ...early,
          backends: [...early.backends, backend('early-more', 'prefix: {prefix: carts/x}')],
        }),
      );
      assert.notEqual(appended.code, 0);
      assert.match(
        appended.stderr,
        /spec\.backends\[2\]\.prefix: would take keys that team-c\/late \(position 20\) receives through spec\.backends\[2\]\.prefix, e\.g\. \/registry\/carts\/x…/,
      );

      // The override admits a taking route; the overlap is then a warning naming the winner.
      const overridden = await mustApply(
        cp,
        configYaml({
          name: 'early-taker',
          namespace: 'team-c',
          position: 18,
          annotations: OVERRIDE,
          backends: [backend('early-taker-db', 'customresource: {group: orders.example.com}')],
        }),
      );
      assert.match(overridden, /this config is matched first where both match/);
      await waitForStatus(cp, 'team-c', 'early-taker', 'Active');
    }));

  test('removing a backend of an Active config is refused; adding one at the end is accepted and goes live', () =>
    withLogs(env, async ({ cp }) => {
      const object = await waitForStatus(cp, 'team-b', 'payments', 'Active');
      const removed = await apply(
        cp,
        configYaml({
          name: 'payments',
          namespace: 'team-b',
          position: 2,
          backends: [backend('payments-other')],
        }),
      );
      assert.notEqual(removed.code, 0);
      assert.match(removed.stderr, /harikube\.info\/allow-unsafe-routing-change/);

      await mustApply(
        cp,
        configYaml({
          name: 'payments',
          namespace: 'team-b',
          position: 2,
          backends: [backend('payments-db'), backend('payments-archive')],
        }),
      );
      const updated = await waitForStatus(cp, 'team-b', 'payments', 'Active');
      assert.equal(updated.metadata.generation, object.metadata.generation + 1);
      const data = (await readSecret(cp, 'harikube', 'topology-config'))?.data;
      assert.match(
        data?.['0000000002-team-b.payments.yaml'] ?? '',
        /name: payments-db[\s\S]*name: payments-archive/,
      );
    }));

  test('deleting an Active config is refused; with the override annotation it is removed from the Secret, then deleted', () =>
    withLogs(env, async ({ cp }) => {
      // odd-scheme may not be Active yet, so whether its delete is refused is
      // not checked; orders is Active.
      await deleteConfig(cp, 'team-a', 'odd-scheme', '--wait=false');
      const active = await deleteConfig(cp, 'team-a', 'orders', '--wait=false');
      assert.notEqual(active.code, 0);
      assert.match(active.stderr, /harikube\.info\/allow-unsafe-routing-change/);

      await annotateOverride(cp, 'team-a', 'orders');
      await mustDeleteConfig(cp, 'team-a', 'orders', '--timeout=30s');
      assert.equal(await readConfig(cp, 'team-a', 'orders'), undefined);
      const data = (await readSecret(cp, 'harikube', 'topology-config'))?.data;
      assert.equal(data?.['0000000001-team-a.orders.yaml'], undefined);
    }));
});
