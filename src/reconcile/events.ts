// Kubernetes Events on each status transition, so `kubectl describe` tells
// the story. Best effort: an Event that cannot be written is logged, never
// retried at the cost of reconciling. Bounded: a first start at 10,000
// configs makes 10,000 transitions, and one request in flight per Event held
// them all in memory at once and took the API server's attention from the
// status writes; a few go at a time, the rest wait in a bounded queue, and
// what would overflow it is dropped and counted (client-go's recorder drops
// too when its queue is full).
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { API_VERSION, KIND } from '../resource/schema.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { EventSink } from './ports.ts';
import { describe } from '../resource/errors.ts';
import { realClock, sleep, type Clock } from '../time/clock.ts';

export interface EventRecorder {
  record(config: TopologyConfig, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** Events posted at once. */
export const EVENTS_IN_FLIGHT = 4;
/** Events waiting to be posted; more are dropped. */
export const EVENTS_QUEUED = 1_000;

export function createEventRecorder(
  sink: EventSink,
  component: string,
  logger: Logger,
  clock: Clock = realClock,
): EventRecorder {
  const waiting: Array<() => Promise<void>> = [];
  let inFlight = 0;
  let dropped = 0;
  const pump = (): void => {
    while (inFlight < EVENTS_IN_FLIGHT && waiting.length > 0) {
      const post = waiting.shift()!;
      inFlight++;
      void post().finally(() => {
        inFlight--;
        pump();
      });
    }
    if (inFlight === 0 && dropped > 0) {
      logger.warn({ dropped }, 'events dropped: transitions came faster than they could be posted');
      dropped = 0;
    }
  };
  return {
    record(config, type, reason, message) {
      const { namespace = 'default', name = '', uid, resourceVersion } = config.metadata;
      const time = new Date(clock.now()).toISOString();
      const event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: {
          apiVersion: API_VERSION,
          kind: KIND,
          namespace,
          name,
          uid,
          resourceVersion,
        },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component },
        reportingComponent: component,
        reportingInstance: component,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      };
      // One retry a second later covers a conflict or a brief API outage;
      // an Event is not worth holding up reconciliation for longer.
      if (waiting.length >= EVENTS_QUEUED) {
        dropped++;
        return;
      }
      const post = () => sink.create(namespace, event);
      waiting.push(() =>
        post()
          .catch(() => sleep(clock, 1000).then(post))
          .then(
            () => undefined,
            (error: unknown) => {
              logger.warn(
                { object: `${namespace}/${name}`, reason, err: describe(error) },
                'event not recorded',
              );
            },
          ),
      );
      pump();
    },
  };
}
