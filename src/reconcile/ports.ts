// What reconcile/ needs from the layers around it, declared here so that
// kube/ implements it and reconcile/ never imports from kube/.

import type { RoutingGrant } from '../resource/grant.ts';
import type { NamespacedName } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';

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
