// Level-triggered reconcile of one target Secret: read the world, compute
// the deterministic merge, write the Secret only if its bytes differ, then
// tell each config the truth. `Active` is written only after the Secret
// write that contains the config at its current generation has succeeded,
// and only if the config is still at the resourceVersion that was merged.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  ADOPT_LABEL,
  FINALIZER,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  formatNamespacedName,
  objectKey,
  parseNamespacedName,
} from '../resource/names.ts';
import type { SecretObject } from '../resource/secret.ts';
import { parseSecretKey } from '../secret-format/entry.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { targetAllowed, targetOf, type Policy } from '../rules/policy.ts';
import type { KeyLookup } from '../rules/view.ts';
import { encodeSecretData, isManagedSecret, managedSecret } from '../secret-format/secret.ts';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../resource/errors.ts';
import type { ExistingDataVerdict } from '../admission/existing-data.ts';
import { requestsOverride } from '../rules/append-only.ts';
import { formatFieldError } from '../rules/field-errors.ts';
import type { EventRecorder } from './events.ts';
import type { CachedTargetSecret, ConfigStore, SecretStore } from './ports.ts';
import type { ConditionReason } from './conditions.ts';
import { readyNow } from './conditions.ts';
import {
  ENTRIES_ANNOTATION,
  entriesAnnotation,
  writtenEntriesOf,
  type WrittenSecret,
} from './incumbents.ts';
import { mergeTarget, type MergeResult } from './merge.ts';
import { NO_LINKS, linkedTargets, secretLinks, writtenLinks, type EntryLinks } from './linked.ts';
import { positionMoves } from './positions.ts';
import {
  adoptionRequested,
  notAdoptedReason,
  notManagedReason,
  planAdoption,
  type AdoptionPlan,
} from './adopt.ts';
import {
  hasFinalizer,
  movePosition,
  setFinalizer,
  statusChanged,
  writeStatus,
  type DesiredStatus,
} from './status.ts';

export interface ReconcilerDeps {
  secrets: SecretStore;
  configs: ConfigStore;
  configsOfTarget(target: string): readonly TopologyConfig[];
  /**
   * Every config of the cluster. Backend names are unique cluster-wide, so
   * the merge must see the configs of the targets linked to this one by a
   * name (linked.ts) to resolve a name that two targets share the same way
   * in each of them.
   */
  allConfigs?(): readonly TopologyConfig[];
  /**
   * The managed target Secrets as the cache holds them (their entries'
   * links, no data): which targets are linked to this one. The entries of
   * a linked one, the incumbents for backend names claimed in two targets,
   * are read from the API server, as this target's own Secret always is.
   */
  managedSecrets?(): readonly CachedTargetSecret[];
  keys: KeyLookup;
  /**
   * Counts what a newcomer's routes would take (admission's existing-data
   * check, repeated before its first merge: objects created while it was
   * Pending count too). Absent: not checked.
   */
  existingData?(config: TopologyConfig): Promise<ExistingDataVerdict>;
  policy: () => Policy;
  events: EventRecorder;
  logger: Logger;
  /** Checked before every write: a replica that lost the lease must stop writing. */
  mayWrite(): boolean;
  /**
   * Ready turns True this long after Active was first written for a
   * generation, so that the middleware has reloaded the Secret by then
   * (README "When the middleware sees it"). 0: at once.
   */
  settleMs?: number;
  /** When each config (uid) became Active at a generation; kept across reconciles. */
  settling?: Map<string, { generation: number | undefined; since: number }>;
  /** Brings the target back once a config's settle time has passed. */
  requeueAfter?(target: string, ms: number): void;
  now?(): number;
}

export type Secret = SecretObject;

export type ReconcileResult = 'done' | 'retry';

function sameData(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const aKeys = Object.keys(a ?? {});
  if (aKeys.length !== Object.keys(b).length) return false;
  return aKeys.every((key) => a![key] === b[key]);
}

/** Position moves written at once (the REST client keeps 16 connections). */
const MOVE_WRITERS = 8;
/** Status writes at once, likewise. */
const STATUS_WRITERS = 8;

