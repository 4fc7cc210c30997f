// Status and finalizer writes for TopologyConfigs. Every write carries the
// resourceVersion the decision was made from, so a status can never claim
// a generation the reconciler did not merge: if the object changed since,
// the write fails with 409 and the target is reconciled again. The
// conditions go in the same patch, under the same guard.
import { ASSIGNED_POSITION_ANNOTATION, FINALIZER } from '../resource/names.ts';
import type { DeployStatus, TopologyConfig, TopologyConfigStatus } from '../resource/types.ts';
import type { ConfigStore } from './ports.ts';
import { conditionsFor, sameConditions, type ConditionReason } from './conditions.ts';

export interface DesiredStatus {
  deployStatus: DeployStatus;
  deployStatusReason: string;
  /** Error, but the Secret keeps its last entry: its routes are live. */
  keptInSecret?: boolean;
  /** The conditions' CamelCase reason. */
  reason: ConditionReason;
  /** The conditions' message when deployStatusReason is empty (Active). */
  message?: string;
  /** Active, but the settle time has not passed yet: Ready stays False. */
  settling?: boolean;
}

function conditionsOf(config: TopologyConfig, desired: DesiredStatus, now: Date) {
  return conditionsFor(
    {
      deployStatus: desired.deployStatus,
      reason: desired.reason,
      message: desired.deployStatusReason || (desired.message ?? ''),
      ...(desired.settling ? { settling: true } : {}),
    },
    config.metadata.generation,
    config.status?.conditions,
    now,
  );
}

export function statusChanged(config: TopologyConfig, desired: DesiredStatus): boolean {
  const current: TopologyConfigStatus = config.status ?? {};
  return (
    current.deployStatus !== desired.deployStatus ||
    (current.deployStatusReason ?? '') !== desired.deployStatusReason ||
    current.observedGeneration !== config.metadata.generation ||
    (current.keptInSecret ?? false) !== (desired.keptInSecret ?? false) ||
    (desired.deployStatus === 'Active' && current.deployOrder !== config.spec.position) ||
    !sameConditions(current.conditions, conditionsOf(config, desired, new Date()))
  );
}

export async function writeStatus(
  configs: ConfigStore,
  config: TopologyConfig,
  desired: DesiredStatus,
  now = new Date(),
): Promise<TopologyConfig> {
  const { namespace = '', name = '', resourceVersion, generation } = config.metadata;
  return configs.patchStatus(
    { namespace, name },
    {
      metadata: { resourceVersion },
      status: {
        deployStatus: desired.deployStatus,
        deployStatusReason: desired.deployStatusReason,
        // null removes the field (merge patch) once the entry is no longer kept.
        ...(desired.keptInSecret
          ? { keptInSecret: true }
          : config.status?.keptInSecret
            ? { keptInSecret: null }
            : {}),
        observedGeneration: generation,
        // The position that was merged, as the older operator reported it; kept as it was
        // while the config is not Active (its last merged entry may still be live).
        ...(desired.deployStatus === 'Active' ? { deployOrder: config.spec.position } : {}),
        conditions: conditionsOf(config, desired, now),
      },
    },
  );
}

export const hasFinalizer = (config: TopologyConfig): boolean =>
  (config.metadata.finalizers ?? []).includes(FINALIZER);

export async function setFinalizer(
  configs: ConfigStore,
  config: TopologyConfig,
  present: boolean,
): Promise<void> {
  const { namespace = '', name = '', resourceVersion } = config.metadata;
  const others = (config.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
  await configs.patch(
    { namespace, name },
    {
      metadata: { resourceVersion, finalizers: present ? [...others, FINALIZER] : others },
    },
  );
}

/**
 * Moves an assigned position: spec.position and the annotation that keeps it
 * the product's, together, guarded by the resourceVersion the move was
 * decided from. An ordinary update: the validating webhook judges it like
 * any position change.
 */
export function movePosition(
  configs: ConfigStore,
  config: TopologyConfig,
  position: number,
): Promise<TopologyConfig> {
  const { namespace = '', name = '', resourceVersion } = config.metadata;
  return configs.patch(
    { namespace, name },
    {
      metadata: {
        resourceVersion,
        annotations: { [ASSIGNED_POSITION_ANNOTATION]: String(position) },
      },
      spec: { position },
    },
  );
}
