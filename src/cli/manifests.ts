// Reading manifest files for the offline command: multi-document YAML (JSON
// is YAML too), `kind: List` expanded. TopologyConfigs are kept, and so are
// Secrets, which may hold the endpoint keys a config names; everything else
// is ignored.
//
// Integers become JavaScript numbers, as they do when the API server's JSON
// reaches the webhook: one beyond 2^53 is then inexact, and the rules refuse
// every integer that is not safe, so both paths give the same verdict.
//
// A syntax error is reported by line and column only, never with the source
// excerpt the yaml package would print: that line may hold an endpoint with a
// password.

import { LineCounter, parseAllDocuments } from 'yaml';
import { keysFromSecretData, type EndpointKey } from '../crypto/aes-gcm.ts';
import { ENDPOINT_KEYS_LABEL, ENDPOINT_KEYS_VALUE } from '../resource/names.ts';
import { GROUP, KIND } from '../resource/schema.ts';
import { GRANT_KIND, type RoutingGrant } from '../resource/grant.ts';
import { MAX_NESTING_DEPTH, isRecord, narrowSafeIntegers, tooDeep } from '../resource/json.ts';

/** One TopologyConfig found in a file, as written (namespace defaulted). */
export interface ManifestConfig {
  file: string;
  /** 0-based position among the documents (and List items) of the file. */
  index: number;
  object: Record<string, unknown>;
  namespace: string;
  /** `metadata.name`, or '' when missing (the rules report it). */
  name: string;
}

/** A Secret found in a file, as a possible source of endpoint keys. */
export interface ManifestSecret {
  file: string;
  namespace: string;
  name: string;
  keys: EndpointKey[];
  /** Whether it carries ENDPOINT_KEYS_LABEL=true, as the cluster requires. */
  labeled: boolean;
  /** Its labels and data (base64, stringData merged over data), for `topology adopt -f`. */
  labels: Record<string, string>;
  data: Record<string, string>;
}

export interface Manifest {
  configs: ManifestConfig[];
  secrets: ManifestSecret[];
  /** TopologyRoutingGrants among the documents: the tenant routing policy to judge with. */
  grants?: RoutingGrant[];
  /** Namespace objects with a uid (`name` → `uid`): grants bind to them as in the cluster. */
  namespaceUids?: Map<string, string>;
}

export type ReadResult = ({ ok: true } & Manifest) | { ok: false; error: string };

/** Namespace kubectl would use for a document without one (no context here). */
export const DEFAULT_NAMESPACE = 'default';

/** Throws RecursiveAlias for a structure that contains itself (an alias inside its own anchor). */
function assertAcyclic(value: unknown, ancestors: Set<object> = new Set()): void {
  if (typeof value !== 'object' || value === null) return;
  if (ancestors.has(value)) throw new RecursiveAlias();
  ancestors.add(value);
  for (const child of Object.values(value)) assertAcyclic(child, ancestors);
  ancestors.delete(value);
}

class RecursiveAlias extends Error {}

/** Parses every document of `text`; an error names the line and column only. */
export function parseDocuments(
  text: string,
): { ok: true; documents: unknown[] } | { ok: false; error: string } {
  const lineCounter = new LineCounter();
  // Integers as bigint, then the exact ones narrowed back to numbers: a
  // duration beyond 2^53 - 1 nanoseconds keeps its digits (as through the API server).
  const documents = parseAllDocuments(text, {
    prettyErrors: false,
    lineCounter,
    intAsBigInt: true,
  });
  // A stream with no documents at all (empty file, only comments) yields [].
  const list = Array.isArray(documents) ? documents : [];
  const values: unknown[] = [];
  for (const [i, doc] of list.entries()) {
    const [first] = doc.errors;
    if (first) {
      const { line, col } = lineCounter.linePos(first.pos[0]);
      return { ok: false, error: `YAML error at line ${line}, column ${col}: ${first.code}` };
    }
    try {
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      assertAcyclic(value);
      // The webhook's bound, offline (the yaml parser stops near 1,000 levels itself).
      if (tooDeep(value))
        return {
          ok: false,
          error: `YAML error in document ${i + 1}: nests deeper than ${MAX_NESTING_DEPTH} levels`,
        };
      values.push(narrowSafeIntegers(value));
    } catch (error) {
      // Neither message carries source text; say which document, not what it holds.
      const what =
        error instanceof RecursiveAlias
          ? 'an alias refers to itself'
          : error instanceof Error && /alias/i.test(error.message)
            ? 'too many aliases'
            : 'cannot be read';
      return { ok: false, error: `YAML error in document ${i + 1}: ${what}` };
    }
  }
  return { ok: true, documents: values };
}

