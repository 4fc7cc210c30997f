// Defaults and normalisation applied by the mutating webhook (and by the
// offline command before it validates). Returns a new object; the patch is
// the diff. Idempotent: defaulting a defaulted config changes nothing.
import {
  ASSIGNED_POSITION_ANNOTATION,
  FINALIZER,
  TARGET_SECRET_LABEL,
  targetSecretLabelValue,
} from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { hasAssignedPosition, nextPosition } from './auto-position.ts';
import { deployOrderOf, validateDeployOrder } from './deploy-order.ts';
import type { Policy } from './policy.ts';
import type { ConfigView, PositionBand } from './view.ts';
import { positionBands } from './tenancy.ts';
import { isRecord } from '../resource/json.ts';

/** A label value: at most 63 characters, alphanumerics with '-', '_' or '.' inside. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * Mutating webhooks run before the API server checks `required`, so an
 * omitted position is ours to fill: the older operator's deployOrder
 * annotation when it holds one, else the next free one at the bottom of the
 * target (max + 1), which keeps the append-only rule by default. Only that
 * last one is the product's choice, recorded in ASSIGNED_POSITION_ANNOTATION
 * (auto-position.ts). An UPDATE that drops the position keeps the old one,
 * and whether it was assigned (a server-side apply of a manifest without
 * either field). A malformed annotation fills in nothing: validation refuses
 * it with its reason.
 */
function defaultPosition(
  spec: Record<string, unknown>,
  metadata: Record<string, unknown>,
  view: ConfigView,
  bands: readonly PositionBand[] | undefined,
  old?: TopologyConfig,
): void {
  if (spec.position !== undefined && spec.position !== null) return;
  const previous = old?.spec?.position;
  const annotated = deployOrderOf(metadata);
  if (typeof previous === 'number') {
    spec.position = previous;
    if (hasAssignedPosition(old)) markAssigned(metadata, previous);
  } else if (annotated !== undefined) spec.position = annotated;
  else if (validateDeployOrder(metadata).length > 0) return;
  else if (typeof spec.targetSecret === 'string') {
    const target = spec.targetSecret;
    const position = nextPosition((band) => view.maxPosition(target, band), bands);
    spec.position = position;
    markAssigned(metadata, position);
  }
}

function markAssigned(metadata: Record<string, unknown>, position: number): void {
  const annotations = isRecord(metadata.annotations) ? { ...metadata.annotations } : {};
  annotations[ASSIGNED_POSITION_ANNOTATION] = String(position);
  metadata.annotations = annotations;
}

/** The order of kinds does not matter; duplicates are dropped, first occurrence kept. */
function dedupeKinds(spec: Record<string, unknown>): void {
  if (!Array.isArray(spec.backends)) return;
  for (const backend of spec.backends) {
    const selector = isRecord(backend) ? backend.namespace : undefined;
    if (isRecord(selector) && Array.isArray(selector.kinds))
      selector.kinds = [...new Set(selector.kinds)];
  }
}

function setTargetLabel(metadata: Record<string, unknown>, target: unknown): void {
  if (typeof target !== 'string') return;
  const value = targetSecretLabelValue(target);
  const labels = isRecord(metadata.labels) ? metadata.labels : {};
  // A value the API server would refuse as a label is left out (validation names the real problem).
  if (value.length <= 63 && LABEL_VALUE.test(value)) labels[TARGET_SECRET_LABEL] = value;
  else delete labels[TARGET_SECRET_LABEL];
  if (Object.keys(labels).length > 0 || isRecord(metadata.labels)) metadata.labels = labels;
}

function addFinalizer(metadata: Record<string, unknown>): void {
  // A config being deleted may lose finalizers but never gain one (the API server forbids it).
  if (metadata.deletionTimestamp) return;
  const finalizers = Array.isArray(metadata.finalizers) ? metadata.finalizers : [];
  if (!finalizers.includes(FINALIZER)) metadata.finalizers = [...finalizers, FINALIZER];
}

/**
 * A copy of what defaulting changes (the object, its metadata and labels, its
 * spec, the backends and their namespace selectors); everything else is
 * shared with `obj`, which stays untouched. Cloning the whole object (with
 * managedFields and annotations) cost more than the rest of the mutation.
 */
function copyForDefaults(obj: TopologyConfig): TopologyConfig {
  const config = { ...obj };
  if (isRecord(obj.metadata)) {
    const metadata = { ...obj.metadata };
    if (isRecord(metadata.labels)) metadata.labels = { ...metadata.labels };
    config.metadata = metadata;
  }
  if (isRecord(obj.spec)) {
    const spec: Record<string, unknown> = { ...obj.spec };
    if (Array.isArray(spec.backends)) {
      spec.backends = spec.backends.map((b: unknown) =>
        isRecord(b) && isRecord(b.namespace) ? { ...b, namespace: { ...b.namespace } } : b,
      );
    }
    config.spec = spec as TopologyConfig['spec'];
  }
  return config;
}

export function defaultConfig(
  obj: TopologyConfig,
  view: ConfigView,
  policy: Policy,
  old?: TopologyConfig,
): TopologyConfig {
  const config = copyForDefaults(obj);
  const metadata: Record<string, unknown> = isRecord(config.metadata) ? config.metadata : {};
  if (isRecord(config.spec)) {
    const spec = config.spec as Record<string, unknown>;
    if (spec.targetSecret === undefined || spec.targetSecret === null) {
      // targetSecret is immutable: an UPDATE that drops it keeps the old one.
      spec.targetSecret = old?.spec?.targetSecret ?? policy.defaultTargetSecret;
    }
    const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : undefined;
    defaultPosition(spec, metadata, view, positionBands(namespace, policy.tenancy), old);
    dedupeKinds(spec);
    setTargetLabel(metadata, spec.targetSecret);
  }
  addFinalizer(metadata);
  config.metadata = metadata;
  return config;
}
