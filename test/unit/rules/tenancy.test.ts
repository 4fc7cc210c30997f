// Who may route what: the tenant routing policy, one accepting and one
// refusing case per rule, each refusal naming the grant and where it is set.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingGrant, RoutingGrantSpec } from '../../../src/resource/grant.ts';
import type { Backend } from '../../../src/resource/types.ts';
import { validateCreate } from '../../../src/rules/index.ts';
import { defaultConfig } from '../../../src/rules/defaults.ts';
import {
  bindGrants,
  endpointTarget,
  validateTenancy,
  validateTenantEndpoints,
  type Tenancy,
} from '../../../src/rules/tenancy.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { assertErrors, config, policy, type Expected } from './fixtures.ts';

const grant = (name: string, spec: RoutingGrantSpec): RoutingGrant => ({
  metadata: { name },
  spec,
});

// team-b's own grant: its own namespace (any kind that is not sensitive, and
// pods by name), one API group, a prefix, one regexp, Services of its own
// namespace, positions 100–199.
const teamB = grant('team-b', {
  namespace: 'team-b',
  namespaceUID: 'uid-b',
  groups: ['shop.team-b.example.com', 'stable.example.com/shirts', '*.b.example.com'],
  kinds: ['*', 'pods'],
  namespaces: ['<namespace>'],
  prefixes: ['configmaps/<namespace>/'],
  regexps: [{ prefix: '/registry/configmaps/', key: '^team-b-.*' }],
  endpoints: { schemes: ['mysql', 'postgres'], hosts: ['*.<namespace>.svc'] },
  positions: { min: 100, max: 199 },
});
const platform = ['harikube'];
const tenancy: Tenancy = bindGrants([teamB], platform, new Map([['team-b', 'uid-b']]));

const ENDPOINT = 'mysql://u:p@tcp(db.team-b.svc:3306)/orders';
const tenantBackend = (extra: Partial<Backend>): Backend =>
  ({ name: 'b', endpoint: ENDPOINT, ...extra }) as Backend;
const tenantConfig = (extra: Partial<Backend>, namespace = 'team-b', position = 150) =>
  config({ namespace, position, backends: [tenantBackend(extra)] });