export async function reconcileTarget(
  target: string,
  deps: ReconcilerDeps,
): Promise<ReconcileResult> {
  const { configs: store, logger } = deps;
  const ref = parseNamespacedName(target);
  const configs = deps.configsOfTarget(target);
  let live = configs.filter((c) => !c.metadata.deletionTimestamp);
  const deleting = configs.filter((c) => c.metadata.deletionTimestamp && hasFinalizer(c));
  if (!deps.mayWrite()) return 'done';

  // Every live config carries the finalizer before it can become Active, so
  // that its deletion waits for its backends to leave the Secret.
  // A config seen for the first time says Pending at once: a tool that
  // waits on it must not read "no status" as "nothing to wait for".
  const missing = live.filter((c) => !hasFinalizer(c));
  if (missing.length > 0) {
    await Promise.all(
      missing.map(async (c) => {
        const seen = c.status?.conditions ? c : await writePending(store, c);
        await setFinalizer(store, seen, true);
      }),
    );
    return 'done'; // the update events bring this target back with fresh objects
  }

  const policy = deps.policy();
  // This target's objects come from the index; the others only take part in
  // the cluster-wide backend-name resolution. Told apart by the target they
  // name, as the index groups them: a `namespace/name` string for each
  // config of the cluster, every reconcile, was 10,000 strings at 10,000.
  const others = (deps.allConfigs?.() ?? []).filter((c) => c.spec?.targetSecret !== target);
  // Policy is checked here too: a config that bypassed the webhook must not
  // make the operator create or touch a Secret the platform did not allow.
  const current: ReadOutcome =
    ref && targetAllowed(ref, policy)
      ? await readSecret(ref, deps)
      : {
          state: 'blocked',
          reason: `targetSecret ${JSON.stringify(target)} is not allowed by the cluster policy (--allowed-target-secrets)`,
          cause: 'PolicyDenied',
        };
  // What each Secret holds now and for whom: this target's and the linked
  // targets' as just read (they only matter for backend names two targets claim).
  const written = new Map<string, WrittenSecret>();
  // A Secret this product does not manage is written only once adopted (adopt.ts).
  const unmanaged =
    current.state === 'read' && current.secret && !isManagedSecret(current.secret)
      ? adoptionOf(target, current.secret, live)
      : undefined;
  if (unmanaged?.state === 'adopt') written.set(target, unmanaged.plan.written);
  else if (current.state === 'read' && current.secret)
    written.set(target, writtenOf(current.secret, live));
  const everyone = [...live, ...others];
  // Between the long synchronous steps (reading the linked targets' entries,
  // the merge), what else waits for the event loop runs: the webhook's
  // answers above all. Chained by promises that are already settled, they
  // ran as one task: at 10,000 configs, during a 1,000-config apply, the
  // loop was late by up to 2.6 s, and a review's existing-data check ran out
  // of its budget waiting for answers that had come.
  await nextTurn();
  const linked = await linkedOf(
    target,
    configs,
    written.get(target),
    others,
    everyone,
    policy,
    deps,
  );
  for (const [t, secret] of linked.written) written.set(t, secret);
  // Positions the webhook replicas assigned in a race are moved apart first
  // (positions.ts), and the moved configs merged as the API server now holds
  // them: a burst needs no extra round per collision.
  const moves =
    current.state === 'read' && unmanaged?.state !== 'blocked' && !linked.denied
      ? await movePositions(target, configs, written.get(target), policy, deps)
      : { outcome: 'none' as const, moved: new Map<string, TopologyConfig>() };
  if (moves.outcome === 'retry') return 'retry';
  live = live.map((c) => moves.moved.get(objectKey(c)) ?? c);
  const present = await unseenOwners(written.get(target), configs, deps);
  // Nothing to count for a Secret that will not be written: its reason says why.
  const blocked =
    unmanaged?.state === 'blocked'
      ? new Map<string, string>()
      : await blockedNewcomers(live, written.get(target), deps);
  await nextTurn();
  const result = mergeTarget(target, [...live, ...linked.configs], deps.keys, policy, {
    written,
    present,
    blocked,
    cluster: everyone,
  });
  const write: WriteOutcome =
    current.state !== 'read'
      ? current
      : linked.denied
        ? linked.denied
        : unmanaged?.state === 'blocked'
          ? unmanaged
          : await writeSecret(
              ref!,
              current.secret,
              result,
              live.length + deleting.length > 0,
              deps,
            );
  if (unmanaged?.state === 'adopt' && write.state === 'written') {
    logger.info(
      { target, entries: unmanaged.plan.entries, reordered: unmanaged.plan.reordered },
      "target Secret adopted from the seed operator's format, every key routed as before",
    );
    for (const entry of unmanaged.plan.entries) {
      const config = live.find((c) => objectKey(c) === entry.config);
      if (!config) continue;
      deps.events.record(
        config,
        'Normal',
        'Adopted',
        `entry ${entry.from} of Secret ${target}, written by the seed operator, is this config's entry ${entry.to} now; the middleware routes every key as before`,
      );
    }
  }
  if (write.state === 'conflict') {
    // Not Active at once: a config with no status yet says Pending meanwhile
    // (best effort: the retry writes the real status; a replica that lost
    // the lease writes nothing).
    if (!deps.mayWrite()) return 'retry';
    await Promise.all(
      live.filter((c) => !c.status?.conditions).map((c) => writePending(store, c).catch(() => {})),
    );
    return 'retry';
  }

  const statuses = new Map<string, DesiredStatus>();
  for (const config of live) {
    const outcome = result.outcomes.get(objectKey(config));
    // A config the merge accepted is Active only if the Secret now holds it.
    if (outcome?.state === 'Active' && write.state === 'blocked') {
      statuses.set(objectKey(config), {
        deployStatus: 'Error',
        deployStatusReason: write.reason,
        reason: write.cause,
      });
    } else if (outcome?.state === 'Active' && write.state === 'denied') {
      // Already Active at this generation: written earlier and still in the Secret.
      const activeNow =
        config.status?.deployStatus === 'Active' &&
        config.status.observedGeneration === config.metadata.generation;
      if (!activeNow) {
        statuses.set(objectKey(config), {
          deployStatus: 'Error',
          deployStatusReason: write.reason,
          reason: write.cause,
        });
      }
    } else if (outcome) {
      const active = outcome.state === 'Active';
      const settling = active && settlingFor(config, target, deps);
      statuses.set(objectKey(config), {
        deployStatus: outcome.state,
        deployStatusReason: active ? '' : outcome.reason,
        reason: settling ? 'Settling' : outcome.cause,
        ...(active ? { message: outcome.reason } : {}),
        ...(outcome.kept ? { keptInSecret: true } : {}),
        ...(settling ? { settling: true } : {}),
      });
    } else {
      statuses.set(objectKey(config), {
        deployStatus: 'Error',
        deployStatusReason: 'left out of the merge (internal error; see the operator log)',
        reason: 'InternalError',
      });
    }
  }
  forgetSettled(configs, deps);

  let retry = false;
  let lostLease = false;
  // A few at a time: a first start writes every config's status, and one
  // after another 10,000 of them took minutes.
  const changed = live.filter((config) => {
    const desired = statuses.get(objectKey(config));
    return desired !== undefined && statusChanged(config, desired);
  });
  await mapBounded(changed, STATUS_WRITERS, async (config) => {
    if (lostLease || !deps.mayWrite()) return void (lostLease = true);
    const desired = statuses.get(objectKey(config))!;
    try {
      await writeStatus(store, config, desired);
      if (config.status?.deployStatus !== desired.deployStatus) {
        deps.events.record(
          config,
          desired.deployStatus === 'Error' ? 'Warning' : 'Normal',
          desired.deployStatus,
          desired.deployStatus === 'Active'
            ? `routing is live in Secret ${target}`
            : desired.deployStatusReason,
        );
      }
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) retry = retry || isConflict(error);
      else throw error;
    }
  });
  if (lostLease) return 'done';

  // Deleting configs are out of the Secret now (or it was never ours to
  // write): their finalizer can go. Not when the Secret could not be read or
  // updated: their backends may still be in it (the resync tries again).
  if (write.state === 'denied') {
    if (deleting.length > 0) {
      logger.warn(
        { target, deleting: deleting.map(objectKey) },
        'target Secret not writable (RBAC); finalizers kept until it is',
      );
    }
  } else {
    for (const config of deleting) {
      if (!deps.mayWrite()) return 'done';
      try {
        await setFinalizer(store, config, false);
        logger.info(
          { object: objectKey(config), target },
          'backends removed from the Secret; finalizer released',
        );
      } catch (error) {
        if (isConflict(error)) retry = true;
        else if (!isNotFound(error)) throw error;
      }
    }
  }
  // A refused move is tried again (backing off): the replica that refused it
  // may have known a config this one had not seen yet.
  return retry || moves.outcome === 'refused' ? 'retry' : 'done';
}

