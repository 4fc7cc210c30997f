// The bytes a config's entry adds to the merged Secret, exactly (by
// rendering it) and as a cheap upper bound (without rendering). The bound
// follows the renderer's output format, so it lives beside it.
import type { TopologyConfig } from '../resource/types.ts';
import { renderEntry, secretKeyFor } from './entry.ts';

/** The bytes an entry adds to the Secret's data, as the API server counts them (key + value). */
export function entrySize(key: string, value: string): number {
  return Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
}

/** The data bytes of a Secret as the API server holds it (`data` values are base64), without decoding. */
export function secretDataBytes(data: Record<string, string> | undefined): number {
  let bytes = 0;
  for (const [key, value] of Object.entries(data ?? {})) {
    const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
    bytes += Buffer.byteLength(key, 'utf8') + Math.floor((value.length * 3) / 4) - padding;
  }
  return bytes;
}

/** The data bytes of this config's entry (key and YAML), or undefined when it cannot be rendered. */
export function renderedSize(
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
): number | undefined {
  try {
    const raw = config.spec.backends.map((b, i) => endpoints[i] ?? b.endpoint);
    return entrySize(secretKeyFor(config), renderEntry(config, raw));
  } catch {
    // Invalid durations and the like: reported by the static rules.
    return undefined;
  }
}

// Bytes of YAML a value can take at most, as renderEntry writes it (block
// style, no line folding, indentation at most 8). A string's character
// becomes at most 6 bytes (an escape such as \u2028 or \x1b; and a UTF-16
// code unit is never fewer UTF-8 bytes), a line break at most 3 plus the
// indentation; quotes, a block header and the first indentation take 16. A
// number, boolean or Go duration string is short. A key line adds its
// indentation, `- `, `: ` and a newline; an object room for `kinds: []`
// (which the renderer adds) and an anchor.
const PER_STRING_BYTE = 16;
const PER_STRING = 32;
const PER_SCALAR = 64;
const PER_LINE = 16;
const PER_COLLECTION = 64;

function yamlBound(value: unknown): number {
  if (typeof value === 'string') return PER_STRING + PER_STRING_BYTE * Buffer.byteLength(value);
  if (Array.isArray(value)) {
    let bytes = PER_COLLECTION;
    for (const item of value) bytes += PER_LINE + yamlBound(item);
    return bytes;
  }
  if (typeof value === 'object' && value !== null) return fieldsBound(value, undefined);
  return PER_SCALAR;
}

/** The bound of an object's fields, the one named `skip` left out. */
function fieldsBound(value: object, skip: string | undefined): number {
  let bytes = PER_COLLECTION;
  const record = value as Record<string, unknown>;
  // for-in: parsed JSON has no inherited enumerable fields, and no entry arrays are made.
  for (const key in record) {
    if (key !== skip) bytes += PER_LINE + Buffer.byteLength(key) + yamlBound(record[key]);
  }
  return bytes;
}

/**
 * An upper bound of {@link renderedSize} that renders no YAML. The renderer
 * writes a subset of each backend's fields, with the effective endpoint in
 * place of the written one, so bounding every field of the backend with the
 * endpoint swapped bounds the entry.
 */
export function renderedSizeBound(
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
): number {
  let bytes = Buffer.byteLength(secretKeyFor(config)) + PER_COLLECTION + PER_LINE;
  const backends = config.spec.backends;
  for (let i = 0; i < backends.length; i++) {
    const backend = backends[i]!;
    const endpoint = endpoints[i] ?? backend.endpoint;
    bytes +=
      PER_LINE +
      fieldsBound(backend, 'endpoint') +
      PER_LINE +
      'endpoint'.length +
      yamlBound(endpoint);
  }
  return bytes;
}
