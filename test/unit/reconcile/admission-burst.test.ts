import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdmissionBurst } from '../../../src/reconcile/admission-burst.ts';
import { fakeClock } from '../fake-clock.ts';

const options = { reviews: 4, withinMs: 500, quietMs: 1_000 };

test('a few reviews are no burst, however close together', () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, ...options });
  for (let i = 0; i < 3; i++) burst.reviewed();
  assert.equal(burst.quietIn(), 0);
});

test('enough reviews within the window begin a burst; it ends quietMs after the last review', async () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, ...options });
  for (let i = 0; i < 4; i++) {
    await clock.advance(100);
    burst.reviewed();
  }
  assert.equal(burst.quietIn(), 1_000);
  // A pause of 800 ms (fewer than 4 reviews in any 500 ms) does not end it.
  await clock.advance(800);
  assert.equal(burst.quietIn(), 200);
  burst.reviewed();
  assert.equal(burst.quietIn(), 1_000);
  await clock.advance(1_000);
  assert.equal(burst.quietIn(), 0);
  // Over: a single review later is no burst again.
  burst.reviewed();
  assert.equal(burst.quietIn(), 0);
});

test('reviews slower than the rate never begin a burst', async () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, ...options });
  for (let i = 0; i < 20; i++) {
    burst.reviewed();
    assert.equal(burst.quietIn(), 0);
    await clock.advance(200);
  }
});

test('behind slow merges, reviews too slow for the fixed window are a burst: the window is as long as that many merges', async () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, ...options });
  // A large cluster: a reconcile took 1 s; then a review every 200 ms (4 in 600 ms, outside the 500 ms window).
  burst.reconciled(1_000);
  for (let i = 0; i < 4; i++) {
    await clock.advance(200);
    burst.reviewed();
  }
  assert.ok(burst.quietIn() > 0, 'a burst');
  // A pause must outlast a merge to end it.
  assert.equal(burst.quietIn(), 1_000);
  await clock.advance(999);
  assert.equal(burst.quietIn(), 1);
  await clock.advance(1);
  assert.equal(burst.quietIn(), 0);
});

test('the slowest of the recent reconciles counts, and an old slow one is forgotten', async () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, ...options, quietMs: 100, reconciles: 2 });
  burst.reconciled(2_000);
  burst.reconciled(5);
  for (let i = 0; i < 4; i++) {
    await clock.advance(1_000);
    burst.reviewed();
  }
  assert.equal(burst.quietIn(), 2_000, 'behind a 2 s merge, a review a second is a burst');
  await clock.advance(2_000);
  assert.equal(burst.quietIn(), 0);
  // Two quick reconciles since: the 2 s one is no longer among the recent ones.
  burst.reconciled(5);
  burst.reconciled(5);
  for (let i = 0; i < 4; i++) {
    await clock.advance(1_000);
    burst.reviewed();
    assert.equal(burst.quietIn(), 0);
  }
});
