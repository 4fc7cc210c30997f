import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import {
  decryptEndpoint,
  encryptEndpoint,
  keysFromSecretData,
  looksEncrypted,
  type EndpointKey,
} from '../../../src/crypto/aes-gcm.ts';
import { runGo } from './run-go.ts';

const PLAINTEXT = 'mysql://root:s3cr3t@tcp(mysql.db:3306)/kine_db';
const key = (size: number, fill: number): Buffer => Buffer.alloc(size, fill);
const fixedNonce = (n: number): Buffer => Buffer.alloc(n, 7);

/** The reason must never leak the plaintext, the ciphertext or key bytes. */
function assertLeaksNothing(reason: string, ciphertext: string, keys: readonly EndpointKey[]) {
  assert.ok(!reason.includes(PLAINTEXT), 'reason contains the plaintext');
  assert.ok(!reason.includes('s3cr3t'), 'reason contains the password');
  if (ciphertext.length > 8) assert.ok(!reason.includes(ciphertext), 'reason contains ciphertext');
  for (const k of keys) {
    for (const form of [k.key.toString('base64'), k.key.toString('hex')]) {
      if (form.length > 0) assert.ok(!reason.includes(form), 'reason contains key bytes');
    }
  }
}

describe('encryptEndpoint / decryptEndpoint', () => {
  for (const size of [16, 24, 32]) {
    test(`round trip with a ${size}-byte key`, () => {
      const k = key(size, 0x41);
      const sealed = encryptEndpoint(k, PLAINTEXT);
      assert.equal(
        Buffer.from(sealed, 'base64').length,
        12 + Buffer.byteLength(PLAINTEXT) + 16,
        'nonce + ciphertext + tag',
      );
      assert.deepEqual(decryptEndpoint(sealed, [{ name: 'k', key: k }]), {
        ok: true,
        plaintext: PLAINTEXT,
        keyName: 'k',
      });
    });
  }

  test('the nonce comes first and is random per call', () => {
    const k = key(32, 1);
    const sealed = Buffer.from(encryptEndpoint(k, PLAINTEXT, fixedNonce), 'base64');
    assert.deepEqual(sealed.subarray(0, 12), Buffer.alloc(12, 7));
    assert.notEqual(encryptEndpoint(k, PLAINTEXT), encryptEndpoint(k, PLAINTEXT));
  });

  test('round trip of an empty and a non-ASCII plaintext', () => {
    const k = key(16, 9);
    for (const text of ['', 'postgres://ü:ñ@db/тест']) {
      const result = decryptEndpoint(encryptEndpoint(k, text), [{ name: 'a', key: k }]);
      assert.deepEqual(result, { ok: true, plaintext: text, keyName: 'a' });
    }
  });

  test('a key of a bad length cannot encrypt', () => {
    assert.throws(() => encryptEndpoint(key(31, 1), PLAINTEXT), RangeError);
  });

  test('rotation: a ciphertext of the old key opens when the Secret holds [new, old]', () => {
    const oldKey = key(32, 0x01);
    const newKey = key(32, 0x02);
    const sealed = encryptEndpoint(oldKey, PLAINTEXT);
    const keys = keysFromSecretData({
      '2025-new': newKey.toString('base64'),
      '2024-old': oldKey.toString('base64'),
    });
    assert.deepEqual(decryptEndpoint(sealed, keys), {
      ok: true,
      plaintext: PLAINTEXT,
      keyName: '2024-old',
    });
  });

  test('keys are tried in key-name order (code units), whatever order they come in', () => {
    const k = key(16, 0x33);
    const sealed = encryptEndpoint(k, PLAINTEXT);
    // The same key under three names: the first by code-unit order wins ('B' < 'a').
    const keys = ['b', 'a', 'B'].map((name) => ({ name, key: k }));
    const result = decryptEndpoint(sealed, keys);
    assert.equal(result.ok && result.keyName, 'B');
  });

  const good = key(32, 0x10);
  const wrong = key(32, 0x20);
  const sealed = encryptEndpoint(good, PLAINTEXT);
  const raw = Buffer.from(sealed, 'base64');
  const tamperedTag = Buffer.from(raw);
  tamperedTag[tamperedTag.length - 1]! ^= 0x01;
  const tamperedBody = Buffer.from(raw);
  tamperedBody[14]! ^= 0x80;

  const failures: {
    name: string;
    input: string;
    keys: EndpointKey[];
    reason: string;
  }[] = [
    {
      name: 'wrong key',
      input: sealed,
      keys: [{ name: 'other', key: wrong }],
      reason: 'no key of 1 opened it (tried: other)',
    },
    {
      name: 'two wrong keys, in name order',
      input: sealed,
      keys: [
        { name: 'b', key: wrong },
        { name: 'a', key: key(16, 5) },
      ],
      reason: 'no key of 2 opened it (tried: a, b)',
    },
    {
      name: 'tampered tag',
      input: tamperedTag.toString('base64'),
      keys: [{ name: 'k', key: good }],
      reason: 'no key of 1 opened it (tried: k)',
    },
    {
      name: 'tampered ciphertext',
      input: tamperedBody.toString('base64'),
      keys: [{ name: 'k', key: good }],
      reason: 'no key of 1 opened it (tried: k)',
    },
    {
      name: 'a key of a bad length is skipped and named',
      input: sealed,
      keys: [
        { name: 'short', key: good.subarray(0, 31) },
        { name: 'other', key: wrong },
      ],
      reason: 'no key of 1 opened it (tried: other); skipped short: not a 16, 24 or 32-byte key',
    },
    {
      name: 'only keys of bad length',
      input: sealed,
      keys: [{ name: 'x', key: Buffer.alloc(0) }],
      reason: 'no usable key to open it; skipped x: not a 16, 24 or 32-byte key',
    },
    { name: 'no keys', input: sealed, keys: [], reason: 'no usable key to open it' },
    {
      name: 'bad Base64 (alphabet)',
      input: PLAINTEXT,
      keys: [{ name: 'k', key: good }],
      reason: 'not valid Base64',
    },
    {
      name: 'bad Base64 (URL alphabet)',
      input: sealed.replace(/\+/g, '-').replace(/\//g, '_') + '-_',
      keys: [{ name: 'k', key: good }],
      reason: 'not valid Base64',
    },
    {
      name: 'bad Base64 (missing padding)',
      input: Buffer.alloc(40, 1).toString('base64').replace(/=+$/, ''),
      keys: [{ name: 'k', key: good }],
      reason: 'not valid Base64',
    },
    {
      name: 'bad Base64 (surrounding whitespace)',
      input: ` ${sealed}\n`,
      keys: [{ name: 'k', key: good }],
      reason: 'not valid Base64',
    },
    {
      name: 'shorter than nonce and tag',
      input: raw.subarray(0, 27).toString('base64'),
      keys: [{ name: 'k', key: good }],
      reason: 'shorter than nonce+tag (12+16 bytes)',
    },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, () => {
      const result = decryptEndpoint(c.input, c.keys);
      assert.deepEqual(result, { ok: false, reason: c.reason });
      assertLeaksNothing(c.reason, c.input, c.keys);
    });
  }

  test('a plaintext that is not UTF-8 is refused, without its bytes', () => {
    const k = key(16, 3);
    const nonce = Buffer.alloc(12, 0);
    // Seal invalid UTF-8 by hand: encryptEndpoint only takes strings.
    const cipher = createCipheriv('aes-128-gcm', k, nonce);
    const body = Buffer.concat([cipher.update(Buffer.from([0xff, 0xfe, 0x41])), cipher.final()]);
    const sealedBytes = Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
    assert.deepEqual(decryptEndpoint(sealedBytes, [{ name: 'k', key: k }]), {
      ok: false,
      reason: 'decrypted with key k but the result is not valid UTF-8',
    });
  });
});