/**
 * The targets linked to this one (linked.ts): the other configs its merge
 * must see, and what their Secrets hold. The cache tells which targets are
 * linked; each linked Secret is then read live (the cache keeps no data),
 * and its links as read replace the cached ones, which may link more
 * targets (the cache can be behind), until every linked Secret is read.
 * With unique names none is linked, and nothing is read. A linked Secret
 * the operator may not read: its merge cannot be decided, nothing is written.
 */
async function linkedOf(
  target: string,
  configs: readonly TopologyConfig[],
  written: WrittenSecret | undefined,
  others: readonly TopologyConfig[],
  everyone: readonly TopologyConfig[],
  policy: Policy,
  deps: ReconcilerDeps,
): Promise<{ configs: TopologyConfig[]; written: Map<string, WrittenSecret>; denied?: Refused }> {
  const byTarget = new Map<string, TopologyConfig[]>([[target, [...configs]]]);
  // The owners of this target's entries are nearly always its own configs:
  // the whole cluster is mapped by uid only when an owner is not among them.
  const byUid = (list: readonly TopologyConfig[], into = new Map<string, TopologyConfig>()) => {
    for (const config of list) if (config.metadata.uid) into.set(config.metadata.uid, config);
    return into;
  };
  const own = byUid(configs);
  let everyUid: Map<string, TopologyConfig> | undefined;
  const ownerOf = (uid: string) =>
    own.get(uid) ?? (everyUid ??= byUid(others, byUid(configs))).get(uid);
  for (const config of others) {
    const t = targetOf(config, policy);
    const list = byTarget.get(t);
    if (list) list.push(config);
    else byTarget.set(t, [config]);
  }
  const entries = new Map<string, EntryLinks>([[target, writtenLinks(written, ownerOf)]]);
  const cached: string[] = [];
  for (const secret of deps.managedSecrets?.() ?? []) {
    const t = objectKey(secret);
    if (t === target) continue;
    cached.push(t);
    entries.set(t, secret.links);
  }
  const read = new Map<string, Secret | undefined>();
  let targets = linkedTargets(target, { configs: byTarget, entries });
  for (;;) {
    const unread = cached.filter((t) => targets.has(t) && !read.has(t));
    if (unread.length === 0) break;
    const outcomes = await Promise.all(unread.map((t) => readLinked(t, policy, deps)));
    for (const [i, t] of unread.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.state !== 'read') return { configs: [], written: new Map(), denied: outcome };
      read.set(t, outcome.secret);
      entries.set(t, outcome.secret ? secretLinks(outcome.secret, ownerOf) : NO_LINKS);
    }
    targets = linkedTargets(target, { configs: byTarget, entries });
  }
  const linked = new Map<string, WrittenSecret>();
  for (const t of cached) {
    const secret = read.get(t);
    if (secret && targets.has(t)) linked.set(t, writtenOf(secret, everyone));
  }
  return { configs: others.filter((c) => targets.has(targetOf(c, policy))), written: linked };
}