describe('tenant routing policy: selectors, positions, files', () => {
  const where = 'the platform team grants it in a cluster-scoped TopologyRoutingGrant';
  const cases: [string, Partial<Backend>, Expected[], number?][] = [
    [
      'own namespace, a kind that is not sensitive',
      { namespace: { namespace: 'team-b', kinds: ['configmaps'] } },
      [],
    ],
    [
      'own namespace, pods granted by name',
      { namespace: { namespace: 'team-b', kinds: ['pods'] } },
      [],
    ],
    [
      'another namespace (kube-system)',
      { namespace: { namespace: 'kube-system', kinds: ['configmaps'] } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].namespace.namespace',
          detail: `routes namespace "kube-system", which is not granted: the TopologyRoutingGrant in force for namespace team-b ("team-b") does not allow it in spec.namespaces; ${where}`,
        },
      ],
    ],
    [
      'a security-sensitive kind not granted by name (secrets; "*" does not cover it)',
      { namespace: { namespace: 'team-b', kinds: ['configmaps', 'secrets'] } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].namespace.kinds[1]',
          detail: '"secrets" is security-sensitive and routed only when granted by name',
        },
      ],
    ],
    [
      'every kind of its own namespace (secrets, roles… included)',
      { namespace: { namespace: 'team-b', kinds: [] } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].namespace.kinds',
          detail: 'security-sensitive ones included (secrets, serviceaccounts, roles',
        },
      ],
    ],
    ['a granted API group', { customresource: { group: 'shop.team-b.example.com' } }, []],
    [
      'a granted group by suffix',
      { customresource: { group: 'x.b.example.com', kind: 'things' } },
      [],
    ],
    [
      'a granted group/kind',
      { customresource: { group: 'stable.example.com', kind: 'shirts' } },
      [],
    ],
    [
      'the whole group when only one kind is granted',
      { customresource: { group: 'stable.example.com' } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].customresource.group',
          detail: 'routes the whole API group "stable.example.com", which is not granted',
        },
      ],
    ],
    [
      "another team's group (payments.example.com)",
      { customresource: { group: 'payments.example.com', kind: 'payments' } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].customresource.group',
          detail: 'does not allow it in spec.groups',
        },
      ],
    ],
    [
      'a prefix within a granted one (relative or absolute)',
      { prefix: { prefix: '/registry/configmaps/team-b/app-' } },
      [],
    ],
    [
      'the prefix /registry/secrets/',
      { prefix: { prefix: '/registry/secrets/' } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].prefix.prefix',
          detail: 'routes the keys under "/registry/secrets/", which lie within no granted prefix',
        },
      ],
    ],
    [
      'a regexp the key-space model proves inside a granted prefix',
      { regexp: { key: '^/registry/configmaps/team-b/app-[0-9]+$' } },
      [],
    ],
    ['a relative prefix inside a granted one', { prefix: { prefix: 'configmaps/team-b/' } }, []],
    [
      'a Kind written instead of the resource (Secret is secrets)',
      { namespace: { namespace: 'team-b', kinds: ['Secret'] } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].namespace.kinds[0]',
          detail: '"Secret" is security-sensitive',
        },
      ],
    ],
    [
      'a regexp granted exactly as written',
      { regexp: { prefix: '/registry/configmaps/', key: '^team-b-.*' } },
      [],
    ],
    [
      "regexp '.*'",
      { regexp: { prefix: '.*' } },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].regexp',
          detail:
            'cannot be shown to lie within a granted prefix, so a regular expression is routed only when granted exactly as written',
        },
      ],
    ],
    [
      'backendTLS files on the middleware host',
      {
        prefix: { prefix: 'configmaps/team-b/' },
        backendTLS: { caFile: '/etc/ca.pem', skipVerify: false },
      },
      [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].backendTLS.caFile',
          detail: 'only configs in platform namespaces (--platform-namespaces: harikube) may',
        },
      ],
    ],
  ];
  for (const [name, extra, expected] of cases) {
    test(`${expected.length === 0 ? 'allows' : 'refuses'} ${name}`, () => {
      assertErrors(validateTenancy(tenantConfig(extra), tenancy), expected);
    });
  }

  test('positions outside the band are refused (no squatting position 1)', () => {
    const backend = { namespace: { namespace: 'team-b', kinds: ['configmaps'] } };
    assertErrors(validateTenancy(tenantConfig(backend, 'team-b', 100), tenancy), []);
    assertErrors(validateTenancy(tenantConfig(backend, 'team-b', 1), tenancy), [
      {
        type: 'Forbidden',
        field: 'spec.position',
        detail: '1 is outside the band of positions granted to namespace team-b (100–199)',
      },
    ]);
  });

  test('a platform namespace routes anything; no tenancy judges nothing', () => {
    const everything = tenantConfig({ prefix: { prefix: '/registry/' } }, 'harikube', 1);
    assertErrors(validateTenancy(everything, tenancy), []);
    assertErrors(
      validateTenancy(tenantConfig({ prefix: { prefix: '/registry/' } }), undefined),
      [],
    );
    const star = bindGrants([], ['*']);
    assertErrors(validateTenancy(tenantConfig({ prefix: { prefix: '/registry/' } }), star), []);
  });

  test('a tenant namespace without a grant routes nothing, and the reason says where to grant', () => {
    assertErrors(validateTenancy(tenantConfig({ prefix: { prefix: 'x' } }, 'team-c'), tenancy), [
      {
        type: 'Forbidden',
        field: 'metadata.namespace',
        detail:
          'team-c is a tenant namespace that may route nothing: namespace team-c has no TopologyRoutingGrant (and there is no default grant); the platform team grants it in a cluster-scoped TopologyRoutingGrant (kubectl get topologyroutinggrants) for namespace team-c',
      },
    ]);
  });

  test('the default grant applies to tenant namespaces without a grant of their own', () => {
    const byDefault = bindGrants(
      [
        teamB,
        grant('default', {
          default: true,
          kinds: ['*'],
          namespaces: ['<namespace>'],
          endpoints: { hosts: ['*.<namespace>.svc'] },
          positions: { min: 1000, max: 1999 },
        }),
      ],
      platform,
      new Map([['team-b', 'uid-b']]),
    );
    const own = { namespace: { namespace: 'team-c', kinds: ['configmaps'] } };
    assertErrors(validateTenancy(tenantConfig(own, 'team-c', 1500), byDefault), []);
    // team-b has its own grant: the default's band does not apply to it.
    assertErrors(
      validateTenancy(
        tenantConfig({ namespace: { namespace: 'team-b', kinds: ['configmaps'] } }, 'team-b', 1500),
        byDefault,
      ),
      [{ type: 'Forbidden', field: 'spec.position', detail: '(100–199)' }],
    );
  });

  test('a grant binds to the namespace uid: a namespace created again under the name gets none', () => {
    const recreated = bindGrants([teamB], platform, new Map([['team-b', 'uid-b-2']]));
    assertErrors(
      validateTenancy(
        tenantConfig({ namespace: { namespace: 'team-b', kinds: ['configmaps'] } }),
        recreated,
      ),
      [
        {
          type: 'Forbidden',
          field: 'metadata.namespace',
          detail: 'namespace team-b has no TopologyRoutingGrant',
        },
      ],
    );
    // Offline (no uids known) the grant binds by name.
    assert.equal(bindGrants([teamB], platform).grants.get('team-b')?.length, 1);
  });

  test('refusals are marked as the routing policy (the reconciler keeps live entries on them)', () => {
    const errors = validateTenancy(
      tenantConfig({ prefix: { prefix: '/registry/secrets/' } }),
      tenancy,
    );
    assert.ok(errors.length > 0 && errors.every((e) => e.policy === true));
  });
});

