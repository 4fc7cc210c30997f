// What reconcile/ needs from the layers around it (the caches' events, the
// Secret store, the status writer, the event sink), declared here so that
// kube/ implements it (kube/stores.ts, kube/caches.ts) and reconcile/ never
// imports from kube/.

import type { RoutingGrant } from '../resource/grant.ts';
import type { NamespacedName } from '../resource/names.ts';
import type { SecretObject } from '../resource/secret.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { EntryLinks } from './linked.ts';

/** What the caches tell the controller. */
export interface CacheListeners {
  /** A config was added, changed or removed (old and new target are both reported on a move). */
  configChanged(config: TopologyConfig): void;
  keySecretChanged(ref: NamespacedName): void;
  /** A managed target Secret changed, or one asking to be adopted. */
  managedSecretChanged(ref: NamespacedName): void;
  /**
   * A TopologyRoutingGrant or a Namespace changed: the grants in force, with
   * each namespace's uid (a grant binds to the uid, see rules/tenancy.ts).
   */
  grantsChanged(grants: readonly RoutingGrant[], namespaceUids: ReadonlyMap<string, string>): void;
}

/**
 * A managed target Secret as the cache keeps it: no data values (at 10,000
 * configs they were 7.3 MB of a ~128 MiB heap), only what the reconciler and
 * the metrics read of the Secrets of other targets. Their entries, when a
 * merge needs them, are read live.
 */
export interface CachedTargetSecret {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  /** What links its entries to other targets' (linked.ts), found as it entered the cache. */
  links: EntryLinks;
  /** Its data's bytes as the API server counts them. */
  dataBytes: number;
}

// The writes below fail with an ApiError (resource/errors.ts), whose status
// the reconciler decides on: 404, 409 and 403 each mean something.

/** The target Secrets, read and written live (never from a cache). */
export interface SecretStore {
  get(ref: NamespacedName): Promise<SecretObject>;
  create(namespace: string, secret: SecretObject): Promise<unknown>;
  /** A replace carries the read resourceVersion: a concurrent change fails it with 409. */
  replace(ref: NamespacedName, secret: SecretObject): Promise<unknown>;
}

/** TopologyConfigs: one read live, and merge patches of their status or of the object (metadata, spec). */
export interface ConfigStore {
  get(ref: NamespacedName): Promise<TopologyConfig>;
  patchStatus(ref: NamespacedName, patch: object): Promise<TopologyConfig>;
  patch(ref: NamespacedName, patch: object): Promise<TopologyConfig>;
}

/** Where core/v1 Events go. */
export interface EventSink {
  create(namespace: string, event: object): Promise<unknown>;
}
