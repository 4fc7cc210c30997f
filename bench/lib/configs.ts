// Deterministic TopologyConfigs for the benchmarks: config i of a fleet of n
// is the same in every process (the webhook child indexes them, the parent
// builds reviews against them), with unique names, endpoints, selectors and
// positions, spread over a few target Secrets.
import type { Backend, TopologyConfig } from '../../src/resource/types.ts';
import { FINALIZER } from '../../src/resource/names.ts';
import type { Policy } from '../../src/rules/policy.ts';
import { defaultPolicy } from '../../src/rules/policy.ts';

/** How many target Secrets a fleet is spread over (each stays far below the 1 MiB limit at 10,000 configs). */
export const TARGETS = 8;

/** Every target of the fleet is allowed, as a platform team with several tenants would configure it. */
export const benchPolicy: Policy = Object.freeze({
  ...defaultPolicy,
  allowedTargetSecrets: ['harikube/*'],
});

export const targetOf = (i: number): string => `harikube/topology-${i % TARGETS}`;
/** Positions are unique within a target: 1, 2, 3, ... in the order of i. */
export const positionOf = (i: number): number => Math.floor(i / TARGETS) + 1;

const CREATED = Date.parse('2025-01-01T00:00:00Z');

function backendOf(i: number, j: number): Backend {
  const backend: Backend = {
    name: `svc-${i}-db${j}`,
    endpoint: `postgres://app:pw-${i}-${j}@db-${i}-${j}.databases.svc:5432/kine?sslmode=disable`,
  };
  // A mix of the four selector kinds, as real fleets have.
  switch ((i + j) % 4) {
    case 0:
      backend.customresource = { group: `g${i}.example.com`, kind: `Kind${j}` };
      break;
    case 1:
      backend.prefix = { prefix: `/registry/app-${i}/part-${j}/` };
      break;
    case 2:
      backend.namespace = { namespace: `tenant-${i}-${j}`, kinds: ['configmaps', 'secrets'] };
      break;
    default:
      backend.regexp = { prefix: `^/registry/rx-${i}-${j}/` };
  }
  if (j === 0) {
    backend.connectionPool = {
      maxIdle: 5,
      maxOpen: 50,
      maxLifeTime: 300_000_000_000,
      maxIdleLifeTime: 60_000_000_000,
    };
  }
  return backend;
}

/** Config i: 1 to 3 backends, Active (every tenth one still Pending). */
export function fleetConfig(i: number): TopologyConfig {
  const name = `svc-${i}`;
  const target = targetOf(i);
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      name,
      namespace: `team-${i % 50}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      generation: 1,
      resourceVersion: String(1000 + i),
      creationTimestamp: new Date(CREATED + i * 1000).toISOString(),
      finalizers: [FINALIZER],
      labels: { 'harikube.info/target-secret': target.replace('/', '.') },
    },
    spec: {
      targetSecret: target,
      position: positionOf(i),
      backends: Array.from({ length: (i % 3) + 1 }, (_, j) => backendOf(i, j)),
    },
    status:
      i % 10 === 9
        ? { deployStatus: 'Pending' }
        : { deployStatus: 'Active', deployStatusReason: 'merged', observedGeneration: 1 },
  } as TopologyConfig;
}

export function fleet(n: number): TopologyConfig[] {
  return Array.from({ length: n }, (_, i) => fleetConfig(i));
}

/** The highest position of target 0 in a fleet of n. */
export function maxPositionOfTarget0(n: number): number {
  return n === 0 ? 0 : positionOf(Math.floor((n - 1) / TARGETS) * TARGETS);
}
