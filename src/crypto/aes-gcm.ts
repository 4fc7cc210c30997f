// Endpoint encryption format (ours: no published one exists for HariKube).
//
//   endpoint = Base64( nonce || ciphertext || tag )
//
// - AES-GCM with a 16-, 24- or 32-byte key (AES-128/192/256);
// - nonce: 12 random bytes, written first;
// - tag: 16 bytes, written after the ciphertext; no additional data;
// - Base64: the standard alphabet with `=` padding (RFC 4648 section 4).
//
// This is byte for byte what Go's `gcm.Seal(nonce, nonce, plaintext, nil)`
// produces with `cipher.NewGCM(aes.NewCipher(key))`, so a Go program can open
// it with `gcm.Open(nil, data[:12], data[12:], nil)`.
//
// A decrypt Secret holds one key per data entry (the raw key bytes); every
// key is tried in key-name order, so keys can be rotated by adding the new one
// and removing the old one once nothing is encrypted with it any more.
//
// Nothing here puts a plaintext, a ciphertext or key bytes into a reason.

import { createCipheriv, createDecipheriv, randomBytes as cryptoRandomBytes } from 'node:crypto';

export interface EndpointKey {
  /** The data key of the Secret holding it (not secret; used in reasons). */
  name: string;
  key: Buffer;
}

export type DecryptResult =
  { ok: true; plaintext: string; keyName: string } | { ok: false; reason: string };

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_SIZES: readonly number[] = [16, 24, 32];

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function cipherName(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' | undefined {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      return undefined;
  }
}

/**
 * Strict standard Base64: the right alphabet, padding and length, and
 * canonical (no stray bits in the last character), because Node's own decoder
 * silently skips anything it does not understand.
 */
export function decodeStrictBase64(text: string): Buffer | undefined {
  if (!STRICT_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** Encrypts `plaintext` (UTF-8) with `key`; `randomBytes` is only for tests. */
export function encryptEndpoint(
  key: Buffer,
  plaintext: string,
  randomBytes: (n: number) => Buffer = cryptoRandomBytes,
): string {
  const algorithm = cipherName(key);
  if (!algorithm) {
    throw new RangeError(`AES-GCM key must be 16, 24 or 32 bytes, not ${key.length}`);
  }
  const nonce = randomBytes(NONCE_BYTES);
  if (nonce.length !== NONCE_BYTES) throw new RangeError('nonce source returned the wrong length');
  const cipher = createCipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES });
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

function byName(a: EndpointKey, b: EndpointKey): number {
  // Code-unit order, the same on every machine (no locale).
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function openWith(key: Buffer, sealed: Buffer): Buffer | undefined {
  const algorithm = cipherName(key);
  if (!algorithm) return undefined;
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // Authentication failed: wrong key or tampered data; the caller reports it.
    return undefined;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Opens an encrypted endpoint with the first key (in key-name order) that
 * authenticates it. Keys of a wrong length are skipped and named in the
 * reason when nothing opens the ciphertext.
 */
export function decryptEndpoint(
  ciphertextBase64: string,
  keys: readonly EndpointKey[],
): DecryptResult {
  const sealed = decodeStrictBase64(ciphertextBase64);
  if (!sealed) return { ok: false, reason: 'not valid Base64' };
  if (sealed.length < NONCE_BYTES + TAG_BYTES) {
    return {
      ok: false,
      reason: `shorter than nonce+tag (${NONCE_BYTES}+${TAG_BYTES} bytes)`,
    };
  }
  const tried: string[] = [];
  const skipped: string[] = [];
  for (const { name, key } of [...keys].sort(byName)) {
    if (!cipherName(key)) {
      skipped.push(name);
      continue;
    }
    tried.push(name);
    const opened = openWith(key, sealed);
    if (!opened) continue;
    try {
      return { ok: true, plaintext: utf8.decode(opened), keyName: name };
    } catch {
      return { ok: false, reason: `decrypted with key ${name} but the result is not valid UTF-8` };
    }
  }
  let reason =
    tried.length === 0
      ? 'no usable key to open it'
      : `no key of ${tried.length} opened it (tried: ${tried.join(', ')})`;
  if (skipped.length > 0) {
    reason += `; skipped ${skipped.join(', ')}: not a 16, 24 or 32-byte key`;
  }
  return { ok: false, reason };
}

/**
 * The keys in a Kubernetes Secret's `.data` (each value the Base64 of the raw
 * key bytes). A value that is not valid Base64 becomes an empty key, which
 * decryptEndpoint skips and names, rather than vanishing silently.
 */
export function keysFromSecretData(data: Record<string, string> | undefined): EndpointKey[] {
  if (!data) return [];
  return Object.entries(data)
    .map(([name, value]) => ({ name, key: decodeStrictBase64(value) ?? Buffer.alloc(0) }))
    .sort(byName);
}

/**
 * Heuristic for a warning: an endpoint without `://` that is strict Base64 of
 * at least nonce + tag + one byte is probably an encrypted endpoint whose
 * config forgot `endpointDecryptSecret`.
 */
export function looksEncrypted(endpoint: string): boolean {
  if (endpoint.includes('://')) return false;
  const bytes = decodeStrictBase64(endpoint);
  return bytes !== undefined && bytes.length >= NONCE_BYTES + TAG_BYTES + 1;
}
