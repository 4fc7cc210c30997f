// reconcile/'s stores (reconcile/ports.ts) over the REST client: paths and
// patch types are this layer's business, the decisions on errors are not.
import type { NamespacedName } from '../resource/names.ts';
import type { SecretObject } from '../resource/secret.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { ConfigStore, EventSink, SecretStore } from '../reconcile/ports.ts';
import { paths, type RestClient } from './rest.ts';

export interface Stores {
  secrets: SecretStore;
  configs: ConfigStore;
}

export function restStores(rest: RestClient): Stores {
  const config = ({ namespace, name }: NamespacedName) => paths.topologyConfig(namespace, name);
  return {
    secrets: {
      get: ({ namespace, name }) => rest.get<SecretObject>(paths.secret(namespace, name)),
      create: (namespace, secret) => rest.create(paths.secrets(namespace), secret),
      replace: ({ namespace, name }, secret) => rest.replace(paths.secret(namespace, name), secret),
    },
    configs: {
      get: (ref) => rest.get<TopologyConfig>(config(ref)),
      patchStatus: (ref, patch) =>
        rest.patch<TopologyConfig>(`${config(ref)}/status`, 'merge', patch),
      patch: (ref, patch) => rest.patch<TopologyConfig>(config(ref), 'merge', patch),
    },
  };
}

export function restEventSink(rest: RestClient): EventSink {
  return { create: (namespace, event) => rest.create(paths.events(namespace), event) };
}
