// What the Secret informers keep of each Secret. Their label selectors are
// ones tenants can set on their own Secrets, so a cache of whole objects
// could be filled with a few hundred 1 MB Secrets: each one is cut down, in
// place, as it enters the cache (an informer's cache holds the very object it
// hands to its handlers). Managed Secrets keep their identity, labels, and
// what links their entries to other targets' and their size, no data
// (keepManagedData); key Secrets keep at most a few entries that could be
// AES keys.

import type { NamespacedName } from '../resource/names.ts';
import type { SecretObject } from '../resource/secret.ts';
import { NO_LINKS, type EntryLinks } from '../reconcile/linked.ts';
import type { CachedTargetSecret } from '../reconcile/ports.ts';
import { KEY_SECRETS_KEPT } from '../rules/encryption.ts';
import { secretDataBytes } from '../secret-format/size.ts';
import { flatString } from '../runtime/strings.ts';

/** Bounds of the key-Secret cache. */
export const KEY_SECRET_LIMITS = {
  /** Data entries kept per key Secret (in name order). */
  entries: 16,
  /** Key Secrets whose keys are kept; one more gets a clear reason instead. */
  secrets: KEY_SECRETS_KEPT,
} as const;

/** Base64 lengths of 16, 24 and 32-byte keys. */
const KEY_LENGTHS = new Set([24, 32, 44]);

interface Slimmable {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

const KEPT_METADATA = ['name', 'namespace', 'uid', 'resourceVersion', 'labels'];

/** Keeps the identity and labels; drops annotations (kubectl's last-applied copy holds the data), managedFields, data. */
export function keepMetadataOnly(secret: Slimmable): void {
  const metadata = (secret.metadata ?? {}) as Record<string, unknown>;
  for (const field of Object.keys(metadata))
    if (!KEPT_METADATA.includes(field)) delete metadata[field];
  const object = secret as Record<string, unknown>;
  for (const field of Object.keys(object))
    if (field !== 'metadata' && field !== 'apiVersion' && field !== 'kind') delete object[field];
}

/**
 * At most KEY_SECRET_LIMITS.entries entries; a value that cannot be an AES key
 * keeps its name with an empty value, so that a reason can still say it was skipped.
 */
export function boundedKeyData(data: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof data !== 'object' || data === null) return out;
  const names = Object.keys(data).sort().slice(0, KEY_SECRET_LIMITS.entries);
  for (const name of names) {
    const value = (data as Record<string, unknown>)[name];
    out[name] = typeof value === 'string' && KEY_LENGTHS.has(value.length) ? value : '';
  }
  return out;
}

/** A key Secret cut down in place: its metadata and bounded data. */
export function keepKeyData(secret: Slimmable): void {
  const data = boundedKeyData(secret.data);
  keepMetadataOnly(secret);
  secret.data = data;
}

/**
 * What the managed-Secret cache keeps: identity and labels, and for a Secret
 * `mayBeTarget` allows, what links its entries to other targets'
 * (`entryLinks`, worked out here, once per version) and its data's size. No
 * entry value: the reconciler reads a linked target's Secret live when its
 * merge needs the entries (8 Secrets of 1,250 entries held 7.3 MB of values).
 * A Secret tenants labelled outside the allowed targets keeps no links.
 */
export function keepManagedData(
  mayBeTarget: (ref: NamespacedName) => boolean,
  entryLinks: (secret: SecretObject) => EntryLinks,
): (secret: SecretObject) => void {
  return (secret) => {
    const { name = '', namespace = '' } = secret.metadata ?? {};
    const target = mayBeTarget({ namespace, name });
    const summary: Pick<CachedTargetSecret, 'links' | 'dataBytes'> = {
      links: target ? entryLinks(secret) : NO_LINKS,
      dataBytes: target ? secretDataBytes(secret.data) : 0,
    };
    keepMetadataOnly(secret);
    Object.assign(secret, summary);
  };
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

// Every string of a cached config, held as V8's internalized copy
// (flatString): one copy of each string the process holds anywhere. Many
// configs repeat theirs (apiVersion and kind, namespaces, targets,
// finalizers, kinds, condition types, reasons and times, the three
// conditions' one message), and a relist or a restarted watch brings new
// objects whose every string (uid, names, endpoints) is still held by what
// was derived from the old ones (facts, the merge's memo, the managed
// Secrets' links): JSON.parse gives each object its own copies, 4.5 MB more
// at 10,000 configs after one relist. The string table holds them weakly,
// so nothing outlives its last holder. A string longer than
// INTERNED_LENGTH (an annotation, say) is left as it is: hashing it costs
// more than a copy of it could save.
const INTERNED_LENGTH = 1_024;
const intern = (value: string): string =>
  value.length > INTERNED_LENGTH ? value : flatString(value);

/** Every string of `value` replaced, in place, by its internalized copy. */
function internStrings(value: unknown): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'string') value[i] = intern(item);
      else internStrings(item);
    }
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const item = object[key];
    if (typeof item === 'string') object[key] = intern(item);
    else internStrings(item);
  }
}

/**
 * What the config cache keeps: the object without managedFields and kubectl's
 * last-applied copy of it (together as large as the rest, and read by
 * nothing here; the reconciler writes by merge patches, so nothing it keeps
 * out is ever written back), its repeated strings interned. The metadata is
 * built again rather than cut with `delete`, which turns an object into a
 * hash table in V8: ~430 bytes more per cached config (a heap snapshot at
 * 10,000 configs: 4.3 MB).
 */
export function keepConfigFields(config: { metadata?: object }): void {
  if (config.metadata) {
    const { managedFields: _, ...metadata } = config.metadata as {
      managedFields?: unknown;
      annotations?: Record<string, string>;
    };
    if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
      const { [LAST_APPLIED]: _applied, ...rest } = metadata.annotations;
      metadata.annotations = rest;
    }
    config.metadata = metadata;
  }
  internStrings(config);
}
