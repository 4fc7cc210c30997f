// status.conditions for tools: the kstatus conventions that kubectl wait,
// Flux, kpt and Argo CD read. Pure: the status the reconciler decided, the
// conditions the object has and the time give the conditions to write.
//
//   Ready        True only when Active for the current generation (and settled)
//   Reconciling  True while the config is not yet merged (or still settling)
//   Stalled      True in Error: the reconciler cannot make progress by itself
//
// Every condition carries the generation it describes; lastTransitionTime
// moves only when its status changes, so a new reason or message alone does
// not look like a transition.
import type { DeployStatus, TopologyConfigStatus } from '../resource/types.ts';

export type Condition = NonNullable<TopologyConfigStatus['conditions']>[number];

/**
 * The CamelCase reason of every condition (README "Status conditions"
 * documents the table). Active, Settling and Pending are not errors; the
 * others say why a config is in Error.
 */
export type ConditionReason =
  | 'Active'
  | 'Settling'
  | 'Pending'
  | 'Invalid'
  | 'PolicyDenied'
  | 'DecryptFailed'
  | 'KeptInSecret'
  | 'Conflict'
  | 'TooLarge'
  | 'ExistingData'
  | 'TargetNotManaged'
  | 'TargetNamespaceMissing'
  | 'TargetForbidden'
  | 'InternalError';

export const CONDITION_TYPES = ['Ready', 'Reconciling', 'Stalled'] as const;
type ConditionType = (typeof CONDITION_TYPES)[number];

/** What the reconciler decided for one config at one generation. */
export interface ConditionInput {
  deployStatus: DeployStatus;
  reason: ConditionReason;
  /** Human-readable; for an error, the same text as deployStatusReason. */
  message: string;
  /** Active, but the settle time has not passed yet: Ready stays False. */
  settling?: boolean;
}

// The API server caps a condition message at 32768 characters.
const MAX_MESSAGE = 32768;

function statuses(input: ConditionInput): Record<ConditionType, 'True' | 'False'> {
  const error = input.deployStatus === 'Error';
  const ready = input.deployStatus === 'Active' && !input.settling;
  return {
    Ready: ready ? 'True' : 'False',
    Reconciling: !error && !ready ? 'True' : 'False',
    Stalled: error ? 'True' : 'False',
  };
}

/**
 * The conditions to write: ours first, in a fixed order, then any condition
 * of another type that something else set (kept as it is).
 */
export function conditionsFor(
  input: ConditionInput,
  generation: number | undefined,
  previous: readonly Condition[] | undefined,
  now: Date,
): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, c]));
  const wanted = statuses(input);
  const message = input.message.slice(0, MAX_MESSAGE);
  const ours = CONDITION_TYPES.map((type): Condition => {
    const before = byType.get(type);
    return {
      type,
      status: wanted[type],
      reason: input.reason,
      message,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      lastTransitionTime:
        before?.status === wanted[type] ? before.lastTransitionTime : formatTime(now),
    };
  });
  const others = (previous ?? []).filter(
    (c) => !(CONDITION_TYPES as readonly string[]).includes(c.type),
  );
  return [...ours, ...others];
}

/** metav1.Time: RFC 3339 in UTC with second precision, as the API server writes it. */
function formatTime(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Whether two condition lists say the same, apart from transition times. */
export function sameConditions(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const left = a ?? [];
  const right = b ?? [];
  if (left.length !== right.length) return false;
  return left.every((c, i) => {
    const d = right[i]!;
    return (
      c.type === d.type &&
      c.status === d.status &&
      c.reason === d.reason &&
      c.message === d.message &&
      c.observedGeneration === d.observedGeneration
    );
  });
}

/** The config's Ready condition says True for its current generation. */
export function readyNow(
  conditions: readonly Condition[] | undefined,
  generation: number | undefined,
): boolean {
  const ready = conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True' && ready.observedGeneration === generation;
}
