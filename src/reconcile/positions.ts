// The reconciler's half of auto-assigned positions (rules/auto-position.ts):
// which positions of a target are in use and which of them the product may
// still move, and the conditional writes that move them. A move is an
// ordinary update of the config (spec.position and the annotation together,
// guarded by the resourceVersion the decision was made from), so the
// validating webhook judges it like any position change.
import type { Logger } from 'pino';
import { ASSIGNED_POSITION_ANNOTATION } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import {
  hasAssignedPosition,
  reassignPositions,
  type PositionClaim,
  type PositionMove,
} from '../rules/auto-position.ts';
import type { Policy } from '../rules/policy.ts';
import { positionBands } from '../rules/tenancy.ts';
import { POSITION_DIGITS } from '../secret-format/entry.ts';
import { ApiError, isConflict, isNotFound, paths, type RestClient } from '../kube/rest.ts';
import type { EventRecorder } from './events.ts';
import type { WrittenSecret } from './incumbents.ts';

const keyOf = (config: TopologyConfig): string =>
  `${config.metadata.namespace}/${config.metadata.name}`;

/**
 * Never merged: no entry of the Secret is its, and its status never said
 * Active (deployOrder is written with Active only). Data may have been
 * written at any other config's position, so only these may move.
 */
function neverMerged(config: TopologyConfig, owners: ReadonlySet<string>): boolean {
  const status = config.status;
  return (
    !owners.has(config.metadata.uid ?? '') &&
    status?.deployStatus !== 'Active' &&
    status?.deployOrder === undefined &&
    !status?.keptInSecret
  );
}

/** `<position>-<namespace>.<name>.yaml` → its position and `namespace/name`. */
function entryClaim(key: string): PositionClaim | undefined {
  const match = /^(\d+)-([^.]+)\.(.+)\.yaml$/.exec(key);
  if (!match || match[1]!.length !== POSITION_DIGITS) return undefined;
  return {
    key: `${match[2]}/${match[3]}`,
    position: Number(match[1]),
    created: Number.NEGATIVE_INFINITY,
    movable: false,
  };
}

/**
 * Every position in use in one target: each config's (being deleted too: its
 * entry is still read) and each entry's of the Secret as written (an
 * incumbent whose change is kept back holds its written position).
 */
export function positionClaims(
  configs: readonly TopologyConfig[],
  written: WrittenSecret | undefined,
  policy: Policy,
): PositionClaim[] {
  const owners = new Set([...(written?.values() ?? [])].map((e) => e.uid));
  const claims: PositionClaim[] = [];
  for (const config of configs) {
    const position = config.spec?.position;
    if (typeof position !== 'number') continue;
    const created = Date.parse(config.metadata.creationTimestamp ?? '');
    const movable =
      !config.metadata.deletionTimestamp &&
      hasAssignedPosition(config) &&
      neverMerged(config, owners);
    const bands = positionBands(config.metadata.namespace, policy.tenancy);
    claims.push({
      key: keyOf(config),
      position,
      created: Number.isNaN(created) ? Number.POSITIVE_INFINITY : created,
      movable,
      ...(bands ? { bands } : {}),
    });
  }
  for (const key of written?.keys() ?? []) {
    const claim = entryClaim(key);
    if (claim) claims.push(claim);
  }
  return claims;
}

export interface MoveDeps {
  rest: RestClient;
  events: EventRecorder;
  logger: Logger;
  mayWrite(): boolean;
}

/**
 * Writes the moves this target needs. 'moved': at least one was written (its
 * update event brings the target back with the new position); 'retry': a
 * config changed meanwhile; 'none': nothing to move, or every move was
 * refused (the webhook judged it against a cache that knows better: the
 * config stays in its conflict until the next reconcile).
 */
export async function movePositions(
  target: string,
  configs: readonly TopologyConfig[],
  written: WrittenSecret | undefined,
  policy: Policy,
  deps: MoveDeps,
): Promise<'moved' | 'retry' | 'none'> {
  const moves = reassignPositions(positionClaims(configs, written, policy));
  if (moves.length === 0) return 'none';
  const byKey = new Map(configs.map((c) => [keyOf(c), c]));
  let moved = false;
  let retry = false;
  for (const move of moves) {
    if (!deps.mayWrite()) return 'retry';
    const config = byKey.get(move.key)!;
    try {
      await writeMove(deps.rest, config, move);
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) {
        retry = retry || isConflict(error);
        continue;
      }
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      deps.logger.warn(
        {
          object: move.key,
          target,
          from: move.from,
          to: move.to,
          status: error.status,
          reason: error.message,
        },
        'moving an assigned position was refused',
      );
      continue;
    }
    moved = true;
    const message = `spec.position ${move.from} was assigned and is also taken by ${move.keeper} in ${target}: moved to ${move.to}, the next free position`;
    deps.logger.info(
      { object: move.key, target, from: move.from, to: move.to, keeper: move.keeper },
      'assigned position moved',
    );
    deps.events.record(config, 'Normal', 'PositionMoved', message);
  }
  return moved ? 'moved' : retry ? 'retry' : 'none';
}

function writeMove(rest: RestClient, config: TopologyConfig, move: PositionMove): Promise<unknown> {
  const { namespace = '', name = '', resourceVersion } = config.metadata;
  return rest.patch(paths.topologyConfig(namespace, name), 'merge', {
    metadata: {
      resourceVersion,
      annotations: { [ASSIGNED_POSITION_ANNOTATION]: String(move.to) },
    },
    spec: { position: move.to },
  });
}
