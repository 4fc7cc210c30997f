// The fault tests' own pieces (their environment is test/e2e/support.ts's,
// with the product's default policy: the one target harikube/topology-config):
// applies retried through a fault, and the one invariant every fault test
// checks after its fault. The expectation is computed with the product's own
// pure merge from the objects read back from the API server, so the test
// judges the product by the contract (the Secret is the deterministic merge
// of the surviving configs, every status is true), not by its internals.
import assert from 'node:assert/strict';
import type { TopologyConfig } from '../../src/resource/types.ts';
import { keysFromSecretData } from '../../src/crypto/aes-gcm.ts';
import type { WrittenEntry } from '../../src/reconcile/incumbents.ts';
import { mergeTarget } from '../../src/reconcile/merge.ts';
import { secretKeyFor } from '../../src/secret-format/entry.ts';
import { ENDPOINT_KEYS_LABEL, ENDPOINT_KEYS_VALUE } from '../../src/resource/names.ts';
import { defaultPolicy } from '../../src/rules/policy.ts';
import type { KeyLookup, KeySet } from '../../src/rules/view.ts';
import type { ControlPlane } from '../harness/controlplane.ts';
import { apply, getJson, readSecret, sleep, waitFor } from '../e2e/support.ts';

export const TARGET = defaultPolicy.defaultTargetSecret;
const [TARGET_NAMESPACE, TARGET_NAME] = TARGET.split('/') as [string, string];

/** A line of the test's story: what was injected, what was checked. */
export const say = (line: string) => console.log(`# ${line}`);

/** The decoded data of the target Secret ({} while it does not exist). */
export async function targetData(cp: ControlPlane): Promise<Record<string, string>> {
  return (await readSecret(cp, TARGET_NAMESPACE, TARGET_NAME))?.data ?? {};
}

/** Removes one entry of the target Secret by hand, as a careless operator would. */
export async function removeTargetEntry(cp: ControlPlane, key: string): Promise<void> {
  const patched = await cp.kubectl([
    'patch',
    'secret',
    '-n',
    TARGET_NAMESPACE,
    TARGET_NAME,
    '--type=json',
    '-p',
    JSON.stringify([{ op: 'remove', path: `/data/${key}` }]),
  ]);
  assert.equal(patched.code, 0, patched.stderr);
}

/**
 * `kubectl apply` until it succeeds, as a GitOps tool would retry: while the
 * webhook or the API server is down the apply is refused. Resolves to the
 * number of refused attempts.
 */
export async function applyUntilAccepted(
  cp: ControlPlane,
  yaml: string,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let refused = 0;
  let last = '';
  while (Date.now() < deadline) {
    const result = await apply(cp, yaml, ['--request-timeout=10s']).catch((error: Error) => ({
      code: -1,
      stdout: '',
      stderr: error.message,
    }));
    if (result.code === 0) return refused;
    // Only a fault may refuse it: an answer of the rules would be a test bug.
    if (/denied the request/.test(result.stderr)) {
      throw new Error(`the webhook rejected the apply: ${result.stderr.trim()}`);
    }
    refused++;
    last = result.stderr.trim();
    await sleep(200);
  }
  throw new Error(`kubectl apply kept failing for ${timeoutMs} ms; last: ${last}`);
}

/** One backend routed by customresource group/kind; the endpoint names the backend. */
export function backend(name: string) {
  return { name, endpoint: `postgres://${name}:pw@${name}.db:5432/kine` };
}

// --- the invariant ------------------------------------------------------------

