// What the rules may ask about the world beyond the object being judged. The
// webhook answers from its informer caches and the offline command from its
// files, both through ConfigIndex; the rules never scan all configs.
import type { EndpointKey } from '../crypto/aes-gcm.ts';
import type { NamespacedName } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { Conflict, Overlap } from './conflicts.ts';
import type { KeySecretPoints } from './deny-list.ts';
import type { ConfigFacts } from './facts.ts';

export interface KeySet {
  /** Whether the Secret exists. */
  found: boolean;
  /** Its AES-GCM keys (empty when not found or not labelled). */
  keys: EndpointKey[];
  /** False when the Secret exists but lacks ENDPOINT_KEYS_LABEL=true (its keys are then not used). */
  labeled?: boolean;
  /** True when the Secret exists but its keys are not kept: the cache holds as many key Secrets as it may. */
  overLimit?: boolean;
}

/** A band of positions, both ends included (a tenant's, from its grant). */
export interface PositionBand {
  min: number;
  max: number;
}

export interface KeyLookup {
  keysOf(ref: NamespacedName): KeySet;
}

export interface ConfigView extends KeyLookup {
  get(namespace: string, name: string): TopologyConfig | undefined;
  /** Every config (deleting ones too) naming `target`, sorted by namespace/name. */
  configsOfTarget(target: string): TopologyConfig[];
  /** Conflicts of `facts` with the other live configs (not itself: same namespace/name). */
  findConflicts(facts: ConfigFacts): Conflict[];
  /** Every overlap with the other live configs of its target (key-space model), in merge order. */
  findOverlaps(facts: ConfigFacts): Overlap[];
  /** Data bytes of the merged Secret if every live config of `target` were in it. */
  targetBytes(target: string): number;
  /** The data bytes this config contributes to its target (0 when unknown). */
  entryBytes(namespace: string, name: string): number;
  /**
   * The facts the view already holds for this very version of `config` (same
   * uid and resourceVersion), as resolveConfig would derive them; undefined
   * when it holds another version or none. An UPDATE's oldObject is usually
   * the version in the cache: its endpoints need not be hashed (or decrypted)
   * again.
   */
  factsOfVersion(config: TopologyConfig): ConfigFacts | undefined;
  /** The key Secrets (endpointDecryptSecret) the configs name: nobody may route them. */
  keySecretPoints(): KeySecretPoints;
  /** The highest position among the configs of `target` (within `band`, when given), 0 when there is none. */
  maxPosition(target: string, band?: PositionBand): number;
}
