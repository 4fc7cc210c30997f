// The AdmissionReviews the admission benchmarks send, built against a fleet
// of n configs (bench/lib/configs.ts): a valid create, an update of an Active
// config, a create that conflicts with an indexed config in every way, and a
// create with mistakes beyond the schema. Each is sent to /mutate and then to
// /validate, as the API server does.
import type { Backend, TopologyConfig } from '../../src/resource/types.ts';
import { review } from '../../test/unit/admission/fixtures.ts';
import { fleetConfig, maxPositionOfTarget0, positionOf, targetOf } from './configs.ts';

export interface BenchRequest {
  /** What the request is, for tables and checks. */
  label: string;
  path: '/mutate' | '/validate';
  body: string;
  /** The answer the product must give (checked before any load). */
  expectAllowed: boolean;
}

function object(
  name: string,
  namespace: string,
  spec: TopologyConfig['spec'],
  generation = 1,
): TopologyConfig {
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name, namespace, generation },
    spec,
  };
}

/** An index i of the fleet whose config is Active (every tenth one is Pending). */
function activeIndex(i: number): number {
  return i % 10 === 9 ? i - 1 : i;
}

export function benchReviews(n: number): BenchRequest[] {
  if (n < 3) throw new Error('benchReviews needs a fleet of at least 3 configs');
  const create = object('bench-new', 'team-0', {
    targetSecret: targetOf(0),
    position: maxPositionOfTarget0(n) + 1,
    backends: [
      {
        name: 'bench-new-orders',
        endpoint: 'mysql://app:new-pw@tcp(orders.new.svc:3306)/kine',
        customresource: { group: 'orders.example.com', kind: 'Order' },
        connectionPool: { maxIdle: 5, maxOpen: 90, maxLifeTime: 300_000_000_000 },
      },
      {
        name: 'bench-new-events',
        endpoint: 'postgres://app:new-pw@events.new.svc:5432/kine',
        prefix: { prefix: '/registry/bench-new/events/' },
      },
    ],
  });

  const u = activeIndex(Math.floor(n / 2));
  const old = fleetConfig(u);
  const appended: Backend = {
    name: `svc-${u}-archive`,
    endpoint: `postgres://app:pw@archive-${u}.databases.svc:5432/kine`,
    namespace: { namespace: `archive-${u}`, kinds: [] },
  };
  const updated: TopologyConfig = {
    ...structuredClone(old),
    metadata: { ...structuredClone(old.metadata), generation: 2 },
    spec: {
      ...structuredClone(old.spec),
      backends: [...structuredClone(old.spec.backends), appended],
    },
  };

  const c = activeIndex(Math.floor(n / 3));
  const victim = fleetConfig(c);
  const first = victim.spec.backends[0]!;
  const clash = object('bench-clash', 'team-1', {
    targetSecret: targetOf(c),
    position: positionOf(c),
    backends: [{ ...structuredClone(first) }],
  });

  const invalid = object('bench-invalid', 'team-2', {
    targetSecret: 'kube-system/not-allowed',
    position: 7,
    backends: [
      {
        name: 'bench-invalid-a',
        endpoint: 'mysql://app:pw@tcp(a.svc:3306)/kine',
        prefix: { prefix: 'registry with spaces' },
      },
      {
        name: 'bench-invalid-b',
        endpoint: 'mysql://app:pw@tcp(b.svc:3306)/kine',
        regexp: { prefix: '^/registry/(?=pods)' },
      },
      {
        name: 'bench-invalid-c',
        endpoint: 'mysql://app:pw@tcp(c.svc:3306)/kine',
        namespace: { namespace: 'Not_A_Namespace' },
      },
    ],
  });

  const cases: Array<[string, unknown, boolean]> = [
    ['valid create', review('CREATE', create), true],
    ['update', review('UPDATE', updated, old), true],
    ['conflicting create', review('CREATE', clash), false],
    ['invalid create', review('CREATE', invalid), false],
  ];
  return cases.flatMap(([label, body, validAllowed]) => [
    // The mutating webhook allows everything it can read; it only patches.
    {
      label: `${label} (mutate)`,
      path: '/mutate',
      body: JSON.stringify(body),
      expectAllowed: true,
    },
    {
      label: `${label} (validate)`,
      path: '/validate',
      body: JSON.stringify(body),
      expectAllowed: validAllowed,
    },
  ]);
}
