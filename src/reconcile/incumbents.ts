// Which config each entry of a target Secret was written for. The merge lets
// an entry leave the Secret only with its config, and lets the config whose
// entry is in the Secret (the incumbent) win conflicts; both need to know the
// owner of every entry across restarts and leader changes, so the reconciler
// records it in the Secret itself: one annotation mapping each data key to the
// uid and generation of the config it was written for. A uid, not a name: a
// config deleted and created again under the same name is a newcomer.
import { isRecord } from '../resource/json.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { isActive } from '../rules/append-only.ts';
import { secretKeyFor } from '../secret-format/entry.ts';

/** Annotation on each managed target Secret: data key → `<uid>:<generation>`. */
export const ENTRIES_ANNOTATION = 'harikube.info/entries';

export interface EntryOwner {
  uid: string;
  /** The config's metadata.generation the entry was rendered from. */
  generation: number;
}

/** One entry of a target Secret as last written, and the config it was written for. */
export interface WrittenEntry extends EntryOwner {
  value: string;
}

/** Data key → entry, of one target Secret. */
export type WrittenSecret = ReadonlyMap<string, WrittenEntry>;

/** Target (`namespace/name`) → its Secret as written. */
export type WrittenEntries = ReadonlyMap<string, WrittenSecret>;

const encodeOwner = (owner: EntryOwner) => `${owner.uid}:${owner.generation}`;

function decodeOwner(value: unknown): EntryOwner | undefined {
  if (typeof value !== 'string') return undefined;
  const at = value.lastIndexOf(':');
  const generation = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(generation)) return undefined;
  return { uid: value.slice(0, at), generation };
}

/** The annotation's value for these owners (keys sorted, so equal owners give equal bytes). */
export function entriesAnnotation(owners: ReadonlyMap<string, EntryOwner>): string {
  const sorted = [...owners.keys()].sort();
  return JSON.stringify(
    Object.fromEntries(sorted.map((key) => [key, encodeOwner(owners.get(key)!)])),
  );
}

/** The bytes the annotation spends on one entry (counted against the Secret's size limit). */
export function ownerBytes(key: string, owner: EntryOwner): number {
  // "key":"uid:generation", plus the comma.
  return Buffer.byteLength(key, 'utf8') + Buffer.byteLength(encodeOwner(owner), 'utf8') + 6;
}

/**
 * The entries of a managed Secret (data already decoded to UTF-8) with their
 * owners. A key the annotation does not name (a Secret written before it
 * existed) is owned by the config that would have written it, if that config
 * reports its routing live (Active, or in Error with its entry kept); an entry
 * without any owner belongs to no config of this cluster and is not kept.
 */
export function writtenEntriesOf(
  data: Readonly<Record<string, string>>,
  annotation: string | undefined,
  configs: readonly TopologyConfig[],
): WrittenSecret {
  let recorded: Record<string, unknown> = {};
  try {
    const parsed: unknown = annotation === undefined ? {} : JSON.parse(annotation);
    if (isRecord(parsed)) recorded = parsed;
  } catch {
    // A damaged annotation: fall back to the configs, as for a Secret without one.
  }
  const entries = new Map<string, WrittenEntry>();
  let byKey: Map<string, TopologyConfig> | undefined;
  for (const key of Object.keys(data).sort()) {
    let owner = decodeOwner(recorded[key]);
    if (!owner) {
      byKey ??= new Map(
        configs.filter((c) => isActive(c) && isRecord(c.spec)).map((c) => [secretKeyFor(c), c]),
      );
      const config = byKey.get(key);
      const uid = config?.metadata?.uid;
      if (config && uid) {
        const generation = config.status?.observedGeneration ?? config.metadata.generation ?? 0;
        owner = { uid, generation };
      }
    }
    if (owner) entries.set(key, { ...owner, value: data[key]! });
  }
  return entries;
}
