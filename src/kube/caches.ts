// The informer caches both halves of the product read from: TopologyConfigs
// (fed into the ConfigIndex the rules query), the Secrets holding endpoint
// keys, and the target Secrets this product manages. Secrets are watched
// through label selectors only, so the process never holds every Secret of
// the cluster in memory; key Secrets are cut down as they enter the cache
// (secret-cache.ts): tenants can set those labels on Secrets of any size.
// Managed Secrets keep no data at all: what links their entries to other
// targets' and their size, worked out as they enter the cache.
import type { Connection } from './connection.ts';
import type { Logger } from 'pino';
import { keysFromSecretData } from '../crypto/aes-gcm.ts';
import {
  ADOPT_LABEL,
  ENDPOINT_KEYS_LABEL,
  ENDPOINT_KEYS_VALUE,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type NamespacedName,
  formatNamespacedName,
} from '../resource/names.ts';
import type { RoutingGrant } from '../resource/grant.ts';
import type { SecretObject } from '../resource/secret.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { ConfigIndex } from '../rules/config-index.ts';
import { startInformer, type RunningInformer } from './informer.ts';
import type { EntryLinks } from '../reconcile/linked.ts';
import type { CachedTargetSecret, CacheListeners } from '../reconcile/ports.ts';
import { paths, type RestClient } from './rest.ts';
import {
  KEY_SECRET_LIMITS,
  keepConfigFields,
  keepKeyData,
  keepManagedData,
  keepMetadataOnly,
} from './secret-cache.ts';

interface NamespaceObject {
  metadata: { name?: string; uid?: string };
}

export interface Caches {
  synced(): boolean;
  configs(): ReadonlyArray<TopologyConfig>;
  /** The target Secrets this product manages (label-selected), as last seen, without their data. */
  managedSecrets(): ReadonlyArray<CachedTargetSecret>;
  stop(): Promise<void>;
}

const refOf = (object: { metadata: { name?: string; namespace?: string } }): NamespacedName => ({
  namespace: object.metadata.namespace ?? '',
  name: object.metadata.name ?? '',
});

