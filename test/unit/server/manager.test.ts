import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createManager, type Election, type Runnable } from '../../../src/server/manager.ts';

const silent = pino({ level: 'silent' });

function recording(log: string[], name: string, extra: Partial<Runnable> = {}): Runnable {
  return {
    name,
    start: async () => {
      await Promise.resolve();
      log.push(`start ${name}`);
    },
    stop: () => {
      log.push(`stop ${name}`);
    },
    ...extra,
  };
}

function fakeElection(log: string[]): Election & { grant(held: boolean): void } {
  let onChange: ((held: boolean) => void) | undefined;
  let held = false;
  return {
    start: (callback) => {
      log.push('start election');
      onChange = callback;
    },
    stop: async () => {
      log.push('stop election');
      if (held) onChange?.(false);
      held = false;
    },
    grant: (value) => {
      held = value;
      onChange?.(value);
    },
  };
}

describe('manager', () => {
  test('starts in order, then the election; stops the election first, then in reverse', async () => {
    const log: string[] = [];
    const election = fakeElection(log);
    const manager = createManager({
      runnables: ['probes', 'tls', 'caches', 'webhook'].map((n) => recording(log, n)),
      election,
      logger: silent,
    });
    await manager.start();
    await manager.stop();
    assert.deepEqual(log, [
      'start probes',
      'start tls',
      'start caches',
      'start webhook',
      'start election',
      'stop election',
      'stop webhook',
      'stop caches',
      'stop tls',
      'stop probes',
    ]);
  });

  test('the lease goes to the runnables that need it, and is taken back before they stop', async () => {
    const log: string[] = [];
    const election = fakeElection(log);
    const lease = (name: string) => (held: boolean) => log.push(`${name} lease ${held}`);
    const manager = createManager({
      runnables: [
        recording(log, 'webhook'),
        recording(log, 'metrics', { lease: lease('metrics') }),
        recording(log, 'controller', { lease: lease('controller') }),
      ],
      election,
      logger: silent,
    });
    await manager.start();
    election.grant(true);
    election.grant(false);
    election.grant(true);
    await manager.stop();
    assert.deepEqual(log, [
      'start webhook',
      'start metrics',
      'start controller',
      'start election',
      'metrics lease true',
      'controller lease true',
      'controller lease false',
      'metrics lease false',
      'metrics lease true',
      'controller lease true',
      'stop election',
      'controller lease false',
      'metrics lease false',
      'stop controller',
      'stop metrics',
      'stop webhook',
    ]);
  });

  test('without an election the lease is held once everything started, and given back on stop', async () => {
    const log: string[] = [];
    const manager = createManager({
      runnables: [
        recording(log, 'controller', { lease: (held) => log.push(`lease ${held}`) }),
        recording(log, 'webhook'),
      ],
      logger: silent,
    });
    await manager.start();
    await manager.stop();
    assert.deepEqual(log, [
      'start controller',
      'start webhook',
      'lease true',
      'lease false',
      'stop webhook',
      'stop controller',
    ]);
  });

  test('readiness is each check in order, and fails everywhere once stopping began', async () => {
    let synced = false;
    const manager = createManager({
      runnables: [
        { name: 'tls', readiness: { name: 'tls-loaded', ready: () => true } },
        {
          name: 'caches',
          readiness: { name: 'informers-synced', ready: () => synced || 'caches not synced yet' },
        },
        { name: 'controller' },
      ],
      logger: silent,
    });
    const report = () => manager.checks.map((c) => [c.name, c.ready()]);
    assert.deepEqual(report(), [
      ['tls-loaded', true],
      ['informers-synced', 'caches not synced yet'],
    ]);
    await manager.start();
    synced = true;
    assert.deepEqual(report(), [
      ['tls-loaded', true],
      ['informers-synced', true],
    ]);
    await manager.stop();
    assert.deepEqual(report(), [
      ['tls-loaded', 'shutting down'],
      ['informers-synced', 'shutting down'],
    ]);
  });

  test('a failed start stops what had started, in reverse, and rejects with the error', async () => {
    const log: string[] = [];
    const election = fakeElection(log);
    const manager = createManager({
      runnables: [
        recording(log, 'probes'),
        recording(log, 'tls'),
        recording(log, 'caches', {
          start: () => Promise.reject(new Error('RBAC denies list secrets')),
        }),
        recording(log, 'webhook'),
      ],
      election,
      logger: silent,
    });
    await assert.rejects(manager.start(), /RBAC denies list secrets/);
    assert.deepEqual(log, [
      'start probes',
      'start tls',
      'stop election',
      'stop tls',
      'stop probes',
    ]);
  });
});
