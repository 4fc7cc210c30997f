// Runs the parts of the process (probes, TLS source, caches, webhook,
// metrics, controller) as runnables, in the spirit of controller-runtime's
// manager: start order, stop order, readiness and the lease are decided here
// and nowhere else.
//  - start: in the order added, each awaited (a part may rely on the ones
//    before it: the webhook on the certificate and on synced caches); then
//    the election, whose lease is handed to the runnables that need it;
//  - stop: readiness fails first, then the lease is given up (so a standby
//    takes over at once), then every runnable stops in reverse order;
//  - readiness: each runnable's own check, all failing once stopping began.
import type { Logger } from 'pino';
import type { ReadinessCheck } from './probes.ts';

export interface Runnable {
  /** For logs. */
  name: string;
  /** Resolves once the part works (listening, synced, loaded). */
  start?(): Promise<void> | void;
  /** Called once, after start resolved; resolves once the part stopped. */
  stop?(): Promise<void> | void;
  /** Readiness as /readyz reports it: true, or the reason (never a secret). */
  readiness?: { name: string; ready(): true | string };
  /**
   * Present on runnables that need the lease: called with true when this
   * replica becomes leader, with false when it stops being one.
   */
  lease?(held: boolean): void;
}

/** Who holds the lease. Without one, this replica leads from the start. */
export interface Election {
  start(onChange: (held: boolean) => void): void;
  /** Gives the lease up (calling onChange(false) if held). */
  stop(): Promise<void>;
}

export interface Manager {
  /** Starts every runnable, then the election. Rejects (after stopping what started) if a start fails. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The readiness checks, for the probe server; they fail while stopping. */
  readonly checks: readonly ReadinessCheck[];
}

export function createManager(options: {
  runnables: readonly Runnable[];
  election?: Election;
  logger: Logger;
}): Manager {
  const { runnables, logger } = options;
  const started: Runnable[] = [];
  let stopping = false;
  let held = false;

  const setLease = (value: boolean): void => {
    if (value === held) return;
    held = value;
    const order = value ? runnables : [...runnables].reverse();
    for (const r of order) r.lease?.(value);
  };

  const checks: ReadinessCheck[] = runnables
    .filter((r) => r.readiness)
    .map((r) => ({
      name: r.readiness!.name,
      ready: () => (stopping ? 'shutting down' : r.readiness!.ready()),
    }));

  const stopAll = async (): Promise<void> => {
    stopping = true;
    if (options.election) await options.election.stop();
    setLease(false);
    for (const r of [...started].reverse()) {
      try {
        await r.stop?.();
      } catch (error) {
        logger.warn({ runnable: r.name, err: (error as Error).message }, 'stopping failed');
      }
    }
    started.length = 0;
  };

  return {
    checks,
    async start() {
      try {
        for (const r of runnables) {
          await r.start?.();
          started.push(r);
        }
      } catch (error) {
        await stopAll();
        throw error;
      }
      if (options.election) options.election.start(setLease);
      else setLease(true);
    },
    stop: stopAll,
  };
}
