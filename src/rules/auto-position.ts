// Positions the product chose. With `spec.position` omitted, the mutating
// webhook fills in the next free one from its own replica's cache, so two
// replicas answering a burst can choose the same one. The webhook records its
// choice (ASSIGNED_POSITION_ANNOTATION); a collision between such positions
// is not refused at admission (the author chose nothing), and the reconciler,
// the single writer, moves the later claimant of a collision to the next free
// position, as long as it was never merged. Pure: the reconciler reads the
// world and writes the outcome.
import { ASSIGNED_POSITION_ANNOTATION } from '../resource/names.ts';
import { isRecord } from '../resource/json.ts';
import { compareFacts } from './facts.ts';
import { MAX_POSITION } from './numbers.ts';
import type { PositionBand } from './view.ts';

/** Whether a config's position is the one the product assigned (the annotation still equals it). */
export function hasAssignedPosition(config: unknown): boolean {
  if (!isRecord(config) || !isRecord(config.metadata) || !isRecord(config.spec)) return false;
  const { annotations } = config.metadata;
  const { position } = config.spec;
  const value = isRecord(annotations) ? annotations[ASSIGNED_POSITION_ANNOTATION] : undefined;
  return typeof position === 'number' && typeof value === 'string' && value === String(position);
}

/**
 * The next free position at the bottom of a target: the highest one in use
 * plus one; for a tenant, within the first of its bands with room. A band
 * that is full gives its max + 1, which validation refuses with the band in
 * the reason. `maxIn(band)`: the highest position in use (in `band`), 0 if none.
 */
export function nextPosition(
  maxIn: (band?: PositionBand) => number,
  bands: readonly PositionBand[] | undefined,
): number {
  if (!bands || bands.length === 0) return maxIn() + 1;
  for (const band of bands) {
    const next = Math.max(maxIn(band) + 1, band.min);
    if (next <= band.max) return next;
  }
  return bands[0]!.max + 1;
}

/** One position in use in a target Secret. */
export interface PositionClaim {
  /** `namespace/name` of the config (or of the Secret entry's config). */
  key: string;
  position: number;
  /** creationTimestamp in ms (+Infinity when unknown). */
  created: number;
  /**
   * The product assigned this position and the config was never merged (no
   * entry in the Secret, never Active): it may be moved. Everything else (a
   * position its author wrote, one data was written at) stays where it is.
   */
  movable: boolean;
  /** The tenant's bands (its grants); undefined: anywhere. */
  bands?: readonly PositionBand[];
}

export interface PositionMove {
  key: string;
  from: number;
  to: number;
  /** The config that keeps `from`. */
  keeper: string;
}

const inBands = (position: number, bands: readonly PositionBand[] | undefined): boolean =>
  !bands || bands.length === 0 || bands.some((b) => position >= b.min && position <= b.max);

/**
 * Which movable claims of one target to move, and where. A position keeps
 * its fixed claimant; among movable ones only, the older (then
 * namespace/name) keeps it, which is the one the merge makes Active. Every
 * other movable claimant of a taken position goes, in that order, to the next
 * free position at the bottom of the target (within its bands), so that a
 * moved config lands after every config it could otherwise come before. A
 * claim with no room left (band full, or past the largest position) is not
 * moved: the merge reports its conflict. The same claims in any order give
 * the same moves; applying them leaves nothing to move.
 */
export function reassignPositions(claims: readonly PositionClaim[]): PositionMove[] {
  const holders = new Map<number, string>();
  const hold = (position: number, key: string) => {
    const seen = holders.get(position);
    if (seen === undefined || key < seen) holders.set(position, key);
  };
  for (const claim of claims) if (!claim.movable) hold(claim.position, claim.key);
  // The merge's order: of one position, the older (then namespace/name) claimant first.
  const movable = claims.filter((c) => c.movable).sort(compareFacts);
  const displaced: PositionClaim[] = [];
  for (const claim of movable) {
    if (holders.has(claim.position)) displaced.push(claim);
    else holders.set(claim.position, claim.key);
  }
  const used = [...holders.keys()];
  const maxIn = (band?: PositionBand) =>
    used.reduce((max, p) => (p > max && (!band || (p >= band.min && p <= band.max)) ? p : max), 0);
  const moves: PositionMove[] = [];
  for (const claim of displaced) {
    const to = nextPosition(maxIn, claim.bands);
    if (to > MAX_POSITION || !inBands(to, claim.bands)) continue;
    moves.push({ key: claim.key, from: claim.position, to, keeper: holders.get(claim.position)! });
    holders.set(to, claim.key);
    used.push(to);
  }
  return moves;
}