/**
 * A linked target's Secret as the API server holds it. One the policy does
 * not allow as a target is not read: as cached, it holds nothing of ours.
 */
async function readLinked(
  target: string,
  policy: Policy,
  deps: ReconcilerDeps,
): Promise<ReadOutcome> {
  const ref = parseNamespacedName(target);
  if (!ref || !targetAllowed(ref, policy)) return { state: 'read', secret: undefined };
  return readSecret(ref, deps);
}

/**
 * Writes the moves of assigned positions this target needs (positions.ts),
 * and returns the moved configs as the API server answered. 'retry': a
 * config changed meanwhile (decided again from fresh objects); 'refused': the
 * webhook refused a move (it judged it against its own cache; the config
 * stays in its conflict meanwhile); else 'none'.
 */
async function movePositions(
  target: string,
  configs: readonly TopologyConfig[],
  written: WrittenSecret | undefined,
  policy: Policy,
  deps: ReconcilerDeps,
): Promise<{ outcome: 'retry' | 'refused' | 'none'; moved: Map<string, TopologyConfig> }> {
  const moves = positionMoves(configs, written, policy);
  const moved = new Map<string, TopologyConfig>();
  let retry = false;
  let refused = false;
  // Each move is its own object's update, decided beforehand: a burst's
  // hundred go a few at a time, not one after another.
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < moves.length && !retry) {
      const move = moves[next++]!;
      if (!deps.mayWrite()) return void (retry = true);
      const where = { object: move.key, target, from: move.from, to: move.to, keeper: move.keeper };
      try {
        moved.set(move.key, await movePosition(deps.configs, move.config, move.to));
      } catch (error) {
        if (isConflict(error)) retry = true;
        else if (!isNotFound(error)) {
          if (!(error instanceof ApiError) || error.status >= 500) throw error;
          deps.logger.warn(
            { ...where, status: error.status, reason: error.message },
            'moving an assigned position was refused',
          );
          refused = true;
        }
        continue;
      }
      deps.logger.info(where, 'assigned position moved');
      deps.events.record(
        move.config,
        'Normal',
        'PositionMoved',
        `spec.position ${move.from} was assigned (none was given) and is also taken by ${move.keeper} in ${target}: moved to ${move.to}, the next free position`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(MOVE_WRITERS, moves.length) }, writer));
  return { outcome: retry ? 'retry' : refused ? 'refused' : 'none', moved };
}