describe('keysFromSecretData', () => {
  test('decodes each data value into raw key bytes, sorted by name', () => {
    const keys = keysFromSecretData({
      zeta: Buffer.alloc(16, 1).toString('base64'),
      alpha: Buffer.alloc(32, 2).toString('base64'),
    });
    assert.deepEqual(keys, [
      { name: 'alpha', key: Buffer.alloc(32, 2) },
      { name: 'zeta', key: Buffer.alloc(16, 1) },
    ]);
  });

  test('no data gives no keys; an undecodable value becomes an empty (skipped) key', () => {
    assert.deepEqual(keysFromSecretData(undefined), []);
    assert.deepEqual(keysFromSecretData({ bad: '@@@' }), [{ name: 'bad', key: Buffer.alloc(0) }]);
  });
});

describe('looksEncrypted', () => {
  const cases: [string, boolean][] = [
    [encryptEndpoint(key(32, 1), 'x'), true],
    [encryptEndpoint(key(32, 1), PLAINTEXT), true],
    [encryptEndpoint(key(32, 1), ''), false], // 28 bytes: nonce + tag only
    [PLAINTEXT, false],
    ['sqlite://' + Buffer.alloc(40).toString('base64'), false],
    ['http://etcd:2379', false],
    ['ZXRjZA==', false], // Base64, but too short
    [Buffer.alloc(29, 0xfb).toString('base64'), true],
    [Buffer.alloc(29, 0xfb).toString('base64url'), false],
  ];
  for (const [endpoint, expected] of cases) {
    test(`${JSON.stringify(endpoint.slice(0, 24))}… → ${expected}`, () => {
      assert.equal(looksEncrypted(endpoint), expected);
    });
  }
});

