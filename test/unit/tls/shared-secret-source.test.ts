import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import pino from 'pino';
import { ApiError } from '../../../src/resource/errors.ts';
import { MANAGED_BY_LABEL } from '../../../src/resource/names.ts';
import { selfProvision, type ServingCertificate } from '../../../src/tls/certificate.ts';
import { caBundleOf, renewAt, rotationTiming } from '../../../src/tls/rotation.ts';
import {
  STEP_AT_ANNOTATION,
  decodeTlsSecret,
  encodeTlsSecret,
  type TlsSecretObject,
} from '../../../src/tls/secret-codec.ts';
import type { TlsSecretStore } from '../../../src/tls/secret-store.ts';
import {
  AccessDeniedError,
  startSharedCertificate,
  type SharedCertificate,
} from '../../../src/tls/shared-secret-source.ts';
import type { Clock } from '../../../src/time/clock.ts';

const DAY = 86_400_000;
const SECOND = 1000;
const MINUTE = 60_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const REF = { namespace: 'harikube-system', name: 'topology-webhook-tls' };
const NAMES = { dnsNames: ['topology-webhook.harikube-system.svc'], ipAddresses: ['127.0.0.1'] };
const VALIDITY = 90 * DAY;
const silent = pino({ level: 'silent' });
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The API server's view of the one Secret: resourceVersions, 409s, a write log. */
class FakeStore implements TlsSecretStore {
  secret: TlsSecretObject | undefined;
  writes: string[] = [];
  failGets: ApiError[] = [];
  #rv = 0;
  #stamp(s: TlsSecretObject): TlsSecretObject {
    const stored = structuredClone(s);
    stored.metadata.resourceVersion = String(++this.#rv);
    this.secret = stored;
    return structuredClone(stored);
  }
  async get() {
    await turn();
    const failure = this.failGets.shift();
    if (failure) throw failure;
    return this.secret && structuredClone(this.secret);
  }
  async create(s: TlsSecretObject) {
    await turn();
    if (this.secret) throw new ApiError(409, 'AlreadyExists', 'secrets "x" already exists');
    assert.equal(s.metadata.resourceVersion, undefined);
    this.writes.push('create');
    return this.#stamp(s);
  }
  async replace(s: TlsSecretObject) {
    await turn();
    if (!this.secret) throw new ApiError(404, 'NotFound', 'not found');
    if (s.metadata.resourceVersion !== this.secret.metadata.resourceVersion)
      throw new ApiError(409, 'Conflict', 'the object has been modified');
    this.writes.push(phaseOf(s));
    return this.#stamp(s);
  }
}

/** Both webhook configurations' caBundle; publish reports whether it changed. */
class FakeWebhooks {
  bundle = '';
  writes = 0;
  publish = async (pem: string): Promise<boolean> => {
    await turn();
    if (pem === this.bundle) return false;
    this.bundle = pem;
    this.writes++;
    return true;
  };
}

/** A clock and timers that move only when told to. */
class FakeTime {
  now = T0;
  #timers = new Map<object, { at: number; fn: () => void }>();
  clock: Clock = {
    now: () => this.now,
    elapsed: () => this.now,
    setTimeout: (fn, ms) => {
      const handle = {};
      this.#timers.set(handle, { at: this.now + ms, fn });
      return handle;
    },
    clearTimeout: (handle) => {
      if (handle) this.#timers.delete(handle);
    },
  };
  /** Moves the clock, firing due timers in order and letting their work settle. */
  async advanceTo(target: number, onStep?: () => void): Promise<void> {
    for (;;) {
      for (let i = 0; i < 20; i++) await turn();
      let next: [object, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
      onStep?.();
    }
    this.now = target;
    for (let i = 0; i < 20; i++) await turn();
  }
}

function phaseOf(s: TlsSecretObject): string {
  if (s.data?.['next-tls.crt']) return 'publishing';
  if (s.data?.['retired-ca.crt']) return 'overlap';
  return 'stable';
}

function pems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
}

/** Whether some CA in the bundle signed the certificate (what the API server checks). */
function trusted(bundle: string, cert: ServingCertificate): boolean {
  const leaf = new X509Certificate(cert.certPem);
  return pems(bundle).some((p) => leaf.verify(new X509Certificate(p).publicKey));
}