interface SecretObject {
  metadata: {
    name: string;
    namespace: string;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  data?: Record<string, string>;
}

/** The key Secrets as the product sees them: labelled ones only. */
function keyLookup(secrets: readonly SecretObject[]): KeyLookup {
  const found = new Map<string, KeySet>();
  for (const secret of secrets) {
    found.set(`${secret.metadata.namespace}/${secret.metadata.name}`, {
      found: true,
      keys: keysFromSecretData(secret.data),
      labeled: true,
    });
  }
  return {
    keysOf: (ref) => found.get(`${ref.namespace}/${ref.name}`) ?? { found: false, keys: [] },
  };
}

export interface InvariantReport {
  /** Live configs of the target, and how many are Active / Error. */
  configs: number;
  active: number;
  error: number;
  /** Data keys of the target Secret. */
  keys: string[];
  /** Configs in Error whose last good entry the Secret keeps. */
  kept: string[];
  /** Everything that is not as the contract says; empty when the invariant holds. */
  problems: string[];
}

export interface Converged extends InvariantReport {
  /** From the call of waitForInvariant until the invariant first held. */
  convergedMs: number;
}

export interface InvariantOptions {
  /** `namespace/name` of configs that must no longer exist. */
  gone?: readonly string[];
  /**
   * Entries the Secret must keep for configs that can no longer be decrypted
   * (`namespace/name` → the value the test saw while the config was Active).
   * The product keeps the last good entry of such a config so that data
   * written through it stays reachable; the test passes what it recorded, not
   * what the Secret holds now, so that the expectation stays independent.
   */
  kept?: ReadonlyMap<string, string>;
}

/**
 * Reads the configs and the key Secrets (kubectl) and the target Secret
 * (the API) and compares them with mergeTarget(target, configs, keys, defaultPolicy, kept):
 * - the Secret's data equals the merge, byte for byte and key for key;
 * - every config reports its outcome for its current generation: Active
 *   (empty reason) exactly when the merge put it in the Secret from its own
 *   spec and keys; Error with the merge's reason otherwise, its key in the
 *   Secret only if its last good entry is kept;
 * - no config holds two keys, no config is stuck in deletion, and the names
 *   in `gone` no longer exist.
 */
export async function checkInvariant(
  cp: ControlPlane,
  options: InvariantOptions = {},
): Promise<InvariantReport> {
  const gone = options.gone ?? [];
  const configList = await getJson<{ items: TopologyConfig[] }>(cp, ['topologyconfigs', '-A']);
  const keyList = await getJson<{ items: SecretObject[] }>(cp, [
    'secrets',
    '-A',
    '-l',
    `${ENDPOINT_KEYS_LABEL}=${ENDPOINT_KEYS_VALUE}`,
  ]);
  const configs = configList?.items ?? [];
  // The kept entries as the Secret's incumbency record would have them: written
  // for the config (its uid) at the generation it is at now.
  const written = new Map<string, WrittenEntry>();
  for (const config of configs) {
    const value = options.kept?.get(`${config.metadata.namespace}/${config.metadata.name}`);
    if (value === undefined) continue;
    written.set(secretKeyFor(config), {
      value,
      uid: config.metadata.uid ?? '',
      generation: config.metadata.generation ?? 0,
    });
  }
  const expected = mergeTarget(TARGET, configs, keyLookup(keyList?.items ?? []), defaultPolicy, {
    written: new Map([[TARGET, written]]),
  });
  const actual = await targetData(cp);
  const problems: string[] = [];

  const actualKeys = Object.keys(actual).sort();
  const expectedKeys = Object.keys(expected.data);
  for (const key of expectedKeys) {
    if (!(key in actual)) problems.push(`Secret lacks ${key}`);
    else if (actual[key] !== expected.data[key])
      problems.push(`Secret's ${key} differs from the merge`);
  }
  for (const key of actualKeys) {
    if (!(key in expected.data)) problems.push(`Secret holds ${key}, which the merge does not`);
  }
  // Each config contributes at most one key: <position>-<namespace>.<name>.yaml.
  const owners = new Map<string, string>();
  for (const key of actualKeys) {
    const owner = key.replace(/^\d+-/, '');
    if (owners.has(owner))
      problems.push(`${owner} holds two keys: ${owners.get(owner)} and ${key}`);
    owners.set(owner, key);
  }

  let active = 0;
  let error = 0;
  let live = 0;
  const kept: string[] = [];
  for (const config of configs) {
    const { namespace, name, generation, deletionTimestamp } = config.metadata;
    const id = `${namespace}/${name}`;
    if (gone.includes(id)) problems.push(`${id} still exists`);
    if (deletionTimestamp) {
      problems.push(
        `${id} is stuck in deletion (finalizers ${JSON.stringify(config.metadata.finalizers)})`,
      );
      continue;
    }
    const outcome = expected.outcomes.get(id);
    if (!outcome) continue; // another target's config
    live++;
    const status = config.status ?? {};
    if (status.observedGeneration !== generation) {
      problems.push(
        `${id} reports generation ${status.observedGeneration} but is at ${generation} (${status.deployStatus ?? 'no status'})`,
      );
      continue;
    }
    if (status.deployStatus !== outcome.state) {
      problems.push(`${id} is ${status.deployStatus} but the merge says ${outcome.state}`);
      continue;
    }
    if (outcome.state === 'Active') {
      active++;
      if (status.deployStatusReason) problems.push(`${id} is Active with a reason`);
      if (!(outcome.key! in actual))
        problems.push(`${id} is Active but ${outcome.key} is not in the Secret`);
    } else {
      error++;
      if (!status.deployStatusReason) problems.push(`${id} is Error without a reason`);
      else if (status.deployStatusReason !== outcome.reason)
        problems.push(
          `${id}'s reason ${JSON.stringify(status.deployStatusReason)} is not the merge's ${JSON.stringify(outcome.reason)}`,
        );
      // Only a kept last good entry may stay in the Secret for a config in Error.
      const key = outcome.key;
      if (key !== undefined) kept.push(id);
      if (key !== undefined && !(key in actual))
        problems.push(`${id}'s kept entry ${key} is not in the Secret`);
      for (const held of actualKeys) {
        if (held !== key && held.replace(/^\d+-/, '') === `${namespace}.${name}.yaml`)
          problems.push(`${id} is Error but the Secret holds ${held} for it`);
      }
    }
  }
  return { configs: live, active, error, keys: actualKeys, kept, problems };
}

/**
 * Waits until the invariant holds, then checks it again a second later (a
 * converged state must stay converged). Prints what it checked.
 */
export async function waitForInvariant(
  cp: ControlPlane,
  label: string,
  options: InvariantOptions & { timeoutMs?: number } = {},
): Promise<Converged> {
  const started = Date.now();
  let last: InvariantReport | undefined;
  try {
    await waitFor(
      `the invariant (${label})`,
      async () => {
        last = await checkInvariant(cp, options);
        return last.problems.length === 0 ? last : undefined;
      },
      options.timeoutMs ?? 45_000,
      250,
    );
  } catch (error) {
    (error as Error).message +=
      `\nlast problems:\n  ${last?.problems.join('\n  ') ?? '(none read)'}`;
    throw error;
  }
  const convergedMs = Date.now() - started;
  await sleep(1000);
  const again = await checkInvariant(cp, options);
  if (again.problems.length > 0) {
    throw new Error(`the invariant (${label}) held, then broke:\n  ${again.problems.join('\n  ')}`);
  }
  say(
    `checked (${label}): Secret ${TARGET} == mergeTarget(surviving configs) with ${again.keys.length} keys; ` +
      `${again.configs} configs at their generation: ${again.active} Active (key in the Secret), ${again.error} Error (the merge's reason` +
      `${again.kept.length ? `; last good entry kept for ${again.kept.join(', ')}` : ''})` +
      `${options.gone?.length ? `; gone: ${options.gone.join(', ')}` : ''}; converged ${convergedMs} ms after the check began`,
  );
  return { ...again, convergedMs };
}
