// Endpoints: with spec.endpointDecryptSecret every endpoint must decrypt with
// one of that Secret's keys; without it, an endpoint that looks encrypted or
// has an unknown scheme gets a warning. No reason ever quotes an endpoint, a
// ciphertext or a key: only backend indexes, Secret names and key names.
import type { EndpointKey } from '../crypto/aes-gcm.ts';
import { KEY_SIZES, decryptEndpoint, looksEncrypted } from '../crypto/aes-gcm.ts';
import {
  ENDPOINT_KEYS_LABEL,
  ENDPOINT_KEYS_VALUE,
  parseNamespacedName,
} from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { FieldError } from './field-errors.ts';
import { invalid } from './field-errors.ts';
import { namespacedNameProblem } from './formats.ts';
import { forbidsSecretRead, type Policy } from './policy.ts';
import type { KeyLookup, KeySet } from './view.ts';

/** The key-Secret cache's bound (src/kube/secret-cache.ts), for the reason given when it is reached. */
export const KEY_SECRETS_KEPT = 1000;

/**
 * Schemes of the storage drivers HariKube (kine) knows: MySQL, PostgreSQL,
 * SQLite, etcd over http(s) or a unix socket, and NATS. Anything else gets a
 * warning, not a rejection: the middleware may know drivers we do not.
 */
export const KNOWN_SCHEMES: readonly string[] = [
  'mysql',
  'postgres',
  'postgresql',
  'sqlite',
  'http',
  'https',
  'unix',
  'unixs',
  'nats',
  // HariKube's newer form for sensitive values: secret://<namespace>/<name>/<key>
  // (the middleware reads the endpoint from that Secret; see references.ts).
  'secret',
];

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** Warnings for one effective (plaintext) endpoint. */
export function endpointWarnings(
  endpoint: unknown,
  field: string,
  encryptedExpected: boolean,
): string[] {
  if (typeof endpoint !== 'string' || endpoint.trim() === '') return [];
  if (!encryptedExpected && looksEncrypted(endpoint)) {
    return [
      `${field} looks like an encrypted endpoint but spec.endpointDecryptSecret is not set: it will be used as written`,
    ];
  }
  const scheme = SCHEME.exec(endpoint)?.[1]?.toLowerCase();
  if (scheme === undefined || !KNOWN_SCHEMES.includes(scheme)) {
    // The scheme is not quoted: an endpoint in an unexpected form could put a secret where a scheme would be.
    return [
      `${field} has no known scheme (${KNOWN_SCHEMES.join(', ')}); check that HariKube supports it`,
    ];
  }
  return [];
}

export interface ResolvedEndpoints {
  /** Backend i's effective endpoint; undefined when it is missing or could not be decrypted. */
  endpoints: (string | undefined)[];
  errors: FieldError[];
}

const usable = (keys: readonly EndpointKey[]) =>
  keys.some((key) => KEY_SIZES.includes(key.key.length));

function keyProblem(found: KeySet, secret: string): string | undefined {
  if (found.overLimit) {
    return `Secret ${secret} is not read: the operator keeps the keys of at most ${KEY_SECRETS_KEPT} Secrets labelled ${ENDPOINT_KEYS_LABEL}=${ENDPOINT_KEYS_VALUE}; remove the label from key Secrets no config uses`;
  }
  if (!found.found)
    return `Secret ${secret} not found (a key Secret must carry the label ${ENDPOINT_KEYS_LABEL}=${ENDPOINT_KEYS_VALUE})`;
  if (found.labeled === false) {
    return `Secret ${secret} lacks the label ${ENDPOINT_KEYS_LABEL}=${ENDPOINT_KEYS_VALUE}, which marks a Secret as holding endpoint keys`;
  }
  if (!usable(found.keys))
    return `Secret ${secret} holds no usable key (each data entry must be a 16, 24 or 32-byte AES key)`;
  return undefined;
}

/**
 * Each backend's effective endpoint: as written, or decrypted with the keys of
 * spec.endpointDecryptSecret. Errors name the Secret or the backend's field.
 */
/** Each backend's endpoint as written (undefined when absent or blank): the effective ones of a config without endpointDecryptSecret. */
export function writtenEndpoints(config: TopologyConfig): (string | undefined)[] {
  const backends = Array.isArray(config.spec?.backends) ? config.spec.backends : [];
  return backends.map((b) =>
    typeof b?.endpoint === 'string' && b.endpoint.trim() !== '' ? b.endpoint : undefined,
  );
}

export function resolveEndpoints(
  config: TopologyConfig,
  keys: KeyLookup,
  policy?: Pick<Policy, 'allowCrossNamespaceDecryptSecret'>,
): ResolvedEndpoints {
  const raw = writtenEndpoints(config);
  const secret = config.spec?.endpointDecryptSecret;
  if (typeof secret !== 'string' || secret === '') return { endpoints: raw, errors: [] };
  const none = raw.map(() => undefined);
  // A malformed reference is reported by the static rules.
  if (namespacedNameProblem(secret)) return { endpoints: none, errors: [] };
  const ref = parseNamespacedName(secret)!;
  // A Secret the policy forbids is not even looked up: its existence is none of this config's business.
  if (policy && forbidsSecretRead(policy, config.metadata?.namespace, ref.namespace)) {
    return { endpoints: none, errors: [] };
  }
  const found = keys.keysOf(ref);
  const problem = keyProblem(found, secret);
  if (problem) return { endpoints: none, errors: [invalid('spec.endpointDecryptSecret', problem)] };
  const errors: FieldError[] = [];
  const endpoints = raw.map((ciphertext, i) => {
    if (ciphertext === undefined) return undefined;
    const result = decryptEndpoint(ciphertext, found.keys);
    if (result.ok) return result.plaintext;
    errors.push(
      invalid(
        `spec.backends[${i}].endpoint`,
        `cannot be decrypted with the keys of Secret ${secret}: ${result.reason}`,
      ),
    );
    return undefined;
  });
  return { endpoints, errors };
}