function replica(
  store: FakeStore,
  webhooks: FakeWebhooks,
  time: FakeTime,
  extra: { names?: typeof NAMES; served?: ServingCertificate[]; validityMs?: number } = {},
): Promise<SharedCertificate> {
  return startSharedCertificate({
    store,
    ref: REF,
    names: extra.names ?? NAMES,
    publish: webhooks.publish,
    logger: silent,
    timing: rotationTiming(extra.validityMs ?? VALIDITY),
    clock: time.clock,
    onServingChange: (cert) => extra.served?.push(cert),
  });
}

function assertAllTrusted(webhooks: FakeWebhooks, replicas: SharedCertificate[], when: string) {
  for (const [i, r] of replicas.entries()) {
    assert.ok(trusted(webhooks.bundle, r.current()), `${when}: replica ${i} is not trusted`);
  }
}

describe('shared TLS Secret: start-up', () => {
  test('two replicas starting together share one CA and one serving certificate', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const [a, b] = await Promise.all([
      replica(store, webhooks, time),
      replica(store, webhooks, time),
    ]);
    assert.deepEqual(store.writes, ['create']);
    assert.equal(a.current().certPem, b.current().certPem);
    assert.equal(a.caBundle(), b.caBundle());
    assert.equal(webhooks.bundle, a.caBundle());
    assert.equal(pems(webhooks.bundle).length, 1);
    assert.equal(webhooks.writes, 1);
    assertAllTrusted(webhooks, [a, b], 'after start');
    const c = await replica(store, webhooks, time);
    assert.equal(c.current().certPem, a.current().certPem);
    // Unchanged pair, same object: servers only swap their TLS context on a new one.
    const served = a.current();
    await a.sync();
    assert.equal(a.current(), served);
    assert.deepEqual(store.writes, ['create'], 'a later replica only reads');
    for (const r of [a, b, c]) r.stop();
  });

  test('the Secret is a TLS Secret that the reconciler never mistakes for a target', async () => {
    const store = new FakeStore();
    const a = await replica(store, new FakeWebhooks(), new FakeTime());
    const s = store.secret!;
    assert.equal(s.type, 'kubernetes.io/tls');
    assert.deepEqual(Object.keys(s.data ?? {}).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    assert.equal(s.metadata.labels?.[MANAGED_BY_LABEL], undefined);
    assert.equal(s.metadata.namespace, REF.namespace);
    assert.equal(s.metadata.name, REF.name);
    assert.equal(Buffer.from(s.data!['tls.crt']!, 'base64').toString(), a.current().certPem);
    a.stop();
  });

  const unusable: [string, (s: TlsSecretObject) => void][] = [
    ['a certificate that is not PEM', (s) => (s.data!['tls.crt'] = 'bm90IGEgY2VydA==')],
    ['a key that does not match', (s) => (s.data!['tls.key'] = s.data!['next-key']!)],
    ['no ca.crt', (s) => delete s.data!['ca.crt']],
    ['a CA that did not sign the certificate', (s) => (s.data!['ca.crt'] = s.data!['other-ca']!)],
  ];
  for (const [name, spoil] of unusable) {
    test(`a Secret with ${name} is replaced by a new CA and certificate`, async () => {
      const store = new FakeStore();
      const good = selfProvision({ ...NAMES, now: new Date(T0), validityDays: 90 });
      const other = selfProvision({ ...NAMES, now: new Date(T0), validityDays: 90 });
      const secret = encodeTlsSecret(
        { phase: 'stable', serving: { ...good.serving, caPem: good.ca.certPem } },
        REF,
      );
      secret.data!['next-key'] = Buffer.from(other.serving.keyPem).toString('base64');
      secret.data!['other-ca'] = Buffer.from(other.ca.certPem).toString('base64');
      spoil(secret);
      delete secret.data!['next-key'];
      delete secret.data!['other-ca'];
      await store.create(secret);
      store.writes = [];
      const webhooks = new FakeWebhooks();
      const a = await replica(store, webhooks, new FakeTime());
      assert.deepEqual(store.writes, ['stable']);
      assert.notEqual(a.current().certPem, good.serving.certPem);
      assert.ok(trusted(webhooks.bundle, a.current()));
      decodeTlsSecret(store.secret!); // usable now
      a.stop();
    });
  }

  test('an expired certificate in the Secret is replaced at once', async () => {
    const store = new FakeStore();
    const old = selfProvision({ ...NAMES, now: new Date(T0 - 100 * DAY), validityDays: 90 });
    await store.create(
      encodeTlsSecret({ phase: 'stable', serving: { ...old.serving, caPem: old.ca.certPem } }, REF),
    );
    const a = await replica(store, new FakeWebhooks(), new FakeTime());
    assert.ok(a.current().notAfter.getTime() > T0);
    a.stop();
  });

  test('RBAC denial fails start-up at once and says what was denied', async () => {
    const store = new FakeStore();
    store.failGets.push(
      new ApiError(403, 'Forbidden', 'secrets "topology-webhook-tls" is forbidden'),
    );
    await assert.rejects(replica(store, new FakeWebhooks(), new FakeTime()), (error: Error) => {
      assert.ok(error instanceof AccessDeniedError);
      assert.match(
        error.message,
        /access to Secret harikube-system\/topology-webhook-tls denied \(HTTP 403\)/,
      );
      assert.match(error.message, /get, create and update/);
      return true;
    });

    const webhooks = new FakeWebhooks();
    webhooks.publish = () => Promise.reject(new ApiError(403, 'Forbidden', 'Forbidden'));
    await assert.rejects(replica(new FakeStore(), webhooks, new FakeTime()), (error: Error) => {
      assert.match(error.message, /access to the webhook configurations denied \(HTTP 403\)/);
      return true;
    });
  });

  test('other API errors at start-up are retried', async () => {
    const store = new FakeStore();
    store.failGets.push(
      new ApiError(503, 'ServiceUnavailable', 'etcd'),
      new ApiError(504, 'Timeout', 't'),
    );
    const a = await startSharedCertificate({
      store,
      ref: REF,
      names: NAMES,
      publish: new FakeWebhooks().publish,
      logger: silent,
      timing: rotationTiming(VALIDITY),
      retryMs: 1,
    });
    assert.deepEqual(store.writes, ['create']);
    assert.equal(store.failGets.length, 0);
    a.stop();
  });
});