// A tiny Go program: for each case, seal the plaintext with the key exactly as
// the Go middleware's tooling would, and open the ciphertext we produced.
const GO_PROGRAM = `package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
)

type testCase struct {
	KeyHex    string \`json:"keyHex"\`
	Plaintext string \`json:"plaintext"\`
	Ours      string \`json:"ours"\`
}

type answer struct {
	Sealed string \`json:"sealed"\`
	Opened string \`json:"opened"\`
	Error  string \`json:"error"\`
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	answers := []answer{}
	for _, c := range cases {
		key, err := hex.DecodeString(c.KeyHex)
		if err != nil {
			panic(err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			panic(err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			panic(err)
		}
		nonce := make([]byte, gcm.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			panic(err)
		}
		a := answer{Sealed: base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(c.Plaintext), nil))}
		data, err := base64.StdEncoding.DecodeString(c.Ours)
		if err != nil {
			panic(err)
		}
		opened, err := gcm.Open(nil, data[:gcm.NonceSize()], data[gcm.NonceSize():], nil)
		if err != nil {
			a.Error = err.Error()
		} else {
			a.Opened = string(opened)
		}
		answers = append(answers, a)
	}
	if err := json.NewEncoder(os.Stdout).Encode(answers); err != nil {
		panic(err)
	}
}
`;

test('Go compatibility: Go opens ours and we open Go’s, for every key size', () => {
  const cases = [16, 24, 32].map((size, i) => {
    const k = Buffer.from(Array.from({ length: size }, (_, j) => (j * 31 + i * 7 + 1) & 0xff));
    const plaintext = `${PLAINTEXT}?key=${size}&ü=1`;
    return { k, plaintext, ours: encryptEndpoint(k, plaintext) };
  });
  const input = cases.map((c) => ({
    keyHex: c.k.toString('hex'),
    plaintext: c.plaintext,
    ours: c.ours,
  }));
  const answers = JSON.parse(runGo(GO_PROGRAM, JSON.stringify(input))) as {
    sealed: string;
    opened: string;
    error: string;
  }[];
  assert.equal(answers.length, cases.length);
  cases.forEach((c, i) => {
    const a = answers[i]!;
    assert.equal(a.error, '', `Go could not open our ciphertext (key of ${c.k.length} bytes)`);
    assert.equal(a.opened, c.plaintext);
    assert.deepEqual(decryptEndpoint(a.sealed, [{ name: 'go', key: c.k }]), {
      ok: true,
      plaintext: c.plaintext,
      keyName: 'go',
    });
  });
});