/** The first status of a config: seen, not merged yet. */
function writePending(store: ConfigStore, config: TopologyConfig): Promise<TopologyConfig> {
  return writeStatus(store, config, {
    deployStatus: 'Pending',
    deployStatusReason: '',
    reason: 'Pending',
    message: 'seen by the reconciler; not merged into the target Secret yet',
  });
}

/**
 * Whether an Active config is still inside its settle time. The clock starts
 * when this replica first finds it Active at this generation (after a
 * restart or a leader change it starts again: Ready comes later, never
 * earlier); a config already Ready (or Active from before conditions
 * existed) at this generation stays Ready.
 */
function settlingFor(config: TopologyConfig, target: string, deps: ReconcilerDeps): boolean {
  const settleMs = deps.settleMs ?? 0;
  const { uid = objectKey(config), generation } = config.metadata;
  if (settleMs <= 0 || readyNow(config.status?.conditions, generation)) return false;
  // Active at this generation before conditions were written (an upgrade): long live.
  const status = config.status;
  if (
    status?.deployStatus === 'Active' &&
    status.observedGeneration === generation &&
    !status.conditions
  )
    return false;
  const now = deps.now?.() ?? Date.now();
  const settling = (deps.settling ??= new Map());
  let entry = settling.get(uid);
  if (entry?.generation !== generation) settling.set(uid, (entry = { generation, since: now }));
  const left = entry.since + settleMs - now;
  if (left <= 0) return false;
  deps.requeueAfter?.(target, left);
  return true;
}

/** Settle clocks of configs that are Ready or being deleted are dropped. */
function forgetSettled(configs: readonly TopologyConfig[], deps: ReconcilerDeps): void {
  if (!deps.settling) return;
  for (const config of configs) {
    const { uid = objectKey(config), generation, deletionTimestamp } = config.metadata;
    if (deletionTimestamp || readyNow(config.status?.conditions, generation))
      deps.settling.delete(uid);
  }
}

/**
 * A 403 on the target Secret: the operator's RBAC does not cover it (e.g. a
 * target allowed by --allowed-target-secrets without the matching Role).
 * Retrying cannot help until an administrator acts, so the configs go to
 * Error with the API server's reason (it names the verb, the ServiceAccount
 * and the namespace; no secret) and the periodic resync tries again. A
 * denied create means the Secret never held anything ('blocked'); a denied
 * read or update of an existing Secret does not ('denied').
 */
