import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import {
  CHART_CRD_PATH,
  CHART_GRANT_CRD_PATH,
  CRD_PATH,
  GRANT_CRD_PATH,
  renderChartCrd,
  renderChartGrantCrd,
  renderCrd,
  renderGrantCrd,
} from '../../../scripts/gen-crd.ts';
import { GO_DURATION_PATTERN } from '../../../src/resource/schema.ts';

const committed = readFileSync(CRD_PATH, 'utf8');

test('deploy/crd is exactly what scripts/gen-crd.ts generates (run it after changing the schema)', () => {
  assert.equal(committed, renderCrd());
  assert.equal(readFileSync(GRANT_CRD_PATH, 'utf8'), renderGrantCrd());
});

test("the Helm chart's CRD template is exactly what scripts/gen-crd.ts generates", () => {
  assert.equal(readFileSync(CHART_CRD_PATH, 'utf8'), renderChartCrd());
  assert.equal(readFileSync(CHART_GRANT_CRD_PATH, 'utf8'), renderChartGrantCrd());
});

interface SchemaNode {
  type?: string;
  minimum?: number;
  minItems?: number;
  default?: unknown;
  format?: string;
  allOf?: unknown[];
  required?: string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  'x-kubernetes-validations'?: unknown[];
}

const crd = parse(committed);
const version = crd.spec.versions[0];
const root: SchemaNode = version.schema.openAPIV3Schema;

// Every property of the schema by path (`[]` for array items).
function flatten(node: SchemaNode, path: string, into = new Map<string, SchemaNode>()) {
  into.set(path, node);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    flatten(child, path ? `${path}.${name}` : name, into);
  }
  if (node.items) flatten(node.items, `${path}[]`, into);
  return into;
}
const fields = flatten(root, '');

// The seed has allOf [{format: int64}, {format: duration}] on the two
// durations; a real API server rejects every integer under `format: duration`
// (see src/resource/schema.ts). They are widened on purpose to int-or-string
// (the seed's nanoseconds, or Go strings as HariKube's docs write them): see
// the test of the widening below.

// The seed operator's CRD (kubebuilder v0.18.0), field by field: type, and
// minimum, minItems, default, allOf and required where the seed has them.
// The table is the contract of wire compatibility: the schema may add, never drop.
const seed: Record<string, Omit<SchemaNode, 'properties' | 'items'>> = {
  '': { type: 'object' },
  apiVersion: { type: 'string' },
  kind: { type: 'string' },
  metadata: { type: 'object' },
  spec: { type: 'object', required: ['backends', 'position', 'targetSecret'] },
  'spec.backends': { type: 'array', minItems: 1 },
  'spec.backends[]': { type: 'object', required: ['endpoint', 'name'] },
  'spec.backends[].backendTLS': { type: 'object' },
  'spec.backends[].backendTLS.caFile': { type: 'string' },
  'spec.backends[].backendTLS.certFile': { type: 'string' },
  'spec.backends[].backendTLS.keyFile': { type: 'string' },
  'spec.backends[].backendTLS.skipVerify': { type: 'boolean' },
  'spec.backends[].connectionPool': { type: 'object' },
  'spec.backends[].connectionPool.maxIdle': { type: 'integer', minimum: 0 },
  'spec.backends[].connectionPool.maxOpen': { type: 'integer', minimum: 0 },
  'spec.backends[].customresource': { type: 'object' },
  'spec.backends[].customresource.group': { type: 'string' },
  'spec.backends[].customresource.kind': { type: 'string' },
  'spec.backends[].endpoint': { type: 'string' },
  'spec.backends[].name': { type: 'string' },
  'spec.backends[].namespace': { type: 'object' },
  'spec.backends[].namespace.kinds': { type: 'array' },
  'spec.backends[].namespace.kinds[]': { type: 'string' },
  'spec.backends[].namespace.namespace': { type: 'string' },
  'spec.backends[].prefix': { type: 'object' },
  'spec.backends[].prefix.prefix': { type: 'string' },
  'spec.backends[].regexp': { type: 'object' },
  'spec.backends[].regexp.key': { type: 'string' },
  'spec.backends[].regexp.prefix': { type: 'string' },
  'spec.endpointDecryptSecret': { type: 'string' },
  'spec.position': { type: 'integer', minimum: 1 },
  'spec.targetSecret': { type: 'string', default: 'harikube/topology-config' },
  status: { type: 'object' },
  'status.deployStatus': { type: 'string', default: 'Pending' },
  'status.deployStatusReason': { type: 'string' },
};

