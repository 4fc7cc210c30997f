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
