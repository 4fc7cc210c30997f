// An UPDATE's oldObject is usually the version the index holds: its facts are
// taken from the index instead of being derived again. They must be exactly
// what resolveConfig derives, and never those of another version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { resolveConfig } from '../../../src/rules/index.ts';
import { defaultPolicy } from '../../../src/rules/policy.ts';
import { backend, config, policy } from './fixtures.ts';

const KEY = Buffer.alloc(32, 7);

function versioned(c: TopologyConfig, uid: string, resourceVersion: string): TopologyConfig {
  return { ...c, metadata: { ...c.metadata, uid, resourceVersion } };
}

function indexWithKeys(): ConfigIndex {
  const index = new ConfigIndex();
  index.setKeys({ namespace: 'team-a', name: 'keys' }, [{ name: 'k', key: KEY }]);
  index.setKeys({ namespace: 'vault', name: 'keys' }, [{ name: 'k', key: KEY }]);
  return index;
}

test('the held version: the same facts as resolveConfig, plain or encrypted in its own namespace', () => {
  const index = indexWithKeys();
  const plain = versioned(config({ name: 'plain', backends: [backend('p-db')] }), 'u1', '7');
  const encrypted = versioned(
    config({
      name: 'sealed',
      position: 2,
      decryptSecret: 'team-a/keys',
      backends: [backend('s-db', { endpoint: encryptEndpoint(KEY, 'postgres://a:b@db/s') })],
    }),
    'u2',
    '8',
  );
  for (const c of [plain, encrypted]) {
    index.upsert(c);
    // The oldObject of a review is a separate copy of the same version.
    const copy = structuredClone(c);
    assert.deepEqual(index.factsOfVersion(copy), resolveConfig(copy, index, policy).facts);
    assert.ok(index.factsOfVersion(copy)?.backends[0]?.endpointHash, 'endpoint known');
  }
});

test('another version, no version, or a key Secret of another namespace: nothing', () => {
  const index = indexWithKeys();
  const held = versioned(config({ name: 'a' }), 'u1', '7');
  index.upsert(held);
  assert.equal(index.factsOfVersion(versioned(config({ name: 'a' }), 'u1', '8')), undefined);
  assert.equal(index.factsOfVersion(versioned(config({ name: 'a' }), 'u0', '7')), undefined);
  assert.equal(index.factsOfVersion(config({ name: 'a' })), undefined);
  assert.equal(index.factsOfVersion(versioned(config({ name: 'b' }), 'u1', '7')), undefined);

  // The policy may refuse a key Secret in another namespace: resolveConfig
  // then knows no endpoint, while the index (which decrypts without the
  // policy) would. Such a config is always derived again.
  const cross = versioned(
    config({
      name: 'cross',
      decryptSecret: 'vault/keys',
      backends: [backend('c-db', { endpoint: encryptEndpoint(KEY, 'postgres://a:b@db/c') })],
    }),
    'u3',
    '9',
  );
  index.upsert(cross);
  assert.equal(index.factsOfVersion(cross), undefined);
  assert.equal(
    resolveConfig(cross, index, defaultPolicy).facts.backends[0]?.endpointHash,
    undefined,
  );
});
