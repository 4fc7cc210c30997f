import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import {
  checkKey,
  encryptForConfig,
  endpointFromStdin,
  generateKey,
} from '../../../src/cli/keys.ts';

describe('checkKey', () => {
  for (const size of [16, 24, 32]) {
    test(`accepts ${size} raw bytes`, () => {
      assert.deepEqual(checkKey(Buffer.alloc(size)), { ok: true, value: Buffer.alloc(size) });
    });
  }
  test('refuses other lengths by length only', () => {
    assert.deepEqual(checkKey(Buffer.alloc(31)), {
      ok: false,
      error: 'the key file holds 31 bytes, not 16, 24 or 32',
    });
  });
  test('hints at text encodings when the file is too long', () => {
    const base64Text = Buffer.from(Buffer.alloc(32, 7).toString('base64') + '\n');
    const result = checkKey(base64Text);
    assert.deepEqual(result, {
      ok: false,
      error:
        'the key file holds 45 bytes, not 16, 24 or 32 (the file must hold the raw key, not Base64 or hex text)',
    });
    assert.ok(!result.error.includes(base64Text.toString().trim()));
  });
});

describe('endpointFromStdin', () => {
  const cases: [string, string][] = [
    ['mysql://a\n', 'mysql://a'],
    ['mysql://a\r\n', 'mysql://a'],
    ['mysql://a', 'mysql://a'],
    ['mysql://a\n\n', 'mysql://a\n'], // only one line break is dropped; the rest is refused later
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => assert.equal(endpointFromStdin(input), expected));
  }
});

describe('encryptForConfig', () => {
  const key = Buffer.alloc(32, 9);
  test('encrypts so that the rules can decrypt', () => {
    const result = encryptForConfig(key, 'postgres://u:pw@db/x');
    assert.ok(result.ok);
    assert.deepEqual(decryptEndpoint(result.value, [{ name: 'k', key }]), {
      ok: true,
      plaintext: 'postgres://u:pw@db/x',
      keyName: 'k',
    });
  });
  const refusals: [string, string][] = [
    ['', 'the endpoint is empty'],
    ['mysql://a\nmysql://b', 'the endpoint spans several lines'],
    [' mysql://a', 'the endpoint starts or ends with whitespace'],
    ['mysql://a\t', 'the endpoint starts or ends with whitespace'],
  ];
  for (const [endpoint, error] of refusals) {
    test(`refuses ${JSON.stringify(endpoint)}`, () => {
      assert.deepEqual(encryptForConfig(key, endpoint), { ok: false, error });
    });
  }
  test('refuses a key of a bad length', () => {
    assert.deepEqual(encryptForConfig(Buffer.alloc(8), 'mysql://a'), {
      ok: false,
      error: 'the key file holds 8 bytes, not 16, 24 or 32',
    });
  });
});

describe('generateKey', () => {
  test('draws the requested number of random bytes', () => {
    const seen: number[] = [];
    const result = generateKey(24, (n) => {
      seen.push(n);
      return Buffer.alloc(n, 5);
    });
    assert.deepEqual(result, { ok: true, value: Buffer.alloc(24, 5) });
    assert.deepEqual(seen, [24]);
  });
  test('two keys differ', () => {
    const a = generateKey(32);
    const b = generateKey(32);
    assert.ok(a.ok && b.ok && !a.value.equals(b.value));
  });
  for (const size of [0, 20, 64, Number.NaN]) {
    test(`refuses ${size} bytes`, () => {
      assert.deepEqual(generateKey(size), {
        ok: false,
        error: '--bytes must be one of 16, 24 or 32',
      });
    });
  }
});
