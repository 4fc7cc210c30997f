// TypeScript types of the TopologyConfig API, inferred from the schema module
// so that a field added there appears here with no second edit.
import type { FromSchema } from 'json-schema-to-ts';
import type { specSchema, statusSchema } from './schema.ts';

export type TopologyConfigSpec = FromSchema<typeof specSchema>;
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
