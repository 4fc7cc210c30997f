// Well-known names this product puts on objects. One place, so the webhook,
// the reconciler, deploy/ and the README cannot disagree.

/** Finalizer on each TopologyConfig (kept until its backends left the Secret) and on each managed Secret. */
export const FINALIZER = 'harikube.info/finalizer';

/** Label on every Secret the reconciler manages; a Secret without it is never overwritten. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'topology-webhook';

/**
 * Label asking the reconciler to adopt a target Secret the seed's HariKube
 * operator wrote (README "Taking over from the seed operator"): a label, not
 * an annotation, so that the operator can watch for it by selector.
 */
export const ADOPT_LABEL = 'harikube.info/adopt';

/** Label the mutating webhook sets on each config: its target Secret as `namespace.name`, for `kubectl get -l`. */
export const TARGET_SECRET_LABEL = 'harikube.info/target-secret';

/** Label a Secret of AES-GCM keys must carry to be usable as an endpointDecryptSecret. */
export const ENDPOINT_KEYS_LABEL = 'harikube.info/endpoint-keys';
export const ENDPOINT_KEYS_VALUE = 'true';

/**
 * Override of the append-only safety rule: with this annotation set to "true",
 * an Active config may be changed in ways that can strand data already written
 * through its routes (rename or endpoint change or removal of a backend, a new
 * position, deletion), and a config may be inserted before an Active one.
 */
export const ALLOW_ROUTING_CHANGE_ANNOTATION = 'harikube.info/allow-unsafe-routing-change';

/**
 * The older HariKube operator's ordering: with `spec.position` omitted, a
 * valid integer here is the position (its published tests write it so).
 */
export const DEPLOY_ORDER_ANNOTATION = 'harikube.info/deployOrder';

/**
 * The position the product chose for a config whose author omitted
 * `spec.position` (the mutating webhook's next free one). The position is the
 * product's exactly while `spec.position` equals this value: the reconciler
 * may then move it when it collides on a config never merged (README
 * "Positions"). A position the author wrote (or changed) never matches it.
 */
export const ASSIGNED_POSITION_ANNOTATION = 'harikube.info/assigned-position';

export interface NamespacedName {
  namespace: string;
  name: string;
}

/** `namespace/name` of an object, the key configs are told apart by. */
export function objectKey(object: {
  metadata?: { namespace?: string | undefined; name?: string | undefined };
}): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

export function formatNamespacedName(ref: NamespacedName): string {
  return `${ref.namespace}/${ref.name}`;
}

/** Splits `namespace/name`; undefined unless exactly two non-empty parts. Format rules live in rules/. */
export function parseNamespacedName(value: string): NamespacedName | undefined {
  const parts = value.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], name: parts[1] };
}

/** The label value naming a target Secret (`/` is not allowed in label values). */
export function targetSecretLabelValue(targetSecret: string): string {
  return targetSecret.replace('/', '.');
}
