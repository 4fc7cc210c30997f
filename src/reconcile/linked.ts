// The targets whose configs and entries can change one target's merge.
// Backend names are unique cluster-wide, so a name two targets claim is
// decided across them (merge.ts: conflicts by name, crossTargetClaims); every
// other rule of the merge is per target (positions, endpoints, selectors,
// sizes), and the key Secrets, the one other cluster-wide fact, are passed
// apart (MergeState.cluster). Two targets are linked when a backend name of
// one (of a config, or of an entry its Secret holds) is also one of the
// other's, or when an entry of one is owned by a uid that owns an entry of
// the other or is a config of the other (a config the cache does not show
// is seated once, and a config of another target is not seated at all).
// The merge of the targets linked to one, followed to a fixpoint, gives that
// target what the merge of every config gives it; with unique names that is
// the target alone, so a reconcile does its own target's work, not the
// cluster's.
import { isRecord } from '../resource/json.ts';
import type { SecretObject } from '../resource/secret.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { ENTRIES_ANNOTATION, type WrittenSecret } from './incumbents.ts';
import { entryNames, namesOf } from './merge.ts';
import { isManagedSecret } from '../secret-format/secret.ts';

/** What links a target Secret's entries to others: their backend names and their owners' uids. */
export interface EntryLinks {
  names: readonly string[];
  uids: readonly string[];
}

export interface Fleet {
  /** Every config of the cluster, by its target. */
  configs: ReadonlyMap<string, readonly TopologyConfig[]>;
  /** Every target Secret's entries. */
  entries: ReadonlyMap<string, EntryLinks>;
}

export const NO_LINKS: EntryLinks = Object.freeze({ names: [], uids: [] });

/** A config's backend names, as its facts hold them (a non-empty string). */
export function backendNames(config: TopologyConfig): string[] {
  const backends: unknown = isRecord(config.spec) ? config.spec.backends : undefined;
  return Array.isArray(backends) ? namesOf(backends) : [];
}

/** The links of entries as the merge is given them. */
export function writtenLinks(
  secret: WrittenSecret | undefined,
  ownerOf: (uid: string) => TopologyConfig | undefined,
): EntryLinks {
  if (!secret) return NO_LINKS;
  const names: string[] = [];
  const uids: string[] = [];
  for (const entry of secret.values()) {
    names.push(...entryNames(ownerOf(entry.uid), entry.value));
    uids.push(entry.uid);
  }
  return { names, uids };
}

/**
 * The links of a managed Secret: every entry's names (owned or not: an owner
 * may be found for it from the configs) and the uids its annotation records;
 * an unmanaged Secret holds nothing of ours. `ownerOf` (by the uid the
 * annotation records and the entry's key) only saves reading the entry's
 * YAML when it is that config's current rendering: the names are the same.
 * The cache works them out once per version of a Secret (caches.ts), not
 * per reconcile: a YAML reading of every entry of every other Secret per
 * reconcile was most of a reconcile's work.
 */
export function secretLinks(
  secret: SecretObject,
  ownerOf: (uid: string, key: string) => TopologyConfig | undefined,
): EntryLinks {
  if (!isManagedSecret(secret)) return NO_LINKS;
  let recorded: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(secret.metadata.annotations?.[ENTRIES_ANNOTATION] ?? '{}');
    if (isRecord(parsed)) recorded = parsed;
  } catch {
    // A damaged annotation records no owner.
  }
  const names: string[] = [];
  const uids: string[] = [];
  for (const [key, encoded] of Object.entries(secret.data ?? {})) {
    const recordedOwner = recorded[key];
    const uid =
      typeof recordedOwner === 'string'
        ? recordedOwner.slice(0, recordedOwner.lastIndexOf(':'))
        : undefined;
    const owner = uid ? ownerOf(uid, key) : undefined;
    const value = Buffer.from(encoded, 'base64').toString('utf8');
    // The owner's own strings where they are the same: the cache of 10,000
    // entries then holds no copy of their names and uids (1.5 MB).
    if (uid) uids.push(owner?.metadata.uid === uid ? owner.metadata.uid : uid);
    const held = owner ? backendNames(owner) : [];
    for (const name of entryNames(owner, value)) names.push(held.find((n) => n === name) ?? name);
  }
  return { names, uids };
}

/**
 * `target` and every target linked to it, directly or through others. Every
 * reconcile runs this over the whole cluster, so it indexes only what is
 * linked so far (its names, its configs' uids, its entries' owners) and
 * looks the other targets' up in it, until no other target is linked: with
 * unique names, one pass of lookups. An index of the whole cluster's names
 * and uids, built per reconcile, was ~60,000 map entries and two joined
 * strings each at 10,000 configs.
 */
export function linkedTargets(target: string, fleet: Fleet): Set<string> {
  const linked = new Set([target]);
  const names = new Set<string>();
  const configUids = new Set<string>();
  const entryUids = new Set<string>();
  const take = (t: string) => {
    for (const config of fleet.configs.get(t) ?? []) {
      for (const name of backendNames(config)) names.add(name);
      const uid = config.metadata?.uid;
      if (uid) configUids.add(uid);
    }
    const links = fleet.entries.get(t) ?? NO_LINKS;
    for (const name of links.names) names.add(name);
    for (const uid of links.uids) entryUids.add(uid);
  };
  // Linked: a shared backend name (of configs or entries); an entry owned by
  // a linked config or by a linked entry's owner; a config owning a linked entry.
  const reaches = (t: string): boolean => {
    for (const config of fleet.configs.get(t) ?? []) {
      if (backendNames(config).some((name) => names.has(name))) return true;
      const uid = config.metadata?.uid;
      if (uid && entryUids.has(uid)) return true;
    }
    const links = fleet.entries.get(t) ?? NO_LINKS;
    if (links.names.some((name) => names.has(name))) return true;
    return links.uids.some((uid) => configUids.has(uid) || entryUids.has(uid));
  };
  take(target);
  const others = new Set([...fleet.configs.keys(), ...fleet.entries.keys()]);
  for (let grew = true; grew;) {
    grew = false;
    for (const t of others) {
      if (linked.has(t) || !reaches(t)) continue;
      linked.add(t);
      take(t);
      grew = true;
    }
  }
  return linked;
}
