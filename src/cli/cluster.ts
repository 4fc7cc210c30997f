// What `topology diff` and `topology adopt` read from the cluster, read-only
// (but for the adoption label `topology adopt` sets): every
// TopologyConfig, the endpoint-key Secrets (by label, as the server watches
// them) and the target Secrets. A target Secret that does not exist is
// undefined; any other API error ends the command.
import { keysFromSecretData } from '../crypto/aes-gcm.ts';
import type { Connection } from '../kube/connection.ts';
import { createRestClient, paths, type RestClient } from '../kube/rest.ts';
import { isNotFound } from '../resource/errors.ts';
import {
  ENDPOINT_KEYS_LABEL,
  ENDPOINT_KEYS_VALUE,
  parseNamespacedName,
  type NamespacedName,
} from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { Secret } from '../reconcile/reconciler.ts';
import type { ClusterState } from './validate.ts';

interface List<T> {
  items: T[];
}

export interface Cluster {
  read(): Promise<ClusterState>;
  secrets(targets: readonly string[]): Promise<Map<string, Secret | undefined>>;
  /** The one write any command makes: `topology adopt` asking for an adoption. */
  labelSecret(ref: NamespacedName, label: string, value: string): Promise<void>;
}

export function clusterFrom(connection: Connection): Cluster {
  const rest: RestClient = createRestClient(connection, undefined, 'idle', 'topology');
  return {
    async read() {
      const selector = encodeURIComponent(`${ENDPOINT_KEYS_LABEL}=${ENDPOINT_KEYS_VALUE}`);
      const [configs, keySecrets] = await Promise.all([
        rest.get<List<TopologyConfig>>(paths.topologyConfigs()),
        rest.get<List<Secret>>(`${paths.secrets()}?labelSelector=${selector}`),
      ]);
      return {
        configs: configs.items,
        keySecrets: keySecrets.items.map((s) => ({
          namespace: s.metadata.namespace ?? '',
          name: s.metadata.name ?? '',
          keys: keysFromSecretData(s.data),
          labeled: true,
        })),
      };
    },
    async secrets(targets) {
      const found = new Map<string, Secret | undefined>();
      await Promise.all(
        targets.map(async (target) => {
          const ref = parseNamespacedName(target);
          if (!ref) return;
          try {
            found.set(target, await rest.get<Secret>(paths.secret(ref.namespace, ref.name)));
          } catch (error) {
            if (!isNotFound(error)) throw error;
            found.set(target, undefined);
          }
        }),
      );
      return found;
    },
    async labelSecret(ref, label, value) {
      await rest.patch(paths.secret(ref.namespace, ref.name), 'merge', {
        metadata: { labels: { [label]: value } },
      });
    },
  };
}