// Fields this project adds beside the seed's (allowed: the CRD may add).
const additions: Record<string, Omit<SchemaNode, 'properties' | 'items'>> = {
  'status.observedGeneration': { type: 'integer', format: 'int64' },
  'status.keptInSecret': { type: 'boolean' },
  // The older HariKube operator's field: the position last merged.
  'status.deployOrder': { type: 'integer', format: 'int64' },
  // metav1.Condition (the kstatus conditions).
  'status.conditions': { type: 'array' },
  'status.conditions[]': {
    type: 'object',
    required: ['lastTransitionTime', 'message', 'reason', 'status', 'type'],
  },
  'status.conditions[].lastTransitionTime': { type: 'string', format: 'date-time' },
  'status.conditions[].message': { type: 'string' },
  'status.conditions[].observedGeneration': { type: 'integer', minimum: 0, format: 'int64' },
  'status.conditions[].reason': { type: 'string' },
  'status.conditions[].status': { type: 'string' },
  'status.conditions[].type': { type: 'string' },
};

const constraintKeys = [
  'type',
  'minimum',
  'minItems',
  'default',
  'format',
  'allOf',
  'required',
] as const;
function constraints(node: SchemaNode) {
  return Object.fromEntries(
    constraintKeys.filter((key) => node[key] !== undefined).map((key) => [key, node[key]]),
  );
}

const DURATIONS = [
  'spec.backends[].connectionPool.maxIdleLifeTime',
  'spec.backends[].connectionPool.maxLifeTime',
];

describe('the durations are widened to int-or-string', () => {
  for (const path of DURATIONS) {
    test(path, () => {
      const node = fields.get(path) as SchemaNode & { anyOf?: unknown[] };
      assert.equal(node['x-kubernetes-int-or-string' as keyof SchemaNode], true);
      assert.equal(node.type, undefined);
      assert.deepEqual(node.anyOf, [{ type: 'integer' }, { type: 'string' }]);
      assert.equal((node as { pattern?: string }).pattern, GO_DURATION_PATTERN);
    });
  }
});

describe('the CRD schema keeps the seed operator schema', () => {
  for (const [path, expected] of Object.entries(seed)) {
    test(`${path || '(root)'}: ${JSON.stringify(expected)}`, () => {
      const node = fields.get(path);
      assert.ok(node, `${path} is missing from the CRD`);
      assert.deepEqual(constraints(node), expected);
    });
  }

  test('has no field beyond the seed except the listed additions', () => {
    assert.deepEqual(
      [...fields.keys()].sort(),
      [...Object.keys({ ...seed, ...additions }), ...DURATIONS].sort(),
    );
    for (const [path, expected] of Object.entries(additions)) {
      assert.deepEqual(constraints(fields.get(path)!), expected, path);
    }
  });

  test('status.conditions is a map list keyed by type, as metav1.Condition lists are', () => {
    const conditions = fields.get('status.conditions') as Record<string, unknown>;
    assert.equal(conditions['x-kubernetes-list-type'], 'map');
    assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  });

  test('names (the seed ones, plus short names and a category), scope, version, status subresource and the DeployStatus column', () => {
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(crd.kind, 'CustomResourceDefinition');
    assert.equal(crd.metadata.name, 'topologyconfigs.harikube.info');
    assert.equal(crd.spec.group, 'harikube.info');
    assert.deepEqual(crd.spec.names, {
      kind: 'TopologyConfig',
      listKind: 'TopologyConfigList',
      plural: 'topologyconfigs',
      singular: 'topologyconfig',
      shortNames: ['tc', 'topoconfig'],
      categories: ['harikube'],
    });
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.equal(crd.spec.versions.length, 1);
    assert.equal(version.name, 'v1');
    assert.equal(version.served, true);
    assert.equal(version.storage, true);
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(version.additionalPrinterColumns[0], {
      jsonPath: '.status.deployStatus',
      name: 'DeployStatus',
      type: 'string',
    });
  });

  test('keeps targetSecret immutable in the API server itself (CEL)', () => {
    const spec = fields.get('spec')!;
    assert.deepEqual(spec['x-kubernetes-validations'], [
      {
        rule: 'self.targetSecret == oldSelf.targetSecret',
        message:
          'targetSecret is immutable: delete the TopologyConfig and create it again to move it',
        fieldPath: '.targetSecret',
      },
    ]);
  });
});