function isTopologyConfig(doc: Record<string, unknown>): boolean {
  return (
    doc.kind === KIND &&
    typeof doc.apiVersion === 'string' &&
    doc.apiVersion.startsWith(`${GROUP}/`)
  );
}

const stringsOf = (value: unknown): Record<string, string> =>
  isRecord(value)
    ? Object.fromEntries(
        Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
      )
    : {};

function secretIn(file: string, doc: Record<string, unknown>): ManifestSecret | undefined {
  if (doc.kind !== 'Secret' || doc.apiVersion !== 'v1') return undefined;
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  if (typeof metadata.name !== 'string' || metadata.name === '') return undefined;
  // stringData holds the raw key bytes as text; the API server merges it over data.
  const data: Record<string, string> = { ...stringsOf(doc.data) };
  for (const [key, value] of Object.entries(stringsOf(doc.stringData))) {
    data[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  return {
    file,
    namespace: namespaceOf(metadata),
    name: metadata.name,
    keys: keysFromSecretData(data),
    labeled: stringsOf(metadata.labels)[ENDPOINT_KEYS_LABEL] === ENDPOINT_KEYS_VALUE,
    labels: stringsOf(metadata.labels),
    data,
  };
}

const namespaceOf = (metadata: Record<string, unknown>): string =>
  typeof metadata.namespace === 'string' && metadata.namespace !== ''
    ? metadata.namespace
    : DEFAULT_NAMESPACE;

/**
 * The TopologyConfigs and Secrets among `documents`, in order; `kind: List`
 * items are expanded. A TopologyConfig of another version of the group is
 * kept so that the rules refuse it rather than it being skipped silently.
 */
export function manifestsIn(file: string, documents: readonly unknown[]): Manifest {
  const flat: unknown[] = [];
  for (const doc of documents) {
    if (isRecord(doc) && doc.kind === 'List' && Array.isArray(doc.items)) flat.push(...doc.items);
    else flat.push(doc);
  }
  const configs: ManifestConfig[] = [];
  const secrets: ManifestSecret[] = [];
  const grants: RoutingGrant[] = [];
  const namespaceUids = new Map<string, string>();
  flat.forEach((doc, index) => {
    if (!isRecord(doc)) return;
    const meta = isRecord(doc.metadata) ? doc.metadata : {};
    if (doc.kind === GRANT_KIND && doc.apiVersion === `${GROUP}/v1`)
      grants.push(doc as unknown as RoutingGrant);
    if (doc.kind === 'Namespace' && typeof meta.name === 'string' && typeof meta.uid === 'string')
      namespaceUids.set(meta.name, meta.uid);
    const secret = secretIn(file, doc);
    if (secret) secrets.push(secret);
    if (!isTopologyConfig(doc)) return;
    const metadata = isRecord(doc.metadata) ? doc.metadata : {};
    const namespace = namespaceOf(metadata);
    const name = typeof metadata.name === 'string' ? metadata.name : '';
    const object = { ...doc, metadata: { ...metadata, namespace } };
    configs.push({ file, index, object, namespace, name });
  });
  return { configs, secrets, grants, namespaceUids };
}

/** Parses one file's text into its TopologyConfigs and Secrets. */
export function readManifest(file: string, text: string): ReadResult {
  const parsed = parseDocuments(text);
  if (!parsed.ok) return parsed;
  return { ok: true, ...manifestsIn(file, parsed.documents) };
}
