// The key handling behind `topology encrypt` and `topology keygen`: a key
// file holds the raw key bytes, exactly what a Secret created with
// `kubectl create secret generic NAME --from-file=KEYNAME=PATH` stores.

import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { KEY_SIZES, encryptEndpoint } from '../crypto/aes-gcm.ts';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

const SIZES = `${KEY_SIZES.slice(0, -1).join(', ')} or ${KEY_SIZES.at(-1)}`;

/** Checks a key file's bytes; the error gives the length, never the bytes. */
export function checkKey(bytes: Buffer): Outcome<Buffer> {
  if (KEY_SIZES.includes(bytes.length)) return { ok: true, value: bytes };
  const hint = bytes.length > 32 ? ' (the file must hold the raw key, not Base64 or hex text)' : '';
  return {
    ok: false,
    error: `the key file holds ${bytes.length} bytes, not ${SIZES}${hint}`,
  };
}

/**
 * The endpoint as given on stdin: one trailing line break (what `echo` or a
 * here-string adds) is not part of it; any other whitespace is kept, and
 * refused, since a connection string never carries it.
 */
export function endpointFromStdin(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** Encrypts an endpoint for a TopologyConfig; refuses inputs no database would accept. */
export function encryptForConfig(
  key: Buffer,
  endpoint: string,
  randomBytes?: (n: number) => Buffer,
): Outcome<string> {
  if (endpoint === '') return { ok: false, error: 'the endpoint is empty' };
  if (/[\r\n]/.test(endpoint)) return { ok: false, error: 'the endpoint spans several lines' };
  if (endpoint.trim() !== endpoint) {
    return { ok: false, error: 'the endpoint starts or ends with whitespace' };
  }
  const checked = checkKey(key);
  if (!checked.ok) return checked;
  return { ok: true, value: encryptEndpoint(checked.value, endpoint, randomBytes) };
}

/** A fresh random AES key of `size` bytes (16, 24 or 32). */
export function generateKey(
  size: number,
  randomBytes: (n: number) => Buffer = cryptoRandomBytes,
): Outcome<Buffer> {
  if (!KEY_SIZES.includes(size)) {
    return { ok: false, error: `--bytes must be one of ${SIZES}` };
  }
  return { ok: true, value: randomBytes(size) };
}