export async function startCaches(options: {
  connection: Connection;
  rest: RestClient;
  index: ConfigIndex;
  listeners: CacheListeners;
  logger: Logger;
  /** Whether the policy allows this Secret as a target: only those keep their entries' links. */
  mayBeTarget: (ref: NamespacedName) => boolean;
  /** The links of a managed Secret's entries (linked.ts), read from the whole Secret before it is cut down. */
  entryLinks: (secret: SecretObject) => EntryLinks;
}): Promise<Caches> {
  const { connection, rest, index, listeners, logger, mayBeTarget, entryLinks } = options;
  const started: RunningInformer<object>[] = [];

  // Keys first, so that encrypted endpoints are indexed decrypted from the start.
  // Every labelled key Secret's keys are kept (a config naming one for the
  // first time is judged at admission, with no time to fetch it), bounded per
  // Secret and in number; one over the number is known to exist, keys unread.
  const kept = new Set<string>();
  const keySecrets = await startInformer<SecretObject>({
    connection,
    rest,
    logger,
    name: 'endpoint-key-secrets',
    path: paths.secrets(),
    labelSelector: `${ENDPOINT_KEYS_LABEL}=${ENDPOINT_KEYS_VALUE}`,
    slim: keepKeyData,
    handlers: {
      onUpsert: (secret) => {
        const ref = refOf(secret);
        const key = formatNamespacedName(ref);
        if (kept.has(key) || kept.size < KEY_SECRET_LIMITS.secrets) {
          kept.add(key);
          index.setKeys(ref, keysFromSecretData(secret.data));
        } else {
          keepMetadataOnly(secret);
          index.setKeys(ref, [], true, true);
          logger.warn(
            { secret: key, limit: KEY_SECRET_LIMITS.secrets },
            'key Secret not read: the cache holds as many key Secrets as it may',
          );
        }
        listeners.keySecretChanged(ref);
      },
      onDelete: (secret) => {
        kept.delete(formatNamespacedName(refOf(secret)));
        index.setKeys(refOf(secret), undefined);
        listeners.keySecretChanged(refOf(secret));
      },
    },
  });
  const configs: RunningInformer<TopologyConfig> = await startInformer<TopologyConfig>({
    connection,
    rest,
    logger,
    name: 'topologyconfigs',
    path: paths.topologyConfigs(),
    // Read in pages: a first list of 10,000 configs in one answer held its whole JSON and every object at once.
    slim: keepConfigFields,
    pageSize: 500,
    handlers: {
      onUpsert: (config) => {
        const previous = index.get(config.metadata.namespace ?? '', config.metadata.name ?? '');
        index.upsert(config);
        if (previous && previous.spec?.targetSecret !== config.spec?.targetSecret)
          listeners.configChanged(previous);
        listeners.configChanged(config);
      },
      onDelete: (config) => {
        index.remove(config.metadata.namespace ?? '', config.metadata.name ?? '');
        listeners.configChanged(config);
      },
    },
  });
  // After the configs: an entry's links are read with its config at hand,
  // whose strings they share (its names and uid). Nothing reads these
  // Secrets before every cache has synced (the reconciler starts after).
  const managedSecrets = await startInformer<SecretObject>({
    connection,
    rest,
    logger,
    name: 'managed-secrets',
    path: paths.secrets(),
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    slim: keepManagedData(mayBeTarget, entryLinks),
    handlers: {
      onUpsert: (secret) => listeners.managedSecretChanged(refOf(secret)),
      onDelete: (secret) => listeners.managedSecretChanged(refOf(secret)),
    },
  });
  // Secrets asking to be adopted (set on an unmanaged Secret, so no other
  // informer sees it): only the event matters, the reconciler reads the
  // Secret itself, so only metadata is kept.
  const adoptSecrets = await startInformer<SecretObject>({
    connection,
    rest,
    logger,
    name: 'adopt-secrets',
    path: paths.secrets(),
    labelSelector: `${ADOPT_LABEL}=true`,
    slim: keepMetadataOnly,
    handlers: {
      onUpsert: (secret) => listeners.managedSecretChanged(refOf(secret)),
      onDelete: (secret) => listeners.managedSecretChanged(refOf(secret)),
    },
  });
  // Grants before the configs are judged by anyone: the namespaces (for
  // their uids) and the grants, each change handed on whole (both are few).
  let grantsInformer: RunningInformer<RoutingGrant> | undefined;
  let namespacesInformer: RunningInformer<NamespaceObject> | undefined;
  const uids = new Map<string, string>();
  const tenancyChanged = () => {
    if (grantsInformer && namespacesInformer) listeners.grantsChanged(grantsInformer.list(), uids);
  };
  namespacesInformer = await startInformer<NamespaceObject>({
    connection,
    rest,
    logger,
    name: 'namespaces',
    path: paths.namespaces(),
    handlers: {
      onUpsert: (namespace) => {
        const { name = '', uid = '' } = namespace.metadata;
        if (uids.get(name) === uid) return;
        uids.set(name, uid);
        tenancyChanged();
      },
      onDelete: (namespace) => {
        uids.delete(namespace.metadata.name ?? '');
        tenancyChanged();
      },
    },
  });
  grantsInformer = await startInformer<RoutingGrant>({
    connection,
    rest,
    logger,
    name: 'topologyroutinggrants',
    path: paths.routingGrants(),
    handlers: { onUpsert: tenancyChanged, onDelete: tenancyChanged },
  });
  tenancyChanged();
  started.push(
    keySecrets,
    managedSecrets,
    adoptSecrets,
    namespacesInformer,
    grantsInformer,
    configs,
  );

  return {
    synced: () => started.every((informer) => informer.synced()),
    configs: () => configs.list(),
    // keepManagedData turned each one into its summary, in place.
    managedSecrets: () => managedSecrets.list() as unknown as CachedTargetSecret[],
    stop: async () => {
      await Promise.all(started.map((informer) => informer.stop()));
    },
  };
}
