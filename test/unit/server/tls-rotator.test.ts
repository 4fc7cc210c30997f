import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import pino from 'pino';
import { CertificateRotator } from '../../../src/server/tls.ts';
import type { ServingCertificate, Timers } from '../../../src/server/tls.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** A clock and timers that move only when told to. */
class FakeTime {
  now = T0;
  delays: number[] = [];
  #timers = new Map<number, { at: number; fn: () => void }>();
  #id = 0;
  clock = (): Date => new Date(this.now);
  timers: Timers = {
    setTimeout: (fn, ms) => {
      this.delays.push(ms);
      const id = ++this.#id;
      this.#timers.set(id, { at: this.now + ms, fn });
      return id;
    },
    clearTimeout: (handle) => {
      this.#timers.delete(handle as number);
    },
  };

  /** Moves the clock to `target`, firing due timers in order and letting promises settle. */
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
    }
    this.now = target;
    await new Promise((r) => setImmediate(r));
  }
}

function subjects(bundle: string): string[] {
  const pems = bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
  return pems.map((p) => new X509Certificate(p).subject);
}

function issuedBy(cert: ServingCertificate, bundle: string): string {
  const leaf = new X509Certificate(cert.certPem);
  const pems = bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
  const issuer = pems.map((p) => new X509Certificate(p)).find((ca) => leaf.verify(ca.publicKey));
  assert.ok(issuer, 'the serving certificate is not signed by any CA in the bundle');
  return issuer.subject;
}

describe('CertificateRotator', () => {
  test('renews before expiry and trusts both CAs during the switch', async () => {
    const time = new FakeTime();
    const published: string[] = [];
    const served: ServingCertificate[] = [];
    const rotator = new CertificateRotator({
      dnsNames: ['topology-webhook.harikube-system.svc'],
      ipAddresses: ['127.0.0.1'],
      logger: pino({ level: 'silent' }),
      validityDays: 90,
      renewBeforeFraction: 1 / 3,
      propagationMs: MINUTE,
      overlapMs: 10 * MINUTE,
      clock: time.clock,
      timers: time.timers,
      publishCaBundle: (bundle) => {
        published.push(bundle);
      },
      onServingChange: (cert) => served.push(cert),
    });
    await rotator.start();
    const first = rotator.current();
    assert.equal(rotator.phase, 'stable');
    assert.deepEqual(served, [first]);
    assert.equal(published.length, 1);
    assert.equal(subjects(published[0]!).length, 1);
    assert.equal(issuedBy(first, rotator.caBundle()), subjects(published[0]!)[0]);
    // 60 of 90 days (minus the minute certs.ts backdates): renewal leaves a third of the life.
    assert.equal(rotator.renewAt().getTime(), first.notAfter.getTime() - (90 * DAY + MINUTE) / 3);
    assert.ok(rotator.renewAt().getTime() < first.notAfter.getTime());

    // Just before renewal: nothing happens.
    await time.advanceTo(rotator.renewAt().getTime() - 1);
    assert.equal(rotator.phase, 'stable');
    assert.equal(published.length, 1);
    assert.equal(rotator.current(), first);

    // Renewal: a second CA is published next to the first; the old certificate is still served.
    const oldCaSubject = subjects(published[0]!)[0]!;
    await time.advanceTo(rotator.renewAt().getTime());
    assert.equal(rotator.phase, 'publishing');
    assert.equal(published.length, 2);
    const both = subjects(published[1]!);
    assert.equal(both.length, 2);
    assert.equal(both[0], oldCaSubject);
    assert.notEqual(both[1], oldCaSubject);
    assert.equal(rotator.current(), first);

    // After propagation: the new certificate is served, both CAs still trusted.
    await time.advanceTo(time.now + MINUTE);
    assert.equal(rotator.phase, 'overlap');
    const second = rotator.current();
    assert.notEqual(second, first);
    assert.deepEqual(served, [first, second]);
    assert.equal(issuedBy(second, rotator.caBundle()), both[1]);
    assert.equal(issuedBy(first, rotator.caBundle()), both[0]);
    assert.deepEqual(subjects(rotator.caBundle()), both);
    assert.ok(second.notAfter.getTime() > first.notAfter.getTime());
    assert.equal(published.length, 2);

    // After the overlap: the old CA is dropped.
    await time.advanceTo(time.now + 10 * MINUTE);
    assert.equal(rotator.phase, 'stable');
    assert.equal(published.length, 3);
    assert.deepEqual(subjects(published[2]!), [both[1]]);
    assert.equal(rotator.caBundle(), published[2]);
    // Every rotation happened before the old certificate expired.
    assert.ok(time.now < first.notAfter.getTime());

    // And it keeps going: the next renewal is scheduled from the new certificate.
    await time.advanceTo(rotator.renewAt().getTime() + MINUTE);
    assert.equal(served.length, 3);
    assert.ok(time.now < second.notAfter.getTime());
    // No timer was ever asked for more than setTimeout can hold.
    assert.ok(Math.max(...time.delays) <= 2 ** 31 - 1);
    rotator.stop();
  });

  test('does not serve the new certificate until the two-CA bundle is published', async () => {
    const time = new FakeTime();
    const published: string[] = [];
    let failing = false;
    const rotator = new CertificateRotator({
      dnsNames: ['localhost'],
      ipAddresses: [],
      logger: pino({ level: 'silent' }),
      validityDays: 30,
      propagationMs: MINUTE,
      retryMs: 5 * MINUTE,
      clock: time.clock,
      timers: time.timers,
      publishCaBundle: (bundle) => {
        if (failing) throw new Error('apiserver unavailable');
        published.push(bundle);
      },
    });
    await rotator.start();
    const first = rotator.current();
    failing = true;
    await time.advanceTo(rotator.renewAt().getTime());
    assert.equal(rotator.phase, 'publishing');
    // Failing for an hour: retried, never switched.
    await time.advanceTo(time.now + 60 * MINUTE);
    assert.equal(rotator.current(), first);
    assert.equal(published.length, 1);
    failing = false;
    await time.advanceTo(time.now + 5 * MINUTE);
    assert.equal(published.length, 2);
    assert.equal(subjects(published[1]!).length, 2);
    assert.equal(rotator.current(), first);
    await time.advanceTo(time.now + MINUTE);
    assert.notEqual(rotator.current(), first);
    rotator.stop();
  });

  test('republishes the bundle periodically when asked to', async () => {
    const time = new FakeTime();
    const published: string[] = [];
    const rotator = new CertificateRotator({
      dnsNames: ['localhost'],
      ipAddresses: [],
      logger: pino({ level: 'silent' }),
      republishMs: MINUTE,
      clock: time.clock,
      timers: time.timers,
      publishCaBundle: (bundle) => {
        published.push(bundle);
      },
    });
    await rotator.start();
    await time.advanceTo(T0 + 3 * MINUTE);
    assert.equal(published.length, 4);
    assert.ok(published.every((b) => b === published[0]));
    rotator.stop();
    await time.advanceTo(T0 + 10 * MINUTE);
    assert.equal(published.length, 4);
  });

  test('rejects a renewBeforeFraction outside (0, 1)', () => {
    for (const renewBeforeFraction of [0, 1, -0.5, 2]) {
      assert.throws(
        () =>
          new CertificateRotator({
            dnsNames: ['x'],
            ipAddresses: [],
            logger: pino({ level: 'silent' }),
            renewBeforeFraction,
          }),
        { message: 'renewBeforeFraction must be between 0 and 1' },
      );
    }
  });
});
