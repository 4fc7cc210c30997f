// The reconciler's half of auto-assigned positions (rules/auto-position.ts):
// which positions of a target are in use, which of them the product may
// still move, and where to.
import type { TopologyConfig } from '../resource/types.ts';
import { formatNamespacedName, objectKey } from '../resource/names.ts';
import {
  hasAssignedPosition,
  reassignPositions,
  type PositionClaim,
  type PositionMove,
} from '../rules/auto-position.ts';
import type { Policy } from '../rules/policy.ts';
import { positionBands } from '../rules/tenancy.ts';
import { parseSecretKey } from '../secret-format/entry.ts';
import type { WrittenSecret } from './incumbents.ts';

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
  const parsed = parseSecretKey(key);
  if (!parsed) return undefined;
  return {
    key: formatNamespacedName(parsed),
    position: parsed.position,
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
      key: objectKey(config),
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

/** The moves one target needs (rules/auto-position.ts), with the configs they move. */
export function positionMoves(
  configs: readonly TopologyConfig[],
  written: WrittenSecret | undefined,
  policy: Policy,
): Array<PositionMove & { config: TopologyConfig }> {
  const byKey = new Map(configs.map((c) => [objectKey(c), c]));
  return reassignPositions(positionClaims(configs, written, policy)).map((move) => ({
    ...move,
    config: byKey.get(move.key)!,
  }));
}