describe('tenant routing policy: endpoints', () => {
  const judge = (endpoint: string, namespace = 'team-b') =>
    validateTenantEndpoints(tenantConfig({}, namespace), [endpoint], tenancy);
  test('allows a Service of its own namespace, with a granted scheme', () => {
    assertErrors(judge(ENDPOINT), []);
    assertErrors(judge('postgres://u:p@pg.team-b.svc:5432/db'), []);
  });
  const refused: [string, string, string][] = [
    [
      'a host outside the grant',
      'mysql://u:secretpw@tcp(db.team-a.svc:3306)/x',
      'points at a mysql database on a host that is not granted',
    ],
    [
      'a scheme outside the grant',
      'nats://db.team-b.svc:4222',
      'points at a nats database on a host that is not granted',
    ],
    [
      'one etcd member outside the grant',
      'https://e1.team-b.svc:2379,https://evil.example.com:2379',
      'not granted',
    ],
    [
      'sqlite (a file on the middleware host)',
      'sqlite:///var/lib/db.sqlite',
      "names a file on the middleware's host (sqlite)",
    ],
    ['unix://', 'unix:///run/db.sock', 'names a file'],
    ["mysql's unix(…)", 'mysql://u:p@unix(/run/mysqld.sock)/db', 'names a file'],
    [
      'a secret:// reference the grant does not trust',
      'secret://team-b/db/endpoint',
      'is a secret:// reference, whose database cannot be checked',
    ],
  ];
  for (const [name, endpoint, detail] of refused) {
    test(`refuses ${name}, without showing the endpoint`, () => {
      const errors = judge(endpoint);
      assertErrors(errors, [{ type: 'Forbidden', field: 'spec.backends[0].endpoint', detail }]);
      assert.ok(!errors[0]!.detail.includes(endpoint) && !errors[0]!.detail.includes('secretpw'));
    });
  }
  test('a platform namespace may use file endpoints', () => {
    assertErrors(judge('sqlite:///var/lib/db.sqlite', 'harikube'), []);
  });
  test('endpointTarget reads the kine forms', () => {
    assert.deepEqual(endpointTarget('mysql://root:pa/ss@tcp(MySQL.db:3306)/kine'), {
      scheme: 'mysql',
      hosts: ['mysql.db'],
      file: false,
    });
    assert.deepEqual(endpointTarget('postgres://u:p@[::1]:5432/db'), {
      scheme: 'postgres',
      hosts: ['::1'],
      file: false,
    });
    assert.equal(endpointTarget('not an endpoint'), undefined);
  });
});

