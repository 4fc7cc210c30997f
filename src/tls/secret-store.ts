// The one shared TLS Secret as stored by the API server.

import { paths } from '../kube/rest.ts';
import { isNotFound } from '../resource/errors.ts';
import type { RestClient } from '../kube/rest.ts';
import type { NamespacedName } from '../resource/names.ts';
import type { TlsSecretObject } from './secret-codec.ts';

/**
 * The one Secret, as the API server keeps it. Errors carry the HTTP status
 * (ApiError): 409 AlreadyExists from create, 409 Conflict from a replace
 * whose resourceVersion is stale.
 */
export interface TlsSecretStore {
  /** undefined when the Secret does not exist. */
  get(): Promise<TlsSecretObject | undefined>;
  create(secret: TlsSecretObject): Promise<TlsSecretObject>;
  /** Succeeds only if `secret.metadata.resourceVersion` is still the current one. */
  replace(secret: TlsSecretObject): Promise<TlsSecretObject>;
}

export function restTlsSecretStore(rest: RestClient, ref: NamespacedName): TlsSecretStore {
  return {
    get: async () => {
      try {
        return await rest.get<TlsSecretObject>(paths.secret(ref.namespace, ref.name));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    create: (secret) => rest.create<TlsSecretObject>(paths.secrets(ref.namespace), secret),
    replace: (secret) =>
      rest.replace<TlsSecretObject>(paths.secret(ref.namespace, ref.name), secret),
  };
}
