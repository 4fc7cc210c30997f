import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderEntry, secretKeyFor } from '../../../src/secret-format/entry.ts';
import { entrySize } from '../../../src/secret-format/size.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { validateCreate, validateUpdate } from '../../../src/rules/index.ts';
import { assertErrors, backend, config, policy } from './fixtures.ts';

const first = config({ name: 'first', position: 1, backends: [backend('first-db')] });
const second = config({ name: 'second', position: 2, backends: [backend('second-db')] });
const sizeOf = (c: typeof first) =>
  entrySize(
    secretKeyFor(c),
    renderEntry(
      c,
      c.spec.backends.map((b) => b.endpoint),
    ),
  );

describe('merged Secret size', () => {
  const index = new ConfigIndex();
  index.upsert(first);
  const both = sizeOf(first) + sizeOf(second);

  test('the index counts key and value bytes of every entry', () => {
    assert.equal(index.targetBytes(first.spec.targetSecret), sizeOf(first));
    assert.equal(index.entryBytes('team-a', 'first'), sizeOf(first));
  });

  test('a config that fits exactly is accepted', () => {
    assert.deepEqual(validateCreate(second, index, { ...policy, maxSecretBytes: both }).errors, []);
  });

  test('a config that would push the Secret over the limit is refused with the numbers', () => {
    assertErrors(validateCreate(second, index, { ...policy, maxSecretBytes: both - 1 }).errors, [
      {
        type: 'TooLong',
        field: 'spec.backends',
        detail: `the merged Secret harikube/topology-config would hold ${both} bytes of data, over the limit of ${both - 1} (this config's entry is ${sizeOf(second)} bytes)`,
      },
    ]);
  });

  test('an UPDATE replaces its own old entry instead of adding to it', () => {
    const grown = structuredClone(first);
    grown.spec.backends.push(backend('first-extra'));
    const limit = sizeOf(grown);
    assert.deepEqual(
      validateUpdate(grown, first, index, { ...policy, maxSecretBytes: limit }).errors,
      [],
    );
    assert.equal(
      validateUpdate(grown, first, index, { ...policy, maxSecretBytes: limit - 1 }).errors.length,
      1,
    );
  });
});
