import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { REDACTED, createLogger, flushLogger } from '../../../src/server/logger.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('writes one JSON object per line with a level name and an ISO time', () => {
  const out = capture();
  const logger = createLogger('info', out.stream, { base: { pod: 'p-1' } });
  logger.info({ uid: 'abc', decision: 'allowed' }, 'admission');
  const [line] = out.lines();
  assert.equal(line?.level, 'info');
  assert.equal(line?.msg, 'admission');
  assert.equal(line?.uid, 'abc');
  assert.equal(line?.pod, 'p-1');
  assert.match(String(line?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('respects the level', () => {
  const out = capture();
  const logger = createLogger('warn', out.stream);
  logger.info('hidden');
  logger.warn('shown');
  assert.deepEqual(
    out.lines().map((l) => l.msg),
    ['shown'],
  );
});

test('redacts endpoints, keys, tokens, authorization headers and CA bundles at any depth', () => {
  const out = capture();
  const logger = createLogger('info', out.stream);
  const endpoint = 'mysql://root:passwd@tcp(db:3306)/kine';
  logger.info(
    {
      endpoint,
      backend: { name: 'orders', endpoint },
      spec: { backends: [{ name: 'a', endpoint }] },
      req: { headers: { authorization: 'Bearer abc.def', host: 'x' } },
      token: 'eyJhbGciOi',
      review: { spec: { token: 'eyJhbGciOi' } },
      secret: { data: { k1: 'c2VjcmV0' }, keys: ['AAAA'] },
      webhook: { clientConfig: { caBundle: 'LS0tLS1' } },
      tls: { keyPem: '-----BEGIN PRIVATE KEY-----' },
      key: 'harikube/topology-config',
    },
    'event',
  );
  const raw = JSON.stringify(out.lines());
  for (const secret of [
    endpoint,
    'abc.def',
    'eyJhbGciOi',
    'c2VjcmV0',
    'AAAA',
    'LS0tLS1',
    'BEGIN PRIVATE KEY',
  ]) {
    assert.ok(!raw.includes(secret), `log line leaks ${secret}: ${raw}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- reading back arbitrary JSON
  const [line] = out.lines() as any[];
  assert.equal(line?.endpoint, REDACTED);
  assert.equal(line?.backend.endpoint, REDACTED);
  assert.equal(line?.backend.name, 'orders');
  assert.equal(line?.spec.backends[0].endpoint, REDACTED);
  assert.equal(line?.req.headers.authorization, REDACTED);
  assert.equal(line?.req.headers.host, 'x');
  // A work-queue key is not a secret and stays readable.
  assert.equal(line?.key, 'harikube/topology-config');
});

test('flushLogger waits until an asynchronous destination has written every line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'h5-logger-'));
  try {
    const file = join(dir, 'log.jsonl');
    const logger = createLogger('info', pino.destination({ dest: file, sync: false }));
    for (let i = 0; i < 2000; i++) logger.info({ i }, 'line');
    await flushLogger(logger);
    const count = (): number =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '').length;
    assert.equal(count(), 2000);
    // Again, now that the file is open and writes go straight to it.
    for (let i = 0; i < 2000; i++) logger.info({ i }, 'line');
    await flushLogger(logger);
    assert.equal(count(), 4000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
