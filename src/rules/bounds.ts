// Bounds on what one config may ask of a replica, checked before any rule
// that costs in proportion to the input (the schema walks every backend,
// re2js compiles every pattern): a config over a bound is judged no further.
// The same check runs in the webhook, the reconciler and `topology validate`.
import { isRecord } from '../resource/json.ts';
import type { FieldError } from './field-errors.ts';
import { root, tooLong } from './field-errors.ts';
import { patternSize } from './pattern-size.ts';

export const LIMITS = {
  /** Backends in one config. */
  backends: 256,
  /** Regular expressions (regexp.prefix and regexp.key) in one config. */
  patterns: 32,
  /** Characters of one regular expression. */
  patternLength: 1024,
  /** RE2 program size of one regular expression (pattern-size.ts), about 100 ms of compiling. */
  patternSize: 5000,
  /** RE2 program size of all of a config's regular expressions together. */
  patternsSize: 20_000,
} as const;

/** The bound errors of a config; empty when every bound holds. Reads only what it can trust. */
export function validateBounds(obj: unknown): FieldError[] {
  const spec = isRecord(obj) && isRecord(obj.spec) ? obj.spec : {};
  const backends = Array.isArray(spec.backends) ? (spec.backends as unknown[]) : [];
  const path = root('spec').child('backends');
  if (backends.length > LIMITS.backends) {
    return [
      tooLong(
        path.path,
        `has ${backends.length} backends; a config may have at most ${LIMITS.backends}`,
      ),
    ];
  }
  const errors: FieldError[] = [];
  let count = 0;
  let total = 0;
  backends.forEach((backend, i) => {
    const regexp = isRecord(backend) && isRecord(backend.regexp) ? backend.regexp : {};
    for (const part of ['prefix', 'key'] as const) {
      const pattern = regexp[part];
      if (typeof pattern !== 'string' || pattern === '') continue;
      count++;
      const field = path.index(i).child('regexp').child(part).path;
      if (pattern.length > LIMITS.patternLength) {
        errors.push(
          tooLong(
            field,
            `may have at most ${LIMITS.patternLength} characters (has ${pattern.length})`,
          ),
        );
        continue;
      }
      const size = patternSize(pattern);
      total += size;
      if (size > LIMITS.patternSize) {
        errors.push(
          tooLong(
            field,
            `would compile to about ${size} RE2 instructions; at most ${LIMITS.patternSize} are allowed (repetition counts multiply: (x{100}){10} is 1000 copies of x)`,
          ),
        );
      }
    }
  });
  if (count > LIMITS.patterns) {
    errors.push(
      tooLong(
        path.path,
        `has ${count} regular expressions (regexp.prefix and regexp.key); a config may have at most ${LIMITS.patterns}`,
      ),
    );
  } else if (errors.length === 0 && total > LIMITS.patternsSize) {
    errors.push(
      tooLong(
        path.path,
        `its regular expressions would compile to about ${total} RE2 instructions together; at most ${LIMITS.patternsSize} are allowed`,
      ),
    );
  }
  return errors;
}
