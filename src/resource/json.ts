// Decoded JSON/YAML is untyped until checked; this is the one guard for "a
// plain object" that every reader of such input uses.
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
