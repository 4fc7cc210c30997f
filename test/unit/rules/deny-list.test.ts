import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeTarget } from '../../../src/reconcile/merge.ts';
import type { Backend } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { validateCreate, validateStatic } from '../../../src/rules/index.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { backend, config, policy, TARGET } from './fixtures.ts';

const route = (selector: Partial<Backend>, extra: Parameters<typeof config>[0] = {}) =>
  config({
    namespace: 'team-a',
    name: 'router',
    position: 5,
    ...extra,
    backends: [{ ...backend('router-db', { prefix: undefined }), ...selector }],
  });

describe('keys nobody may route', () => {
  const refused: [string, Partial<Backend>, string][] = [
    [
      'every Secret (relative prefix)',
      { prefix: { prefix: 'secrets' } },
      'the target Secret harikube/topology-config (e.g. /registry/secrets/harikube/topology-config)',
    ],
    [
      'the target Secret itself',
      { prefix: { prefix: '/registry/secrets/harikube/topology-config' } },
      'the target Secret harikube/topology-config',
    ],
    [
      'target Secrets of an allowed namespace pattern',
      { namespace: { namespace: 'shared', kinds: ['secrets'] } },
      'the target Secrets shared/* (e.g. /registry/secrets/shared/…)',
    ],
    [
      'a regexp over the target Secret',
      { regexp: { key: 'topology-config$' } },
      'the target Secret harikube/topology-config',
    ],
    [
      'TopologyConfigs',
      { customresource: { group: 'harikube.info', kind: 'topologyconfigs' } },
      'TopologyConfigs (e.g. /registry/harikube.info/topologyconfigs/…)',
    ],
    ['Namespaces', { prefix: { prefix: 'namespaces/' } }, 'Namespaces'],
    [
      'cluster RBAC',
      { regexp: { key: '(clusterrolebindings|clusterroles)' } },
      'ClusterRoles and ClusterRoleBindings (RBAC)',
    ],
    ['CRDs', { customresource: { group: 'apiextensions.k8s.io' } }, 'CustomResourceDefinitions'],
    [
      'the product namespace',
      { namespace: { namespace: 'harikube-system' } },
      "the Secrets, Leases and RBAC of the product's namespace harikube-system (e.g. /registry/secrets/harikube-system/…)",
    ],
    [
      'its Lease',
      { prefix: { prefix: '/registry/leases/harikube-system/topology-webhook' } },
      "product's namespace harikube-system",
    ],
  ];
  for (const [name, selector, what] of refused) {
    test(`refused: ${name}`, () => {
      const { errors } = validateStatic(route(selector), policy).verdict;
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.type, 'Forbidden');
      assert.match(
        errors[0]!.field,
        /^spec\.backends\[0\]\.(prefix|namespace|regexp|customresource)$/,
      );
      assert.ok(errors[0]!.detail.includes(what), errors[0]!.detail);
      assert.match(errors[0]!.detail, /must stay in the main database, whoever asks/);
    });
  }

  test('a route over everything names what it takes, in one reason', () => {
    const { errors } = validateStatic(route({ prefix: { prefix: '/' } }), policy).verdict;
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.detail, /^routes TopologyConfigs .* and \d+ more, which must stay/);
  });

  const admitted: [string, Partial<Backend>][] = [
    ['pods (HariKube docs)', { prefix: { prefix: 'pods' } }],
    ['configmaps', { prefix: { prefix: 'configmaps' } }],
    ['a tenant namespace', { namespace: { namespace: 'team-a' } }],
    [
      'a custom resource group',
      { customresource: { group: 'stable.example.com', kind: 'shirts' } },
    ],
    ['Secrets of a tenant namespace', { prefix: { prefix: '/registry/secrets/team-a/' } }],
  ];
  for (const [name, selector] of admitted) {
    test(`admitted: ${name}`, () => {
      assert.deepEqual(validateStatic(route(selector), policy).verdict, {
        errors: [],
        warnings: [],
      });
    });
  }

  test('a regexp that cannot be decided is a warning', () => {
    const { errors, warnings } = validateStatic(route({ regexp: { key: 'web$' } }), policy).verdict;
    assert.deepEqual(errors, []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^spec\.backends\[0\]\.regexp may route .* cannot decide/);
  });

  test("the config's own key Secret", () => {
    const own = route(
      { namespace: { namespace: 'team-a', kinds: ['secrets'] } },
      { decryptSecret: 'team-a/keys' },
    );
    const { errors } = validateStatic(own, policy).verdict;
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]!.detail,
      /^routes the key Secret team-a\/keys \(e\.g\. \/registry\/secrets\/team-a\/keys\)/,
    );
  });

  test("another config's key Secret, through the webhook's view", () => {
    const index = new ConfigIndex();
    index.upsert(
      config({ namespace: 'team-b', name: 'enc', position: 1, decryptSecret: 'team-b/keys' }),
    );
    const verdict = validateCreate(route({ prefix: { prefix: 'secrets/team-b/' } }), index, policy);
    assert.equal(verdict.errors.length, 1);
    assert.equal(verdict.errors[0]!.field, 'spec.backends[0].prefix');
    assert.match(verdict.errors[0]!.detail, /^routes the key Secret team-b\/keys/);
    // Once nobody names it, it is an ordinary Secret.
    index.remove('team-b', 'enc');
    assert.deepEqual(
      validateCreate(route({ prefix: { prefix: 'secrets/team-b/' } }), index, policy).errors,
      [],
    );
  });
});

describe('the reconciler holds the same line (webhook bypassed)', () => {
  const noKeys: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };

  test('a config routing the target Secret goes to Error, not into the Secret', () => {
    const fine = config({ namespace: 'team-b', name: 'fine', position: 1 });
    const bad = route({ prefix: { prefix: '/registry/secrets/' } });
    const r = mergeTarget(TARGET, [fine, bad], noKeys, policy);
    assert.deepEqual(Object.keys(r.data), ['0000000001-team-b.fine.yaml']);
    const outcome = r.outcomes.get('team-a/router')!;
    assert.equal(outcome.state, 'Error');
    assert.match(
      outcome.reason,
      /^spec\.backends\[0\]\.prefix: routes the target Secret harikube\/topology-config/,
    );
  });

  test("a config routing another config's key Secret goes to Error", () => {
    const enc = config({
      namespace: 'team-b',
      name: 'enc',
      position: 1,
      decryptSecret: 'team-b/keys',
    });
    const bad = route({ namespace: { namespace: 'team-b', kinds: ['secrets'] } });
    const outcome = mergeTarget(TARGET, [enc, bad], noKeys, policy).outcomes.get('team-a/router')!;
    assert.equal(outcome.state, 'Error');
    assert.match(outcome.reason, /routes the key Secret team-b\/keys/);
  });
});
