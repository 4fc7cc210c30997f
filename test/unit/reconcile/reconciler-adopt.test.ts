// reconcileTarget on a Secret the seed's operator wrote: never written
// without the adoption label (the reason says how to adopt), written once
// labelled (managed from then on, this product's keys in the seed's order, the
// incumbents annotation naming the configs), refused whole when a key would
// route elsewhere.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { type PatchType, type RestClient } from '../../../src/kube/rest.ts';
import { restStores } from '../../../src/kube/stores.ts';
import { ApiError } from '../../../src/resource/errors.ts';
import {
  ADOPT_LABEL,
  FINALIZER,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { reconcileTarget, type Secret } from '../../../src/reconcile/reconciler.ts';
import { ENTRIES_ANNOTATION } from '../../../src/reconcile/incumbents.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';

const TARGET = 'harikube/topology-config';
const SECRET_PATH = '/api/v1/namespaces/harikube/secrets/topology-config';

function config(name: string, position: number, prefix: string): TopologyConfig {
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      name,
      namespace: 'harikube',
      uid: `uid-${name}`,
      resourceVersion: '7',
      generation: 1,
      creationTimestamp: '2030-01-01T00:00:00Z',
      finalizers: [FINALIZER],
    },
    spec: {
      position,
      targetSecret: TARGET,
      backends: [
        { name: `${name}-db`, endpoint: `postgres://${name}.db:5432/kine`, prefix: { prefix } },
      ],
    },
    status: { deployStatus: 'Error', deployStatusReason: 'x', observedGeneration: 1 },
  } as TopologyConfig;
}

const entry = (name: string, prefix: string) =>
  Buffer.from(
    `backends:\n- name: ${name}-db\n  endpoint: postgres://${name}.db:5432/kine\n  prefix:\n    prefix: ${prefix}\n`,
  ).toString('base64');

function seedSecret(labels: Record<string, string>, data: Record<string, string>): Secret {
  return {
    metadata: { name: 'topology-config', namespace: 'harikube', resourceVersion: '3', labels },
    type: 'Opaque',
    data,
  };
}

function fakeRest(existing: Secret) {
  const puts: Secret[] = [];
  const statuses: { deployStatus: string; deployStatusReason: string }[] = [];
  const rest: RestClient = {
    async get<T>(path: string) {
      if (path !== SECRET_PATH) throw new ApiError(404, 'NotFound', `GET ${path}: 404`);
      return structuredClone(existing) as T;
    },
    async create<T>(path: string) {
      throw new Error(`unexpected POST ${path}`);
      return {} as T;
    },
    async replace<T>(_path: string, body: unknown) {
      puts.push(body as Secret);
      return body as T;
    },
    async patch<T>(path: string, _type: PatchType, body: unknown) {
      if (path.endsWith('/status')) statuses.push((body as { status: never }).status);
      return {} as T;
    },
    async delete<T>(path: string) {
      throw new Error(`unexpected DELETE ${path}`);
      return undefined as T;
    },
  };
  return { rest, puts, statuses };
}

const events: string[] = [];

function deps(rest: RestClient, configs: TopologyConfig[]) {
  events.length = 0;
  return {
    ...restStores(rest),
    configsOfTarget: () => configs,
    keys: { keysOf: () => ({ found: false, keys: [] }) },
    policy: () => defaultPolicy,
    events: {
      record: (c: TopologyConfig, type: string, reason: string, message: string) =>
        events.push(`${c.metadata.name} ${type} ${reason} ${message}`),
    },
    logger: pino({ level: 'silent' }),
    mayWrite: () => true,
  };
}

// 10-a and 2-b share /registry/pods/…: the middleware gives those keys to a (read first).
const data = {
  '10-a.yaml': entry('a', '/registry/pods/'),
  '2-b.yaml': entry('b', '/registry/pods/default/'),
};

describe('reconcileTarget on a seed Secret', () => {
  test('not labelled: never written; the configs say how to adopt', async () => {
    const { rest, puts, statuses } = fakeRest(seedSecret({}, data));
    await reconcileTarget(
      TARGET,
      deps(rest, [config('a', 1, '/registry/pods/'), config('b', 2, '/registry/pods/default/')]),
    );
    assert.deepEqual(puts, []);
    assert.deepEqual(
      statuses.map((s) => s.deployStatus),
      ['Error', 'Error'],
    );
    assert.match(
      statuses[0]!.deployStatusReason,
      /"topology adopt --dry-run harikube\/topology-config"/,
    );
  });

  test('labelled, positions against the lexical order on shared keys: refused whole, nothing written', async () => {
    const { rest, puts, statuses } = fakeRest(seedSecret({ [ADOPT_LABEL]: 'true' }, data));
    await reconcileTarget(
      TARGET,
      deps(rest, [config('a', 10, '/registry/pods/'), config('b', 2, '/registry/pods/default/')]),
    );
    assert.deepEqual(puts, []);
    assert.match(
      statuses[0]!.deployStatusReason,
      /^Secret harikube\/topology-config is labelled harikube\.info\/adopt=true but is not adopted .*give harikube\/a a position below 2, or harikube\/b one above 10/,
    );
  });

  test('labelled, order kept: adopted in one write, configs Active', async () => {
    const { rest, puts, statuses } = fakeRest(
      seedSecret({ [ADOPT_LABEL]: 'true', team: 'platform' }, data),
    );
    await reconcileTarget(
      TARGET,
      deps(rest, [config('a', 1, '/registry/pods/'), config('b', 2, '/registry/pods/default/')]),
    );
    assert.equal(puts.length, 1);
    const written = puts[0]!;
    assert.deepEqual(written.metadata.labels, {
      team: 'platform',
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    });
    assert.deepEqual(written.metadata.finalizers, [FINALIZER]);
    assert.deepEqual(Object.keys(written.data!), [
      '0000000001-harikube.a.yaml',
      '0000000002-harikube.b.yaml',
    ]);
    assert.deepEqual(JSON.parse(written.metadata.annotations![ENTRIES_ANNOTATION]!), {
      '0000000001-harikube.a.yaml': 'uid-a:1',
      '0000000002-harikube.b.yaml': 'uid-b:1',
    });
    assert.deepEqual(
      statuses.map((s) => s.deployStatus),
      ['Active', 'Active'],
    );
    assert.deepEqual(events.slice(0, 2), [
      "a Normal Adopted entry 10-a.yaml of Secret harikube/topology-config, written by the seed operator, is this config's entry 0000000001-harikube.a.yaml now; the middleware routes every key as before",
      "b Normal Adopted entry 2-b.yaml of Secret harikube/topology-config, written by the seed operator, is this config's entry 0000000002-harikube.b.yaml now; the middleware routes every key as before",
    ]);
  });
});
