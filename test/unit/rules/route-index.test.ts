// The route index finds the routes a key set may overlap. Removing an owner
// recomputes where its key sets were placed (nothing is kept per owner for
// it): every entry goes, including from a bucket two of its key sets
// shared, and the other owners' entries stay findable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keySetOfSelector, prefixKeys, regexpKeys } from '../../../src/rules/key-space.ts';
import { RouteIndex } from '../../../src/rules/route-index.ts';

const found = (index: RouteIndex<string>, keys: ReturnType<typeof prefixKeys>) =>
  index.candidates(keys).sort();

test('removing an owner takes all of its entries, also from buckets its key sets shared', () => {
  const index = new RouteIndex<string>();
  const shop = keySetOfSelector('namespace', { namespace: 'shop', kinds: ['pods', 'secrets'] });
  const shopPods = keySetOfSelector('namespace', { namespace: 'shop', kinds: ['pods'] });
  const apps = prefixKeys('/registry/apps/');
  const rx = regexpKeys('^/registry/rx/[a-z]+$');
  index.add('team/a', 'a-shop', shop);
  index.add('team/a', 'a-shop-pods', shopPods);
  index.add('team/a', 'a-apps', apps);
  index.add('team/a', 'a-rx', rx);
  index.add('team/b', 'b-apps', prefixKeys('/registry/apps/deployments/'));
  index.add('team/b', 'b-shop', keySetOfSelector('namespace', { namespace: 'shop', kinds: [] }));

  assert.deepEqual(found(index, prefixKeys('/registry/apps/')), ['a-apps', 'a-rx', 'b-apps']);
  assert.deepEqual(found(index, prefixKeys('/registry/pods/shop/')), [
    'a-rx',
    'a-shop',
    'a-shop-pods',
    'b-shop',
  ]);

  for (const keys of [shop, shopPods, apps, rx]) index.remove('team/a', keys);
  assert.deepEqual(found(index, prefixKeys('/registry/apps/')), ['b-apps']);
  assert.deepEqual(found(index, prefixKeys('/registry/pods/shop/')), ['b-shop']);
  assert.deepEqual(found(index, prefixKeys('/registry/rx/')), []);

  // Removing again is harmless; adding back makes it findable again.
  index.remove('team/a', apps);
  index.add('team/a', 'a-apps', apps);
  assert.deepEqual(found(index, prefixKeys('/registry/apps/deployments/x')), ['a-apps', 'b-apps']);
});

test('a literal prefix of a length no other route has is found after another is removed', () => {
  const index = new RouteIndex<string>();
  const short = prefixKeys('/registry/a/');
  const long = prefixKeys('/registry/abc/');
  index.add('n/short', 'short', short);
  index.add('n/long', 'long', long);
  index.remove('n/short', short);
  assert.deepEqual(found(index, prefixKeys('/registry/abc/x')), ['long']);
  assert.deepEqual(found(index, prefixKeys('/registry/a/x')), []);
  index.add('n/short', 'short', short);
  assert.deepEqual(found(index, prefixKeys('/registry/a/x')), ['short']);
});
