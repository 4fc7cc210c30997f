// Decoded JSON/YAML is untyped until checked; this is the one guard for "a
// plain object" that every reader of such input uses.
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * How deep any input may nest objects and arrays. A TopologyConfig's review,
 * managedFields included, nests about 12 levels; recursive code (deep
 * comparison, schema validation) must never meet thousands.
 */
export const MAX_NESTING_DEPTH = 64;

/** Whether JSON text nests deeper than `max`: one pass over the characters, strings skipped. */
export function jsonTextTooDeep(text: string, max = MAX_NESTING_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Whether a decoded value nests deeper than `max`; iterative, so hostile depth cannot overflow the stack. */
export function tooDeep(value: unknown, max = MAX_NESTING_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

// Exact integers. JSON and YAML numbers become JavaScript doubles, exact only
// up to 2^53 - 1, while the API server keeps integers as int64: a duration of
// 2^53 + 1 nanoseconds must reach the Secret as itself, not rounded. Integers
// written beyond Number.MAX_SAFE_INTEGER are read as bigint (from their
// source text); every other number stays a number, so nothing changes for the
// values people write.

/** An integer long enough to be unsafe (16 digits) where a JSON value starts: first, or after `:`, `[` or `,`. */
const LONG_INTEGER = /(?:^|[:[,])\s*-?\d{16}/;
const INTEGER_TEXT = /^-?\d+$/;

function exactInteger(this: unknown, _key: string, value: unknown, context?: { source?: string }) {
  if (
    typeof value === 'number' &&
    !Number.isSafeInteger(value) &&
    context?.source !== undefined &&
    INTEGER_TEXT.test(context.source)
  ) {
    return BigInt(context.source);
  }
  return value;
}

/** Whether JSON text may hold an integer beyond 2^53 - 1 (false: JSON.parse alone is exact). */
export const mayHoldUnsafeInteger = (text: string): boolean => LONG_INTEGER.test(text);

/**
 * JSON.parse, with integers beyond 2^53 - 1 as bigint (Node's reviver sees
 * each number's source text). Text with no such integer pays no reviver.
 */
export function parseJson(text: string): unknown {
  return mayHoldUnsafeInteger(text) ? JSON.parse(text, exactInteger) : JSON.parse(text);
}

/** Whether a decoded value holds a bigint anywhere (then {@link stringifyJson} and {@link withNumbers} apply). */
export function hasBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  for (const child of Object.values(value)) if (hasBigInt(child)) return true;
  return false;
}

const { rawJSON } = JSON as unknown as { rawJSON(text: string): unknown };
const bigintAsRaw = (_key: string, value: unknown): unknown =>
  typeof value === 'bigint' ? rawJSON(value.toString()) : value;

/**
 * JSON.stringify that writes a bigint as its digits (JSON.stringify alone
 * throws a TypeError on one). A replacer slows every call, so it is used
 * only for a value that holds a bigint.
 */
export function stringifyJson(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, null, space);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, bigintAsRaw, space);
  }
}

/**
 * A copy with every bigint as the nearest number, for checks that know only
 * numbers (Ajv's `integer`, minimum, maximum); the exact value is judged
 * elsewhere. Returns `value` itself when it holds no bigint.
 */
export function withNumbers(value: unknown): unknown {
  if (!hasBigInt(value)) return value;
  return mapLeaves(value, (v) => (typeof v === 'bigint' ? Number(v) : v));
}

/** A copy of decoded JSON with every leaf (neither array nor object) replaced by `leaf(it)`. */
export function mapLeaves(value: unknown, leaf: (value: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => mapLeaves(v, leaf));
  if (isRecord(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapLeaves(v, leaf)]));
  return leaf(value);
}

/** Turns, in place, the bigints a YAML parser made of every integer back into numbers where they are exact. */
export function narrowSafeIntegers(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= -Number.MAX_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER
      ? Number(value)
      : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = narrowSafeIntegers(record[key]);
  return value;
}