function forbidden(
  error: unknown,
  verb: 'read' | 'create' | 'update',
  target: string,
): Refused | undefined {
  if (!(error instanceof ApiError) || error.status !== 403) return undefined;
  const detail = error.message.replace(/^[A-Z]+ \S+: 403 /, '');
  const reason = `the operator is not allowed to ${verb === 'read' ? 'read' : 'write'} Secret ${target} (RBAC): ${detail}`;
  const cause = 'TargetForbidden';
  return verb === 'create'
    ? { state: 'blocked', reason, cause }
    : { state: 'denied', reason, cause };
}

/**
 * blocked: the Secret cannot hold these configs (and never held them).
 * denied: RBAC refused reading or updating an existing Secret, which may
 * still hold them.
 */
type Refused = { state: 'blocked' | 'denied'; reason: string; cause: ConditionReason };
type WriteOutcome = { state: 'written' | 'unchanged' | 'conflict' } | Refused;
type ReadOutcome = { state: 'read'; secret: Secret | undefined } | Refused;

async function readSecret(
  ref: { namespace: string; name: string },
  deps: ReconcilerDeps,
): Promise<ReadOutcome> {
  try {
    return {
      state: 'read',
      secret: await deps.secrets.get(ref),
    };
  } catch (error) {
    const denied = forbidden(error, 'read', formatNamespacedName(ref));
    if (denied) return denied;
    if (!isNotFound(error)) throw error;
    return { state: 'read', secret: undefined };
  }
}

/**
 * The owners of this Secret's entries that the cache does not show but the
 * API server still has (the cache may be behind the Secret, which is read
 * live): their entries must stay. Usually none, so usually no request.
 */
async function unseenOwners(
  secret: WrittenSecret | undefined,
  cached: readonly TopologyConfig[],
  deps: ReconcilerDeps,
): Promise<Set<string>> {
  const present = new Set<string>();
  if (!secret) return present;
  const known = new Set(cached.map((c) => c.metadata.uid));
  for (const [key, entry] of secret) {
    if (known.has(entry.uid)) continue;
    const ref = parseSecretKey(key);
    if (!ref) continue;
    try {
      const live = await deps.configs.get(ref);
      if (live.metadata.uid === entry.uid && !live.metadata.deletionTimestamp)
        present.add(entry.uid);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return present;
}

/**
 * Existing-data checks in flight at once. Each is a few API calls; a first
 * start finds every config of the cluster a newcomer, and thousands of calls
 * at once held hundreds of megabytes of requests (and ran out of their time budget).
 */
const EXISTING_DATA_CHECKS = 8;

/** fn of every item, at most `limit` at a time, results in the items' order. */
async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The configs of this target about to be merged for the first time whose
 * routes would take objects that already exist (unless the override
 * annotation authorises it), with the reason.
 */
async function blockedNewcomers(
  live: readonly TopologyConfig[],
  secret: WrittenSecret | undefined,
  deps: ReconcilerDeps,
): Promise<Map<string, string>> {
  const blocked = new Map<string, string>();
  if (!deps.existingData) return blocked;
  const owners = new Set([...(secret?.values() ?? [])].map((e) => e.uid));
  // No user to ask here: the annotation stands for the override the webhook authorised.
  const newcomers = live.filter((c) => !owners.has(c.metadata.uid ?? '') && !requestsOverride(c));
  const verdicts = await mapBounded(newcomers, EXISTING_DATA_CHECKS, (c) => deps.existingData!(c));
  newcomers.forEach((config, i) => {
    const verdict = verdicts[i]!;
    if (verdict.state === 'refused')
      blocked.set(objectKey(config), verdict.errors.map(formatFieldError).join('; '));
  });
  return blocked;
}

/**
 * An unmanaged target Secret: its adoption when the Secret asks for it and
 * every key would route as it does today, else why it is not written.
 */
function adoptionOf(
  target: string,
  secret: Secret,
  live: readonly TopologyConfig[],
): { state: 'adopt'; plan: Extract<AdoptionPlan, { ok: true }> } | Refused {
  const cause = 'TargetNotManaged';
  if (!adoptionRequested(secret) || live.length === 0)
    return { state: 'blocked', reason: notManagedReason(target, secret.data), cause };
  const plan = planAdoption(decodedData(secret), live);
  if (!plan.ok) return { state: 'blocked', reason: notAdoptedReason(target, plan.problems), cause };
  return { state: 'adopt', plan };
}

const decodedData = (secret: Secret): Record<string, string> =>
  Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString('utf8'),
    ]),
  );

