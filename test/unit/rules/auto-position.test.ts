import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  hasAssignedPosition,
  nextPosition,
  reassignPositions,
  type PositionClaim,
  type PositionMove,
} from '../../../src/rules/auto-position.ts';
import { MAX_POSITION } from '../../../src/rules/numbers.ts';
import type { PositionBand } from '../../../src/rules/view.ts';
import { ASSIGNED_POSITION_ANNOTATION } from '../../../src/resource/names.ts';
import { config } from './fixtures.ts';

const claim = (
  key: string,
  position: number,
  movable: boolean,
  created = 0,
  bands?: PositionBand[],
): PositionClaim => ({ key, position, created, movable, ...(bands ? { bands } : {}) });

/** Where every claim is once the moves are applied. */
function applied(claims: readonly PositionClaim[], moves: readonly PositionMove[]) {
  const to = new Map(moves.map((m) => [m.key, m.to]));
  return claims.map((c) => ({ ...c, position: to.get(c.key) ?? c.position }));
}

/** Claims of one target: a few positions, so that collisions are common; unique keys. */
const claimsArb = fc
  .uniqueArray(
    fc.record({
      key: fc.constantFrom(...'abcdefghijklmnopqrst'.split('')).map((k) => `ns/${k}`),
      position: fc.integer({ min: 1, max: 6 }),
      created: fc.integer({ min: 0, max: 4 }),
      movable: fc.boolean(),
    }),
    { selector: (c) => c.key, maxLength: 14 },
  )
  .map((list) => list as PositionClaim[]);

describe('hasAssignedPosition', () => {
  test('only while the annotation equals spec.position', () => {
    const at = (position: number, value?: string) =>
      config({
        position,
        ...(value === undefined ? {} : { annotations: { [ASSIGNED_POSITION_ANNOTATION]: value } }),
      });
    assert.equal(hasAssignedPosition(at(7, '7')), true);
    assert.equal(hasAssignedPosition(at(8, '7')), false, 'its author changed the position');
    assert.equal(hasAssignedPosition(at(7)), false, 'a position its author wrote');
    assert.equal(hasAssignedPosition(at(7, '07')), false);
    assert.equal(hasAssignedPosition({ metadata: {}, spec: {} }), false);
  });
});

describe('nextPosition', () => {
  const used = [3, 120, 150, 260];
  const maxIn = (band?: PositionBand) =>
    Math.max(0, ...used.filter((p) => !band || (p >= band.min && p <= band.max)));
  test('the bottom of the target, or of the first band with room', () => {
    assert.equal(nextPosition(maxIn, undefined), 261);
    assert.equal(nextPosition(maxIn, [{ min: 100, max: 199 }]), 151);
    assert.equal(nextPosition(maxIn, [{ min: 500, max: 599 }]), 500);
    assert.equal(
      nextPosition(maxIn, [
        { min: 100, max: 150 },
        { min: 200, max: 299 },
      ]),
      261,
    );
    assert.equal(nextPosition(maxIn, [{ min: 140, max: 150 }]), 151, 'full: max + 1');
  });
});

describe('reassignPositions', () => {
  test('a collision of assigned positions: the older keeps it, the newer goes to the bottom', () => {
    const moves = reassignPositions([
      claim('team-a/x', 4, true, 2000),
      claim('team-a/y', 4, true, 1000),
      claim('team-a/z', 9, false),
      claim('team-a/w', 2, true, 500),
    ]);
    assert.deepEqual(moves, [{ key: 'team-a/x', from: 4, to: 10, keeper: 'team-a/y' }]);
  });

  test('a position its author chose, or data was written at, is never moved', () => {
    const moves = reassignPositions([
      claim('team-a/explicit', 3, false, 9000),
      claim('team-a/assigned', 3, true, 1000),
      claim('team-a/written', 5, false),
      claim('team-a/late', 5, true, 1000),
    ]);
    assert.deepEqual(moves, [
      { key: 'team-a/assigned', from: 3, to: 6, keeper: 'team-a/explicit' },
      { key: 'team-a/late', from: 5, to: 7, keeper: 'team-a/written' },
    ]);
  });

  test('same age: namespace/name decides', () => {
    const moves = reassignPositions([claim('b/a', 1, true, 7), claim('a/b', 1, true, 7)]);
    assert.deepEqual(moves, [{ key: 'b/a', from: 1, to: 2, keeper: 'a/b' }]);
  });

  test('a tenant moves within its band; with no room left it is not moved', () => {
    const band = [{ min: 100, max: 102 }];
    const moves = reassignPositions([
      claim('t/a', 100, true, 1, band),
      claim('t/b', 100, true, 2, band),
      claim('t/c', 100, true, 3, band),
      claim('t/d', 100, true, 4, band),
      claim('p/top', 500, false),
    ]);
    assert.deepEqual(moves, [
      { key: 't/b', from: 100, to: 101, keeper: 't/a' },
      { key: 't/c', from: 100, to: 102, keeper: 't/a' },
    ]);
  });

  test('past the largest position nothing moves', () => {
    const moves = reassignPositions([
      claim('a/top', MAX_POSITION, false),
      claim('a/x', 1, true, 1),
      claim('a/y', 1, true, 2),
    ]);
    assert.deepEqual(moves, []);
  });

  test('property: assigned collisions end distinct, chosen positions stay, order does not matter', () => {
    fc.assert(
      fc.property(claimsArb, fc.integer(), (claims, seed) => {
        const moves = reassignPositions(claims);
        const after = applied(claims, moves);
        // No movable claim shares a position with any other claim.
        for (const c of after.filter((x) => x.movable)) {
          const sharing = after.filter((o) => o.key !== c.key && o.position === c.position);
          assert.deepEqual(sharing, [], `${c.key} still collides at ${c.position}`);
        }
        // Fixed claims never move; a movable one that collided with nothing stays.
        const moved = new Set(moves.map((m) => m.key));
        for (const c of claims) {
          if (!c.movable) assert.ok(!moved.has(c.key), `${c.key} was fixed`);
          const alone = claims.every((o) => o.key === c.key || o.position !== c.position);
          if (alone) assert.ok(!moved.has(c.key), `${c.key} collided with nothing`);
        }
        // Moves land below every position held before.
        const max = Math.max(...claims.map((c) => c.position));
        for (const m of moves) assert.ok(m.to > max);
        // The same claims in another order give the same moves.
        const shuffled = fc.sample(fc.shuffledSubarray(claims, { minLength: claims.length }), {
          seed,
          numRuns: 1,
        })[0]!;
        assert.deepEqual(reassignPositions(shuffled), moves);
        // Applied, nothing is left to move.
        assert.deepEqual(reassignPositions(after), []);
      }),
      { numRuns: 500 },
    );
  });

  test('property: of each position, a fixed claim or else the oldest movable one keeps it', () => {
    fc.assert(
      fc.property(claimsArb, (claims) => {
        const moved = new Set(reassignPositions(claims).map((m) => m.key));
        for (const position of new Set(claims.map((c) => c.position))) {
          const at = claims.filter((c) => c.position === position);
          const staying = at.filter((c) => !moved.has(c.key));
          const fixed = at.filter((c) => !c.movable);
          if (fixed.length > 0) assert.deepEqual(staying, fixed);
          else {
            const oldest = [...at].sort(
              (a, b) => a.created - b.created || (a.key < b.key ? -1 : 1),
            )[0]!;
            assert.deepEqual(staying, [oldest]);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
