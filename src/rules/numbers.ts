// Integer ranges. A duration is Go's int64 nanoseconds in either form: an
// integer beyond 2^53 - 1 arrives as bigint (resource/json.ts reads it from
// its source text), so both forms reach math.MaxInt64 exactly.
import type { FieldPath } from './field-errors.ts';
import type { FieldError } from './field-errors.ts';
import { invalid } from './field-errors.ts';
import { isRecord } from '../resource/json.ts';
import { GO_DURATION_PATTERN } from '../resource/schema.ts';
import { MAX_GO_DURATION, parseGoDuration } from '../secret-format/duration.ts';

const MAX_INT64 = 2n ** 63n - 1n;

export const MAX_INT32 = 2_147_483_647;
/** Compiled once: the rules run on every review. */
const GO_DURATION = new RegExp(GO_DURATION_PATTERN);
/** The Secret key pads the position to 10 digits; int32 keeps it there (and matches Go's int on every platform). */
export const MAX_POSITION = MAX_INT32;

/** An integer from `min` to int32's max; a bigint (beyond 2^53) is always out of range. */
function int32From(min: number, value: unknown, path: FieldPath): FieldError[] {
  if (typeof value !== 'number' && typeof value !== 'bigint') return [];
  if (typeof value === 'bigint' || !Number.isInteger(value) || value < min || value > MAX_INT32) {
    return [invalid(path.path, `must be an integer from ${min} to ${MAX_INT32}`)];
  }
  return [];
}

export const validatePosition = (position: unknown, path: FieldPath): FieldError[] =>
  int32From(1, position, path);

/** A pool size: Go's database/sql takes an int; 0 means its default (maxIdle) or unlimited (maxOpen). */
export const validatePoolSize = (value: unknown, path: FieldPath): FieldError[] =>
  int32From(0, value, path);

/**
 * A Go time.Duration: nanoseconds, or a Go duration string (its grammar is
 * the schema's pattern; here only what the pattern cannot say: the int64 range).
 */
export function validateDuration(value: unknown, path: FieldPath): FieldError[] {
  if (typeof value === 'string') {
    if (!GO_DURATION.test(value)) return []; // the schema's error
    if (parseGoDuration(value) === undefined) {
      return [invalid(path.path, `must be at most ${MAX_GO_DURATION} (Go's int64 limit)`)];
    }
    return [];
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) {
    // Beyond 2^53 - 1 yet no bigint: written in a form that is not plain digits (1e19).
    return [
      invalid(
        path.path,
        'must be written as plain digits when beyond 9007199254740991 nanoseconds (an exponent or a fraction is not an exact integer)',
      ),
    ];
  }
  if (typeof value !== 'number' && typeof value !== 'bigint') return [];
  if (value < 0)
    return [invalid(path.path, 'must not be negative (nanoseconds; 0 means no limit)')];
  if (value > MAX_INT64) {
    return [
      invalid(
        path.path,
        `must be at most ${MAX_INT64} nanoseconds (Go's int64 limit, ${MAX_GO_DURATION})`,
      ),
    ];
  }
  return [];
}

export function validateConnectionPool(pool: unknown, path: FieldPath): FieldError[] {
  if (!isRecord(pool)) return [];
  return [
    ...validatePoolSize(pool.maxIdle, path.child('maxIdle')),
    ...validatePoolSize(pool.maxOpen, path.child('maxOpen')),
    ...validateDuration(pool.maxLifeTime, path.child('maxLifeTime')),
    ...validateDuration(pool.maxIdleLifeTime, path.child('maxIdleLifeTime')),
  ];
}

export function connectionPoolWarnings(pool: unknown, path: FieldPath): string[] {
  if (!isRecord(pool)) return [];
  const { maxIdle, maxOpen } = pool;
  if (
    typeof maxIdle === 'number' &&
    typeof maxOpen === 'number' &&
    maxOpen > 0 &&
    maxIdle > maxOpen
  ) {
    return [
      `${path.child('maxIdle').path}: ${maxIdle} is more than maxOpen (${maxOpen}); Go's database/sql lowers it to ${maxOpen}`,
    ];
  }
  return [];
}
