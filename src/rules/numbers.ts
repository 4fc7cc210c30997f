// Integer ranges. JSON numbers arrive as JavaScript doubles, which are exact
// only up to 2^53 - 1: a larger duration written as a number has already been
// rounded by the time we see it, so it is rejected rather than written to the
// Secret wrong; the same duration as a Go string is exact up to int64's limit.
import type { FieldPath } from './field-errors.ts';
import type { FieldError } from './field-errors.ts';
import { invalid } from './field-errors.ts';
import { isRecord } from '../resource/json.ts';
import { GO_DURATION_PATTERN } from '../resource/schema.ts';
import { MAX_GO_DURATION, parseGoDuration } from '../secret-format/duration.ts';

export const MAX_INT32 = 2_147_483_647;
/** Compiled once: the rules run on every review. */
const GO_DURATION = new RegExp(GO_DURATION_PATTERN);
/** The Secret key pads the position to 10 digits; int32 keeps it there (and matches Go's int on every platform). */
export const MAX_POSITION = MAX_INT32;

export function validatePosition(position: unknown, path: FieldPath): FieldError[] {
  if (typeof position !== 'number') return [];
  if (!Number.isInteger(position) || position < 1 || position > MAX_POSITION) {
    return [invalid(path.path, `must be an integer from 1 to ${MAX_POSITION}`)];
  }
  return [];
}

/** A pool size: Go's database/sql takes an int; 0 means its default (maxIdle) or unlimited (maxOpen). */
export function validatePoolSize(value: unknown, path: FieldPath): FieldError[] {
  if (typeof value !== 'number') return [];
  if (!Number.isInteger(value) || value < 0 || value > MAX_INT32) {
    return [invalid(path.path, `must be an integer from 0 to ${MAX_INT32}`)];
  }
  return [];
}

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
  if (typeof value !== 'number') return [];
  if (!Number.isSafeInteger(value)) {
    return [
      invalid(
        path.path,
        `must be at most ${Number.MAX_SAFE_INTEGER} nanoseconds (about 104 days) when written as a number: larger numbers lose precision in JSON parsers such as JavaScript's, so the value could not be kept exactly; write a Go duration string instead (up to ${MAX_GO_DURATION})`,
      ),
    ];
  }
  if (value < 0)
    return [invalid(path.path, 'must not be negative (nanoseconds; 0 means no limit)')];
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
