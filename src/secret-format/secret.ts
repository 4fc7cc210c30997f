// The managed target Secret as an object: the label that marks it as ours,
// the finalizer it holds while configs route through it, its type, and how
// its data is encoded. Built here only, for the reconciler's create and for
// `topology render`.
import {
  FINALIZER,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type NamespacedName,
} from '../resource/names.ts';

/** Values base64-encoded, as a Secret's `data` holds them on the wire. */
export function encodeSecretData(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [
      key,
      Buffer.from(value, 'utf8').toString('base64'),
    ]),
  );
}

/** True when the Secret carries the label that lets the reconciler overwrite it. */
export function isManagedSecret(secret: {
  metadata?: { labels?: Record<string, string> };
}): boolean {
  return secret.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/**
 * A new managed Secret holding `data` (the entries as text). `as: 'data'`
 * encodes them as the API server stores them; `as: 'stringData'` keeps them
 * readable, and the API server turns them into exactly the same `data`.
 */
export function managedSecret(
  ref: NamespacedName,
  data: Record<string, string>,
  as: 'data' | 'stringData',
  annotations?: Record<string, string>,
): {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers: string[];
  };
  type: 'Opaque';
  data?: Record<string, string>;
  stringData?: Record<string, string>;
} {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      ...(annotations ? { annotations } : {}),
      finalizers: [FINALIZER],
    },
    type: 'Opaque',
    ...(as === 'data' ? { data: encodeSecretData(data) } : { stringData: data }),
  };
}
