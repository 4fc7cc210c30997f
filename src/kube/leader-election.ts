// Leader election on a coordination.k8s.io/v1 Lease, with client-go's
// semantics: a lease is taken over only when its holder has not renewed it
// within leaseDuration as observed on OUR clock (no cross-node clock
// comparison), the leader steps down when it cannot renew within
// renewDeadline, and a leader that stops releases the lease so that a
// standby takes over at its next retry instead of after a full lease.
import type { Logger } from 'pino';
import { paths, type RestClient } from './rest.ts';
import { describe, isConflict, isNotFound } from '../resource/errors.ts';
import { realClock, type Clock, type Timer } from '../time/clock.ts';

export interface LeaderElectionOptions {
  rest: RestClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /**
   * Resolves once no write begun while this replica led is in flight: a
   * leader that stops releases the Lease only then, since a standby takes a
   * released Lease at once.
   */
  writesSettled?: () => Promise<void>;
  /** Timers, and the default for `now` and `elapsed`. */
  clock?: Clock;
  /** Wall-clock milliseconds since the epoch, for the Lease's timestamps only. */
  now?: () => number;
  /**
   * Monotonic milliseconds, for every interval the fence and the takeover
   * rest on: a wall clock stepped back (NTP) must not extend a fenced
   * leader's writing, nor one stepped forward end another's lease early.
   */
  elapsed?: () => number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');

export interface LeaderElector {
  isLeader(): boolean;
  /**
   * Whether this replica may write now: it leads, and the last successful
   * renewal BEGAN less than renewDeadline ago. Another replica takes over no
   * sooner than leaseDuration after that renewal's lease write, which came
   * after it began, so a write started now and bounded by leaseDuration -
   * renewDeadline ends before any other leader can begin.
   */
  mayWrite(): boolean;
  /** Stops campaigning; releases the lease if held. */
  stop(): Promise<void>;
}

export function startLeaderElection(options: LeaderElectionOptions): LeaderElector {
  const { rest, namespace, name, identity, logger } = options;
  const clock = options.clock ?? realClock;
  const wall = options.now ?? (() => clock.now());
  const elapsed = options.elapsed ?? (() => clock.elapsed());
  let leader = false;
  let stopped = false;
  /** When the last successful acquire or renew attempt began (not when it returned). */
  let renewBegan = Number.NEGATIVE_INFINITY;
  let deadline: Timer | undefined;
  let observed: { holder: string; renewTime: string; at: number } | undefined;
  let timer: Timer | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const setLeader = (value: boolean) => {
    if (value === leader) return;
    leader = value;
    logger.info(
      { lease: `${namespace}/${name}`, identity, leader },
      value ? 'became leader' : 'stopped leading',
    );
    if (value) options.onStartedLeading();
    else options.onStoppedLeading();
  };

  /** `t`: when the attempt began (monotonic); `stamp`: the same instant on the wall clock. */
  async function tryAcquireOrRenew(t: number, stamp: number): Promise<boolean> {
    const desired = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(options.leaseDurationMs / 1000),
      renewTime: microTime(stamp),
    };
    let lease: Lease;
    try {
      lease = await rest.get<Lease>(paths.lease(namespace, name));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await rest.create(paths.leases(namespace), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: { ...desired, acquireTime: microTime(stamp), leaseTransitions: 0 },
      });
      observed = { holder: identity, renewTime: desired.renewTime, at: t };
      return true;
    }
    const holder = lease.spec.holderIdentity ?? '';
    const renewTime = lease.spec.renewTime ?? '';
    // A change is dated when the answer came back (not when the attempt
    // began): the holder's renewal may have landed just before that.
    const seen = elapsed();
    if (!observed || observed.holder !== holder || observed.renewTime !== renewTime) {
      observed = { holder, renewTime, at: seen };
    }
    const durationMs = (lease.spec.leaseDurationSeconds ?? 0) * 1000;
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && observed.at + durationMs > seen) return false;
    const transitions = (lease.spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    await rest.replace(paths.lease(namespace, name), {
      ...lease,
      spec: {
        ...lease.spec,
        ...desired,
        acquireTime: holder === identity ? lease.spec.acquireTime : microTime(stamp),
        leaseTransitions: transitions,
      },
    });
    observed = { holder: identity, renewTime: desired.renewTime, at: t };
    return true;
  }

  const fenced = () => elapsed() - renewBegan >= options.renewDeadlineMs;
  // A leader that could not renew for renewDeadline must assume another
  // replica may take over soon, and stop writing first: mayWrite() says so at
  // once; this also steps down while a renewal is still hanging.
  const stepDownIfFenced = () => {
    if (!leader) return;
    if (fenced()) setLeader(false);
    else {
      // A timer may fire a little early: look again when the deadline is due.
      clock.clearTimeout(deadline);
      deadline = clock.setTimeout(
        stepDownIfFenced,
        renewBegan + options.renewDeadlineMs - elapsed() + 1,
      );
    }
  };

  async function tick(): Promise<void> {
    const began = elapsed();
    try {
      const held = await tryAcquireOrRenew(began, wall());
      if (stopped) return;
      if (held) {
        renewBegan = began;
        if (!fenced()) setLeader(true);
      } else if (leader) setLeader(false);
    } catch (error) {
      if (!isConflict(error))
        logger.warn({ lease: `${namespace}/${name}`, err: describe(error) }, 'lease update failed');
    }
    stepDownIfFenced();
  }

  const loop = () => {
    if (stopped) return;
    inFlight = tick().finally(() => {
      if (!stopped) timer = clock.setTimeout(loop, options.retryPeriodMs);
    });
  };
  loop();

  return {
    isLeader: () => leader,
    mayWrite: () => leader && !stopped && !fenced(),
    stop: async () => {
      stopped = true;
      clock.clearTimeout(timer);
      clock.clearTimeout(deadline);
      await inFlight;
      if (!leader) return;
      setLeader(false);
      await options.writesSettled?.();
      try {
        const lease = await rest.get<Lease>(paths.lease(namespace, name));
        if (lease.spec.holderIdentity !== identity) return;
        await rest.replace(paths.lease(namespace, name), {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: microTime(wall()),
          },
        });
        logger.info({ lease: `${namespace}/${name}` }, 'lease released');
      } catch (error) {
        logger.warn(
          { lease: `${namespace}/${name}`, err: describe(error) },
          'lease release failed',
        );
      }
    },
  };
}
