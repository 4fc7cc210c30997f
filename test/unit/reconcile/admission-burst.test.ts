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
