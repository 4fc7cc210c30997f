// A core/v1 Secret as the API server returns it: the fields this product
// reads or writes, and room for the rest, which a replace must carry back.

export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    [field: string]: unknown;
  };
  type?: string;
  /** Base64 values, as on the wire. */
  data?: Record<string, string>;
  [field: string]: unknown;
}