/** A managed Secret's entries and their owners; an unmanaged one holds nothing of ours. */
export function writtenOf(secret: Secret, configs: readonly TopologyConfig[]): WrittenSecret {
  if (!isManagedSecret(secret)) return new Map();
  return writtenEntriesOf(
    decodedData(secret),
    secret.metadata.annotations?.[ENTRIES_ANNOTATION],
    configs,
  );
}

async function writeSecret(
  ref: { namespace: string; name: string },
  secret: Secret | undefined,
  merged: MergeResult,
  inUse: boolean,
  deps: ReconcilerDeps,
): Promise<WriteOutcome> {
  const { secrets, logger } = deps;
  const target = formatNamespacedName(ref);
  const { data } = merged;
  const desired = encodeSecretData(data);
  const owners = entriesAnnotation(merged.owners);

  if (!secret) {
    if (!inUse) return { state: 'unchanged' };
    if (!deps.mayWrite()) return { state: 'conflict' };
    try {
      await secrets.create(
        ref.namespace,
        managedSecret(ref, data, 'data', { [ENTRIES_ANNOTATION]: owners }),
      );
    } catch (error) {
      if (isAlreadyExists(error)) return { state: 'conflict' };
      const denied = forbidden(error, 'create', target);
      if (denied) return denied;
      if (isNotFound(error)) {
        return {
          state: 'blocked',
          reason: `namespace ${JSON.stringify(ref.namespace)} of targetSecret ${target} does not exist`,
          cause: 'TargetNamespaceMissing',
        };
      }
      throw error;
    }
    logger.info({ target, entries: Object.keys(data).length }, 'target Secret created');
    return { state: 'written' };
  }

  // Adopted (adoptionOf) or never written.
  const adopting = !isManagedSecret(secret);
  if (adopting && !(adoptionRequested(secret) && inUse)) {
    return {
      state: 'blocked',
      reason: notManagedReason(target, secret.data),
      cause: 'TargetNotManaged',
    };
  }
  // The Secret's own finalizer is held while configs route through it, even
  // once someone deleted it: the middleware keeps reading a Terminating
  // Secret, and it goes only when the last config has left it.
  const finalizers = secret.metadata.finalizers ?? [];
  const wantFinalizer = inUse;
  const finalizersOk = finalizers.includes(FINALIZER) === wantFinalizer;
  const ownersOk = (secret.metadata.annotations?.[ENTRIES_ANNOTATION] ?? '') === owners;
  if (secret.metadata.deletionTimestamp && inUse) {
    logger.warn(
      { target },
      'target Secret is being deleted while configs route through it; its finalizer keeps it until they are deleted',
    );
  }
  if (sameData(secret.data, desired) && finalizersOk && ownersOk && !adopting)
    return { state: 'unchanged' };
  if (!deps.mayWrite()) return { state: 'conflict' };
  try {
    await secrets.replace(ref, {
      ...secret,
      metadata: {
        ...secret.metadata,
        // Adopted: managed from now on, the request fulfilled.
        labels: adopting ? adoptedLabels(secret.metadata.labels) : secret.metadata.labels,
        annotations: { ...secret.metadata.annotations, [ENTRIES_ANNOTATION]: owners },
        finalizers: wantFinalizer
          ? [...finalizers.filter((f) => f !== FINALIZER), FINALIZER]
          : finalizers.filter((f) => f !== FINALIZER),
      },
      data: desired,
    });
  } catch (error) {
    if (isConflict(error) || isNotFound(error)) return { state: 'conflict' };
    const denied = forbidden(error, 'update', target);
    if (denied) return denied;
    throw error;
  }
  logger.info({ target, entries: Object.keys(data).length }, 'target Secret updated');
  return { state: 'written' };
}

function adoptedLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const { [ADOPT_LABEL]: _request, ...kept } = labels ?? {};
  return { ...kept, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
}
