// TypeScript types of the TopologyConfig API, inferred from the schema module
// so that a field added there appears here with no second edit.
import type { FromSchema } from 'json-schema-to-ts';
import type { specSchema, statusSchema } from './schema.ts';

// A Go duration: a string, or integer nanoseconds (bigint beyond 2^53 - 1,
// as resource/json.ts reads them, so the full int64 range stays exact).
export type GoDurationValue = number | bigint | string;
export type TopologyConfigSpec = FromSchema<
  typeof specSchema,
  { deserialize: [{ pattern: { 'x-kubernetes-int-or-string': true }; output: GoDurationValue }] }
>;
// A status that has not been written yet has no deployStatus: the default is
// the API server's to apply, so the type keeps defaulted fields optional.
export type TopologyConfigStatus = FromSchema<
  typeof statusSchema,
  { keepDefaultedPropertiesOptional: true }
>;
export type Backend = TopologyConfigSpec['backends'][number];

export type DeployStatus = 'Pending' | 'Active' | 'Error';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [key: string]: unknown;
}

export interface TopologyConfig {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: TopologyConfigSpec;
  status?: TopologyConfigStatus;
}
