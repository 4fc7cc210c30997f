// Kubernetes Events on each status transition, so `kubectl describe` tells
// the story. Best effort: an Event that cannot be written is logged, never
// retried at the cost of reconciling.
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

export function createEventRecorder(
  sink: EventSink,
  component: string,
  logger: Logger,
  clock: Clock = realClock,
): EventRecorder {
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
      const post = () => sink.create(namespace, event);
      post()
        .catch(() => sleep(clock, 1000).then(post))
        .catch((error: unknown) => {
          logger.warn(
            { object: `${namespace}/${name}`, reason, err: describe(error) },
            'event not recorded',
          );
        });
    },
  };
}