describe('shared TLS Secret: rotation across replicas', () => {
  test('one replica rotates, the other follows, and every served certificate stays trusted', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const served: ServingCertificate[] = [];
    const a = await replica(store, webhooks, time, { served });
    const b = await replica(store, webhooks, time);
    const first = a.current();
    const timing = rotationTiming(VALIDITY);
    const check = (when: string) => assertAllTrusted(webhooks, [a, b], when);

    // Before renewal: syncs change nothing.
    time.now = renewAt(first, 1 / 3).getTime() - 1;
    await Promise.all([a.sync(), b.sync()]);
    assert.deepEqual(store.writes, ['create']);

    // Renewal: a publishes CA(A)+CA(B), still serves A.
    time.now += 1;
    await a.sync();
    assert.deepEqual(store.writes, ['create', 'publishing']);
    assert.equal(a.phase(), 'publishing');
    assert.equal(pems(webhooks.bundle).length, 2);
    assert.equal(a.current().certPem, first.certPem);
    check('publishing');
    await b.sync();
    assert.equal(b.phase(), 'publishing');
    assert.equal(b.current().certPem, first.certPem);
    assert.equal(store.writes.length, 2, 'the follower writes nothing');

    // After propagation: b makes the switch (any replica may), a follows at its next poll.
    time.now += timing.propagationMs;
    await b.sync();
    assert.deepEqual(store.writes, ['create', 'publishing', 'overlap']);
    const second = b.current();
    assert.notEqual(second.certPem, first.certPem);
    assert.equal(a.current().certPem, first.certPem, 'a has not polled yet');
    check('overlap, before a follows');
    await a.sync();
    assert.equal(a.current().certPem, second.certPem);
    assert.deepEqual(
      served.map((c) => c.certPem),
      [first.certPem, second.certPem],
    );
    check('overlap');

    // After the overlap: the old CA leaves the bundle.
    time.now += timing.overlapMs;
    await a.sync();
    assert.deepEqual(store.writes, ['create', 'publishing', 'overlap', 'stable']);
    assert.equal(pems(webhooks.bundle).length, 1);
    await b.sync();
    assert.equal(a.phase(), 'stable');
    assert.equal(b.phase(), 'stable');
    check('stable again');
    assert.ok(time.now < first.notAfter.getTime(), 'rotated before the old certificate expired');
    a.stop();
    b.stop();
  });

  test('when two replicas find the same step due, exactly one writes it', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const a = await replica(store, webhooks, time);
    const b = await replica(store, webhooks, time);
    const timing = rotationTiming(VALIDITY);
    const steps: [string, number][] = [
      ['publishing', renewAt(a.current(), 1 / 3).getTime()],
      ['overlap', timing.propagationMs],
      ['stable', timing.overlapMs],
    ];
    for (const [phase, delta] of steps) {
      time.now = phase === 'publishing' ? delta : time.now + delta;
      const before = store.writes.length;
      await Promise.all([a.sync(), b.sync()]);
      assert.equal(store.writes.length, before + 1, `one write for ${phase}`);
      assert.equal(store.writes.at(-1), phase);
      await Promise.all([a.sync(), b.sync()]); // the loser re-reads
      assert.equal(a.phase(), phase);
      assert.equal(b.phase(), phase);
      assert.equal(a.current().certPem, b.current().certPem);
      assertAllTrusted(webhooks, [a, b], phase);
    }
    a.stop();
    b.stop();
  });

  test('the switch waits until the two-CA bundle was already in place', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const a = await replica(store, webhooks, time);
    const first = a.current();
    const oldBundle = webhooks.bundle;
    const timing = rotationTiming(VALIDITY);
    time.now = renewAt(first, 1 / 3).getTime();
    await a.sync();
    assert.equal(a.phase(), 'publishing');
    // Someone (a stale replica) put the one-CA bundle back.
    webhooks.bundle = oldBundle;
    time.now += timing.propagationMs;
    await a.sync();
    assert.equal(a.phase(), 'publishing', 'postponed: the bundle had to be written again');
    assert.equal(a.current().certPem, first.certPem);
    assert.equal(pems(webhooks.bundle).length, 2);
    const stepAt = Date.parse(store.secret!.metadata.annotations![STEP_AT_ANNOTATION]!);
    assert.equal(stepAt, time.now + timing.propagationMs);
    time.now = stepAt;
    await a.sync();
    assert.equal(a.phase(), 'overlap');
    assert.notEqual(a.current().certPem, first.certPem);
    a.stop();
  });

  test('a Secret deleted while running is put back with the same certificates', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const a = await replica(store, webhooks, time);
    const b = await replica(store, webhooks, time);
    const bundle = webhooks.bundle;
    store.secret = undefined;
    await b.sync();
    await a.sync();
    assert.equal(webhooks.bundle, bundle, 'no CA change');
    assert.equal(a.current().certPem, b.current().certPem);
    assert.equal(decodeTlsSecret(store.secret!).serving.certPem, a.current().certPem);
    a.stop();
    b.stop();
  });

  test('a Secret spoiled while running is put back with the same certificates', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const a = await replica(store, webhooks, time);
    const bundle = webhooks.bundle;
    const spoiled = structuredClone(store.secret!);
    spoiled.data!['tls.crt'] = Buffer.from('garbage').toString('base64');
    await store.replace(spoiled);
    await a.sync();
    assert.equal(webhooks.bundle, bundle, 'no CA change');
    assert.equal(decodeTlsSecret(store.secret!).serving.certPem, a.current().certPem);
    a.stop();
  });

  test('a certificate that lacks a replica’s name is rotated early, to cover both names', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const a = await replica(store, webhooks, time);
    const names = { dnsNames: [...NAMES.dnsNames, 'hooks.example.com'], ipAddresses: ['::1'] };
    const b = await replica(store, webhooks, time, { names });
    assert.equal(b.phase(), 'publishing', 'b started the rotation at once');
    const timing = rotationTiming(VALIDITY);
    time.now += timing.propagationMs;
    await b.sync();
    await a.sync();
    const san = new X509Certificate(a.current().certPem).subjectAltName ?? '';
    for (const n of ['DNS:topology-webhook.harikube-system.svc', 'DNS:hooks.example.com'])
      assert.ok(san.includes(n), `${n} in ${san}`);
    for (const ip of ['IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1'])
      assert.ok(san.includes(ip), `${ip} in ${san}`);
    time.now += timing.overlapMs;
    await Promise.all([a.sync(), b.sync()]);
    await Promise.all([a.sync(), b.sync()]);
    assert.equal(a.phase(), 'stable', 'and no further rotation: both are covered');
    assert.equal(b.phase(), 'stable');
    assert.equal(store.writes.length, 4);
    a.stop();
    b.stop();
  });

  test('driven by its own timers, two replicas complete a rotation before expiry', async () => {
    const store = new FakeStore();
    const webhooks = new FakeWebhooks();
    const time = new FakeTime();
    const validityMs = 10 * MINUTE;
    const a = await replica(store, webhooks, time, { validityMs });
    const b = await replica(store, webhooks, time, { validityMs });
    const first = a.current();
    const timing = rotationTiming(validityMs);
    const end =
      renewAt(first, 1 / 3).getTime() + timing.propagationMs + timing.overlapMs + 2 * timing.pollMs;
    let firings = 0;
    let untrusted = 0;
    await time.advanceTo(end, () => {
      firings++;
      if (![a, b].every((r) => trusted(webhooks.bundle, r.current()))) untrusted++;
    });
    // Both replicas polled on the fake clock all along.
    assert.ok(firings >= (2 * (end - T0)) / timing.pollMs, `${firings} timer firings`);
    assert.equal(untrusted, 0, 'a replica served a certificate the bundle did not trust');
    assert.deepEqual(store.writes, ['create', 'publishing', 'overlap', 'stable']);
    assert.equal(a.phase(), 'stable');
    assert.equal(b.phase(), 'stable');
    assert.equal(a.current().certPem, b.current().certPem);
    assert.notEqual(a.current().certPem, first.certPem);
    assert.equal(webhooks.bundle, a.caBundle());
    assert.equal(pems(webhooks.bundle).length, 1);
    assert.ok(end < first.notAfter.getTime());
    a.stop();
    b.stop();
  });
});

