import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { REDACTED, createLogger, flushLogger, isoTimestamp } from '../../../src/server/logger.ts';

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

test('the cached timestamp writes what pino.stdTimeFunctions.isoTime writes, at every millisecond', () => {
  let now = 0;
  const stamp = isoTimestamp(() => now);
  // Sequences of instants (forwards, backwards, within and across seconds) up to year 9999.
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), {
        minLength: 1,
        maxLength: 20,
      }),
      fc.integer({ min: 0, max: 2500 }),
      (instants, step) => {
        for (const instant of instants) {
          for (const t of [instant, instant + step]) {
            now = t;
            assert.equal(stamp(), `,"time":"${new Date(t).toISOString()}"`);
          }
        }
      },
    ),
  );
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(line) });
  const before = Date.now();
  logger.info('hello');
  const time = Date.parse(JSON.parse(lines[0]!).time);
  assert.ok(time >= before && time <= Date.now(), `time ${time} is now`);
});