describe('tenant routing policy in the rules', () => {
  const withTenancy = { ...policy, tenancy };
  test('validateCreate judges the policy, static and endpoint parts', () => {
    const bad = config({
      namespace: 'team-b',
      position: 150,
      backends: [
        tenantBackend({
          endpoint: 'mysql://u:p@tcp(db.team-a.svc:3306)/x',
          prefix: { prefix: '/registry/secrets/' },
        }),
      ],
    });
    const verdict = validateCreate(bad, new ConfigIndex(), withTenancy);
    assert.deepEqual(
      verdict.errors.map((e) => e.field),
      // The deny list refuses /registry/secrets/ too (it holds the target Secret).
      ['spec.backends[0].prefix.prefix', 'spec.backends[0].prefix', 'spec.backends[0].endpoint'],
    );
  });
  test('secret:// references follow the namespace rule of endpointDecryptSecret, for every namespace', () => {
    const other = config({
      namespace: 'harikube',
      backends: [tenantBackend({ endpoint: 'secret://team-a/db/url', prefix: { prefix: '/x/' } })],
    });
    assertErrors(validateCreate(other, new ConfigIndex(), withTenancy).errors, [
      {
        type: 'Forbidden',
        field: 'spec.backends[0].endpoint',
        detail:
          "is a secret:// reference to a Secret in namespace team-a; it must name a Secret in this config's own namespace (harikube)",
      },
    ]);
    const ownRef = config({
      namespace: 'harikube',
      backends: [
        tenantBackend({ endpoint: 'secret://harikube/db/url', prefix: { prefix: '/x/' } }),
      ],
    });
    assertErrors(validateCreate(ownRef, new ConfigIndex(), withTenancy).errors, []);
  });
});

describe('an omitted position, for a tenant', () => {
  const withTenancy = { ...policy, tenancy };
  const omitted = (namespace: string) => {
    const c = tenantConfig({ namespace: { namespace, kinds: ['configmaps'] } }, namespace);
    delete (c.spec as { position?: number }).position;
    return c;
  };
  test('is the next free one at the bottom of its band, not of the target', () => {
    const index = new ConfigIndex();
    index.upsert(config({ namespace: 'harikube', name: 'platform', position: 500 }));
    assert.equal(defaultConfig(omitted('team-b'), index, withTenancy).spec.position, 100);
    index.upsert(
      config({
        namespace: 'team-b',
        name: 'first',
        position: 120,
        backends: [tenantBackend({ prefix: { prefix: '/x/' } })],
      }),
    );
    assert.equal(defaultConfig(omitted('team-b'), index, withTenancy).spec.position, 121);
    // A platform namespace still gets the bottom of the target.
    assert.equal(defaultConfig(omitted('harikube'), index, withTenancy).spec.position, 501);
  });
  test('a full band gives a position validation refuses, naming the band', () => {
    const index = new ConfigIndex();
    index.upsert(
      config({
        namespace: 'team-b',
        name: 'last',
        position: 199,
        backends: [tenantBackend({ prefix: { prefix: '/x/' } })],
      }),
    );
    const defaulted = defaultConfig(omitted('team-b'), index, withTenancy);
    assert.equal(defaulted.spec.position, 200);
    assertErrors(validateTenancy(defaulted, tenancy), [
      {
        type: 'Forbidden',
        field: 'spec.position',
        detail: '200 is outside the band of positions granted to namespace team-b (100–199)',
      },
    ]);
  });
});
