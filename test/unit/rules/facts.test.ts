import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalKinds, selectorFacts, SELECTOR_FIELDS } from '../../../src/rules/facts.ts';
import { isInternalized } from '../v8-intrinsics.ts';

// Short strings over a tiny alphabet (with the separator ':' and digits) so
// that near-collisions such as "1:a" vs "a" are tried often.
const text = fc.string({ unit: fc.constantFrom('a', ':', '1', '0', '/'), maxLength: 4 });
const selector = fc.record(
  {
    group: text,
    kind: text,
    namespace: text,
    kinds: fc.array(text, { maxLength: 3 }),
    prefix: text,
    key: text,
  },
  { requiredKeys: [] },
);

/** What each selector routes, written out plainly (the meaning canonical strings must capture). */
function meaning(field: (typeof SELECTOR_FIELDS)[number], s: Record<string, unknown>): string {
  const v = (k: string) => (typeof s[k] === 'string' ? (s[k] as string) : '');
  switch (field) {
    case 'customresource':
      return JSON.stringify([field, v('group'), v('kind')]);
    case 'namespace':
      return JSON.stringify([field, v('namespace'), canonicalKinds(s.kinds)]);
    case 'prefix':
      return JSON.stringify([field, v('prefix')]);
    case 'regexp':
      return JSON.stringify([field, v('prefix'), v('key')]);
  }
}

test('two selectors have the same canonical string exactly when they route the same keys', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...SELECTOR_FIELDS),
      fc.constantFrom(...SELECTOR_FIELDS),
      selector,
      selector,
      (fa, fb, a, b) => {
        const same = selectorFacts(fa, a)!.canonical === selectorFacts(fb, b)!.canonical;
        assert.equal(same, meaning(fa, a) === meaning(fb, b));
      },
    ),
    { numRuns: 20_000 },
  );
});

test('kinds are compared as a set: order and repeats do not matter', () => {
  const a = selectorFacts('namespace', { namespace: 'shop', kinds: ['Pod', 'Secret', 'Pod'] });
  const b = selectorFacts('namespace', { namespace: 'shop', kinds: ['Secret', 'Pod'] });
  assert.equal(a!.canonical, b!.canonical);
});

test('facts are derived once per object and endpoints, so the index and the merge hold one copy', async () => {
  const { factsOf } = await import('../../../src/rules/facts.ts');
  const { ConfigIndex } = await import('../../../src/rules/config-index.ts');
  const { backend, config } = await import('./fixtures.ts');
  const c = config({ name: 'orders', backends: [backend('orders-db')] });
  c.metadata.uid = 'uid-orders';
  c.metadata.resourceVersion = '7';
  const endpoints = c.spec.backends.map((b) => b.endpoint);
  const index = new ConfigIndex();
  index.upsert(c);
  assert.equal(factsOf(c, [...endpoints]), index.factsOfVersion(c));
  // Other endpoints (a key Secret decrypting otherwise) are other facts.
  const other = factsOf(c, ['mysql://elsewhere/db']);
  assert.notEqual(other, index.factsOfVersion(c));
  assert.notEqual(
    other.backends[0]!.endpointHash,
    index.factsOfVersion(c)!.backends[0]!.endpointHash,
  );
  // The static rules' facts (no endpoints) do not displace the held ones.
  factsOf(c, []);
  assert.equal(factsOf(c, ['mysql://elsewhere/db']), other);
  // A new object of the same content has facts of its own, equal in value.
  const copy = structuredClone(c);
  assert.notEqual(factsOf(copy, endpoints), other);
  assert.deepEqual(factsOf(copy, endpoints), index.factsOfVersion(c));
});

test('the strings facts hold for a config’s life are flat copies, not trees of joins or slices of a longer string', async () => {
  const { factsOf } = await import('../../../src/rules/facts.ts');
  const { backend, config } = await import('./fixtures.ts');
  const c = config({ name: 'orders', backends: [backend('orders-db')] });
  const b = c.spec.backends[0]!;
  Object.assign(b, { prefix: { prefix: `app-${Date.now()}/` } });
  const facts = factsOf(c, [b.endpoint]);
  const selector = facts.backends[0]!.selectors[0]!;
  assert.equal(selector.field, 'prefix');
  for (const [what, value] of [
    ['key', facts.key],
    ['canonical', selector.canonical],
    ['prefix', selector.prefix!],
    ['key prefix', (selector.keys.parts[0] as { value: string }).value],
  ] as const)
    assert.ok(isInternalized(value), `${what} ${value} is flat`);
  // 128 bits in base64url, its own string (a slice of the 44-character digest kept the digest).
  assert.match(facts.backends[0]!.endpointHash!, /^[A-Za-z0-9_-]{22}$/);
});
