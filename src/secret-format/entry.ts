// One config's entry in the merged Secret: the data key and its YAML value,
// in the format the HariKube middleware reads (see SPEC "The merged Secret").
import { Scalar, stringify } from 'yaml';
import type { Backend, TopologyConfig } from '../resource/types.ts';
import { canonicalGoDuration } from './duration.ts';

/** Positions are padded so that lexical key order equals numeric order (2 before 10). */
export const POSITION_DIGITS = 10;

/**
 * `<position, 10 digits>-<namespace>.<name>.yaml`. A namespace cannot contain
 * `.`, so two configs with the same name in different namespaces, or any
 * namespace/name pair, can never produce the same key.
 */
export function secretKeyFor(config: TopologyConfig): string {
  const position = String(config.spec.position).padStart(POSITION_DIGITS, '0');
  return `${position}-${config.metadata.namespace ?? ''}.${config.metadata.name ?? ''}.yaml`;
}

/** The position and namespace/name of a data key as secretKeyFor writes it; undefined for any other key. */
export function parseSecretKey(
  key: string,
): { position: number; namespace: string; name: string } | undefined {
  const match = /^(\d+)-([^.]+)\.(.+)\.yaml$/.exec(key);
  if (!match || match[1]!.length !== POSITION_DIGITS) return undefined;
  return { position: Number(match[1]), namespace: match[2]!, name: match[3]! };
}

type Entry = [string, unknown];

/** The fields of `source` named in `keys`, in that order, skipping absent ones. */
function pick(source: object | undefined, keys: readonly string[]): Entry[] {
  if (!source) return [];
  const record = source as Record<string, unknown>;
  return keys.filter((key) => record[key] !== undefined).map((key) => [key, record[key]]);
}

function section(source: object | undefined, keys: readonly string[]): object | undefined {
  return source === undefined ? undefined : Object.fromEntries(pick(source, keys));
}

function connectionPool(pool: Backend['connectionPool']): object | undefined {
  if (pool === undefined) return undefined;
  const durations = (['maxLifeTime', 'maxIdleLifeTime'] as const)
    .filter((key) => pool[key] !== undefined)
    .map((key): Entry => [key, canonicalGoDuration(pool[key]!)]);
  return Object.fromEntries([...pick(pool, ['maxIdle', 'maxOpen']), ...durations]);
}

function namespaceSelector(selector: Backend['namespace']): object | undefined {
  if (selector === undefined) return undefined;
  // kinds is always written: an empty list reads as `[]`, as the middleware expects.
  return { ...section(selector, ['namespace']), kinds: selector.kinds ?? [] };
}

function renderBackend(backend: Backend, endpoint: string): object {
  const parts: Entry[] = [
    ['name', backend.name],
    ['endpoint', endpoint],
    ['backendTLS', section(backend.backendTLS, ['caFile', 'certFile', 'keyFile', 'skipVerify'])],
    ['connectionPool', connectionPool(backend.connectionPool)],
    ['customresource', section(backend.customresource, ['group', 'kind'])],
    ['namespace', namespaceSelector(backend.namespace)],
    ['prefix', section(backend.prefix, ['prefix'])],
    ['regexp', section(backend.regexp, ['prefix', 'key'])],
  ];
  return Object.fromEntries(parts.filter(([, value]) => value !== undefined));
}

/** How many entries have been rendered (tests count what the memos save). */
export const renders = { count: 0 };

// YAML 1.2's octal form, which YAML 1.1's rules leave plain: a 1.2 reader
// (Go's yaml.v3, this product's own read-back) takes `0o17` for the number 15.
const YAML_12_OCTAL = /^0o[0-7]+$/;

const quoteWhatYaml12ReadsAsNumber = (_key: unknown, value: unknown): unknown =>
  typeof value === 'string' && YAML_12_OCTAL.test(value)
    ? Object.assign(new Scalar(value), { type: Scalar.QUOTE_DOUBLE })
    : value;

/**
 * The YAML value of a config's entry. `endpoints[i]` is backend i's effective
 * (decrypted) endpoint. YAML 1.1 quoting, so that values such as `yes` or
 * `on` stay strings for Go's YAML parsers, and 1.2's octal quoted too, so a
 * string reads back as a string under either version; no line folding.
 */
export function renderEntry(config: TopologyConfig, endpoints: readonly string[]): string {
  renders.count++;
  const backends = entryBackends(config, endpoints);
  return stringify({ backends }, quoteWhatYaml12ReadsAsNumber, {
    version: '1.1',
    indentSeq: false,
    lineWidth: 0,
  });
}

/** The objects an entry's YAML is written from (renderEntry's `backends`). */
export function entryBackends(config: TopologyConfig, endpoints: readonly string[]): object[] {
  return config.spec.backends.map((backend, i) =>
    renderBackend(backend, endpoints[i] ?? backend.endpoint),
  );
}
