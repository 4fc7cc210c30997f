// Shared fixtures of the rules' tests: a valid config to start from, and an
// assertion that compares field errors by type, path and reason.
import assert from 'node:assert/strict';
import type { Backend, TopologyConfig } from '../../../src/resource/types.ts';
import type { FieldError, FieldErrorType } from '../../../src/rules/field-errors.ts';
import type { Policy } from '../../../src/rules/policy.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';

export const TARGET = 'harikube/topology-config';

export const policy: Policy = { ...defaultPolicy, allowedTargetSecrets: [TARGET, 'shared/*'] };

/** A valid backend routing `/registry/<name>/` to its own database. */
export function backend(name: string, extra: Partial<Backend> = {}): Backend {
  return {
    name,
    endpoint: `mysql://user:pass@tcp(db:3306)/${name}`,
    prefix: { prefix: `/registry/${name}/` },
    ...extra,
  };
}

export interface ConfigOptions {
  namespace?: string;
  name?: string;
  position?: number;
  target?: string;
  backends?: Backend[];
  status?: 'Pending' | 'Active' | 'Error';
  annotations?: Record<string, string>;
  created?: string;
  deleting?: boolean;
  decryptSecret?: string;
}

export function config(options: ConfigOptions = {}): TopologyConfig {
  const name = options.name ?? 'orders';
  const result: TopologyConfig = {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      namespace: options.namespace ?? 'team-a',
      name,
      creationTimestamp: options.created ?? '2024-05-01T10:00:00Z',
    },
    spec: {
      backends: options.backends ?? [backend(`${name}-db`)],
      position: options.position ?? 1,
      targetSecret: options.target ?? TARGET,
    },
  };
  if (options.decryptSecret) result.spec.endpointDecryptSecret = options.decryptSecret;
  if (options.status) result.status = { deployStatus: options.status };
  if (options.annotations) result.metadata.annotations = options.annotations;
  if (options.deleting) result.metadata.deletionTimestamp = '2024-05-02T10:00:00Z';
  return result;
}

export interface Expected {
  type: FieldErrorType;
  field: string;
  /** A substring the reason must contain. */
  detail: string;
}

/** Exactly these errors, in this order: same type and field path, reason containing the given text. */
export function assertErrors(actual: readonly FieldError[], expected: readonly Expected[]): void {
  const shape = (errors: readonly { type: string; field: string }[]) =>
    errors.map((e) => `${e.type} ${e.field}`);
  assert.deepEqual(shape(actual), shape(expected), `errors: ${JSON.stringify(actual, null, 1)}`);
  actual.forEach((error, i) => {
    const want = expected[i]!.detail;
    assert.ok(
      error.detail.includes(want),
      `${error.field}: ${JSON.stringify(error.detail)} lacks ${JSON.stringify(want)}`,
    );
  });
}

/** A secret must never appear in what users see. */
export function assertNoSecret(texts: readonly string[], secrets: readonly string[]): void {
  for (const text of texts)
    for (const secret of secrets) assert.ok(!text.includes(secret), `leaked into: ${text}`);
}
