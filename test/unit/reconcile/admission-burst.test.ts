import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdmissionBurst } from '../../../src/reconcile/admission-burst.ts';
import { fakeClock } from '../fake-clock.ts';

test('a few reviews are no burst, however close together', () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, reviews: 4, withinMs: 500 });
  for (let i = 0; i < 3; i++) burst.reviewed();
  assert.equal(burst.quietIn(), 0);
});

test('enough reviews within the window are a burst until the oldest of them leaves it', async () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, reviews: 4, withinMs: 500 });
  for (let i = 0; i < 4; i++) {
    burst.reviewed();
    await clock.advance(100);
  }
  // The oldest of the four came at 0: the burst lasts until 500.
  assert.equal(burst.quietIn(), 100);
  burst.reviewed(); // at 400: now the oldest of the last four came at 100
  assert.equal(burst.quietIn(), 200);
  await clock.advance(200);
  assert.equal(burst.quietIn(), 0);
});

test('reviews slower than the rate are never a burst', async () => {
  const clock = fakeClock();
  const burst = new AdmissionBurst({ clock, reviews: 4, withinMs: 500 });
  for (let i = 0; i < 20; i++) {
    burst.reviewed();
    assert.equal(burst.quietIn(), 0);
    await clock.advance(200);
  }
});