describe('rotationTiming', () => {
  test('production values for a long validity', () => {
    assert.deepEqual(rotationTiming(365 * DAY), {
      validityMs: 365 * DAY,
      renewBeforeFraction: 1 / 3,
      propagationMs: 30 * SECOND,
      overlapMs: 10 * MINUTE,
      pollMs: 30 * SECOND,
    });
  });

  for (const validityMs of [MINUTE, 2 * MINUTE, 10 * MINUTE, 3_600_000, 90 * DAY, 365 * DAY]) {
    test(`validity ${validityMs} ms: a whole rotation fits before expiry, overlap covers 4 polls`, () => {
      const t = rotationTiming(validityMs);
      assert.ok(t.overlapMs >= 4 * t.pollMs);
      assert.ok(t.propagationMs >= 500);
      // Certificates are backdated a minute (certs.ts), so the lifetime is validity + 1 min.
      const life = validityMs + MINUTE;
      const renewal = validityMs - life * t.renewBeforeFraction;
      assert.ok(renewal + t.propagationMs + t.overlapMs + 2 * t.pollMs < validityMs);
    });
  }
});

test('encode and decode keep every phase and the bundle order old, current, next', () => {
  const a = selfProvision({ ...NAMES, now: new Date(T0), validityDays: 90 });
  const b = selfProvision({ ...NAMES, now: new Date(T0), validityDays: 90 });
  const A = { ...a.serving, caPem: a.ca.certPem };
  const B = { ...b.serving, caPem: b.ca.certPem };
  const stepAt = new Date(T0 + MINUTE);
  const states = [
    { phase: 'stable' as const, serving: A },
    { phase: 'publishing' as const, serving: A, next: B, stepAt },
    { phase: 'overlap' as const, serving: B, retiredCaPem: a.ca.certPem, stepAt },
  ];
  for (const state of states) {
    const decoded = decodeTlsSecret(encodeTlsSecret(state, REF));
    assert.equal(decoded.phase, state.phase);
    assert.equal(decoded.serving.certPem, state.serving.certPem);
    assert.equal(decoded.stepAt?.getTime(), state.stepAt?.getTime());
    assert.equal(caBundleOf(decoded), caBundleOf(state));
  }
  assert.equal(caBundleOf(states[1]!), a.ca.certPem + b.ca.certPem);
  assert.equal(caBundleOf(states[2]!), a.ca.certPem + b.ca.certPem);
  assert.throws(
    () => decodeTlsSecret(encodeTlsSecret({ ...states[1]!, stepAt: undefined }, REF)),
    /annotation harikube.info\/tls-rotation-step-at missing or bad/,
  );
});
