import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { validateCreate } from '../../../src/rules/index.ts';
import { assertErrors, assertNoSecret, backend, config, policy } from './fixtures.ts';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(16, 9);
const PLAINTEXT = 'postgres://app:s3cret@db.team-a:5432/orders';
const keysRef = { namespace: 'team-a', name: 'keys' };

function encryptedConfig(ciphertext: string, name = 'orders', position = 1) {
  return config({
    name,
    position,
    decryptSecret: 'team-a/keys',
    backends: [backend(`${name}-db`, { endpoint: ciphertext })],
  });
}

function indexWith(keys = [{ name: 'current', key: KEY }]) {
  const index = new ConfigIndex();
  index.setKeys(keysRef, keys);
  return index;
}

describe('endpoint encryption', () => {
  test('an endpoint that decrypts with one of the keys is accepted', () => {
    const ciphertext = encryptEndpoint(KEY, PLAINTEXT);
    const index = indexWith([
      { name: 'old', key: OTHER_KEY },
      { name: 'current', key: KEY },
    ]);
    assert.deepEqual(validateCreate(encryptedConfig(ciphertext), index, policy), {
      errors: [],
      warnings: [],
    });
  });

  const failures = [
    {
      name: 'the key Secret does not exist',
      index: () => new ConfigIndex(),
      errors: [
        {
          type: 'Invalid',
          field: 'spec.endpointDecryptSecret',
          detail: 'Secret team-a/keys not found',
        },
      ] as const,
    },
    {
      name: 'the key Secret lacks the label',
      index: () => {
        const index = new ConfigIndex();
        index.setKeys(keysRef, [{ name: 'current', key: KEY }], false);
        return index;
      },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.endpointDecryptSecret',
          detail: 'lacks the label harikube.info/endpoint-keys=true',
        },
      ] as const,
    },
    {
      name: 'the key Secret holds no usable key',
      index: () => indexWith([{ name: 'short', key: Buffer.alloc(10) }]),
      errors: [
        { type: 'Invalid', field: 'spec.endpointDecryptSecret', detail: 'holds no usable key' },
      ] as const,
    },
    {
      name: 'no key opens the endpoint',
      index: () => indexWith([{ name: 'other', key: OTHER_KEY }]),
      errors: [
        {
          type: 'Invalid',
          field: 'spec.backends[0].endpoint',
          detail:
            'cannot be decrypted with the keys of Secret team-a/keys: no key of 1 opened it (tried: other)',
        },
      ] as const,
    },
  ];
  for (const f of failures) {
    test(f.name, () => {
      const ciphertext = encryptEndpoint(KEY, PLAINTEXT);
      const verdict = validateCreate(encryptedConfig(ciphertext), f.index(), policy);
      assertErrors(verdict.errors, f.errors);
      assertNoSecret(
        [...verdict.errors.map((e) => e.detail), ...verdict.warnings],
        [PLAINTEXT, ciphertext, 's3cret', KEY.toString('base64')],
      );
    });
  }

  test('an endpoint that is not Base64 at all', () => {
    const verdict = validateCreate(encryptedConfig(PLAINTEXT), indexWith(), policy);
    assertErrors(verdict.errors, [
      { type: 'Invalid', field: 'spec.backends[0].endpoint', detail: 'not valid Base64' },
    ]);
    assertNoSecret(
      verdict.errors.map((e) => e.detail),
      [PLAINTEXT, 's3cret'],
    );
  });

  test('without endpointDecryptSecret, an encrypted-looking endpoint is a warning', () => {
    const ciphertext = encryptEndpoint(KEY, PLAINTEXT);
    const verdict = validateCreate(
      config({ backends: [backend('a', { endpoint: ciphertext })] }),
      new ConfigIndex(),
      policy,
    );
    assert.deepEqual(verdict.errors, []);
    assert.deepEqual(verdict.warnings, [
      'spec.backends[0].endpoint looks like an encrypted endpoint but spec.endpointDecryptSecret is not set: it will be used as written',
    ]);
  });

  test('an unknown or missing scheme is a warning that does not quote the endpoint', () => {
    const endpoints = ['mongodb://admin:hunter2@mongo/x', 'admin:hunter2@localhost'];
    const backends = endpoints.map((endpoint, i) => backend(`b${i}`, { endpoint }));
    const verdict = validateCreate(config({ backends }), new ConfigIndex(), policy);
    assert.deepEqual(verdict.errors, []);
    assert.equal(verdict.warnings.length, 2);
    assert.match(
      verdict.warnings[0]!,
      /^spec\.backends\[0\]\.endpoint has no known scheme \(mysql, postgres/,
    );
    assert.match(verdict.warnings[1]!, /^spec\.backends\[1\]\.endpoint has no known scheme/);
    assertNoSecret(verdict.warnings, ['hunter2', 'mongodb', 'admin']);
  });

  test('known schemes give no warning', () => {
    const endpoints = [
      'mysql://a',
      'postgres://b',
      'postgresql://c',
      'sqlite://./db',
      'http://etcd:2379',
      'https://etcd-1:2379',
      'nats://n:4222',
    ];
    const backends = endpoints.map((endpoint, i) => backend(`b${i}`, { endpoint }));
    assert.deepEqual(validateCreate(config({ backends }), new ConfigIndex(), policy), {
      errors: [],
      warnings: [],
    });
  });

  test('encrypted endpoints are compared decrypted: two ciphertexts of one endpoint conflict', () => {
    const index = indexWith();
    index.upsert(encryptedConfig(encryptEndpoint(KEY, PLAINTEXT), 'first'));
    const verdict = validateCreate(
      encryptedConfig(encryptEndpoint(KEY, PLAINTEXT), 'second', 2),
      index,
      policy,
    );
    assertErrors(verdict.errors, [
      {
        type: 'Duplicate',
        field: 'spec.backends[0].endpoint',
        detail: 'points at the same database as team-a/first spec.backends[0]',
      },
    ]);
  });

  test('a plaintext endpoint conflicts with the same endpoint encrypted elsewhere', () => {
    const index = indexWith();
    index.upsert(encryptedConfig(encryptEndpoint(KEY, PLAINTEXT), 'first'));
    const plain = config({
      name: 'plain',
      position: 2,
      backends: [backend('plain-db', { endpoint: PLAINTEXT })],
    });
    assertErrors(validateCreate(plain, index, policy).errors, [
      {
        type: 'Duplicate',
        field: 'spec.backends[0].endpoint',
        detail: 'team-a/first spec.backends[0]',
      },
    ]);
  });

  test('new keys re-index the configs that use them', () => {
    const index = new ConfigIndex();
    index.upsert(encryptedConfig(encryptEndpoint(KEY, PLAINTEXT), 'first'));
    const plain = config({
      name: 'plain',
      position: 2,
      backends: [backend('plain-db', { endpoint: PLAINTEXT })],
    });
    // Without keys, the encrypted endpoint is unknown: nothing to compare with.
    assert.deepEqual(validateCreate(plain, index, policy).errors, []);
    index.setKeys(keysRef, [{ name: 'current', key: KEY }]);
    assert.equal(validateCreate(plain, index, policy).errors.length, 1);
    index.setKeys(keysRef, undefined);
    assert.deepEqual(validateCreate(plain, index, policy).errors, []);
  });
});
