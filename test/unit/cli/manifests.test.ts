import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocuments, readManifest } from '../../../src/cli/manifests.ts';

const config = (name: string, extra = '') => `apiVersion: harikube.info/v1
kind: TopologyConfig
metadata:
  name: ${name}
${extra}spec:
  position: 1
  backends:
  - name: b
    endpoint: sqlite://x
    prefix:
      prefix: /registry/x
`;

describe('parseDocuments', () => {
  const cases: { name: string; text: string; documents: unknown[] }[] = [
    { name: 'empty file', text: '', documents: [] },
    { name: 'only a comment', text: '# nothing\n', documents: [] },
    { name: 'two documents', text: 'a: 1\n---\nb: [x]\n', documents: [{ a: 1 }, { b: ['x'] }] },
    { name: 'JSON', text: '{"a": {"b": [1, "2"]}}', documents: [{ a: { b: [1, '2'] } }] },
    {
      name: 'shared alias',
      text: 'a: &x {k: 1}\nb: *x\n',
      documents: [{ a: { k: 1 }, b: { k: 1 } }],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(parseDocuments(c.text), { ok: true, documents: c.documents });
    });
  }

  const errors: { name: string; text: string; error: string }[] = [
    {
      name: 'a syntax error names line and column, never the source line',
      text: 'spec:\n  endpoint: mysql://root:hunter2@db\n bad: [\n',
      error: 'YAML error at line 3, column 1: BAD_INDENT',
    },
    {
      name: 'duplicate keys',
      text: 'a: 1\na: 2\n',
      error: 'YAML error at line 2, column 1: DUPLICATE_KEY',
    },
    {
      name: 'an alias inside its own anchor',
      text: 'ok: 1\n---\na: &x [*x]\n',
      error: 'YAML error in document 2: an alias refers to itself',
    },
    {
      name: 'nesting deeper than the webhook accepts',
      text: `spec: ${'['.repeat(64)}${']'.repeat(64)}\n`,
      error: 'YAML error in document 1: nests deeper than 64 levels',
    },
  ];
  for (const c of errors) {
    test(`fails: ${c.name}`, () => {
      const result = parseDocuments(c.text);
      assert.deepEqual(result, { ok: false, error: c.error });
    });
  }

  test('integers beyond 2^53 - 1 arrive exact (bigint), as the webhook reads them; others as numbers', () => {
    const result = parseDocuments(
      'd: 9223372036854775807\ne: [9007199254740993, 9007199254740991, 0x10, 1.5]\nf: -9007199254740993\n',
    );
    assert.deepStrictEqual(result, {
      ok: true,
      documents: [
        {
          d: 9223372036854775807n,
          e: [9007199254740993n, 9007199254740991, 16, 1.5],
          f: -9007199254740993n,
        },
      ],
    });
  });
});

describe('readManifest', () => {
  test('keeps TopologyConfigs in order, defaults the namespace, ignores other kinds', () => {
    const text = [
      config('one'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
      config('two', '  namespace: team-b\n'),
    ].join('---\n');
    const result = readManifest('f.yaml', text);
    assert.ok(result.ok);
    assert.deepEqual(
      result.configs.map((c) => [c.file, c.index, c.namespace, c.name]),
      [
        ['f.yaml', 0, 'default', 'one'],
        ['f.yaml', 2, 'team-b', 'two'],
      ],
    );
    assert.deepEqual(result.configs[0]!.object.metadata, { name: 'one', namespace: 'default' });
    assert.deepEqual(result.secrets, []);
  });

  test('expands kind: List items', () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'harikube.info/v1', kind: 'TopologyConfig', metadata: { name: 'a' } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } },
      ],
    });
    const result = readManifest('l.json', text);
    assert.ok(result.ok);
    assert.deepEqual(
      result.configs.map((c) => c.name),
      ['a'],
    );
  });

  test('another version of the group is kept (the rules refuse it); other groups are not', () => {
    const text = [
      'apiVersion: harikube.info/v2\nkind: TopologyConfig\nmetadata: {name: v2}\n',
      'apiVersion: example.com/v1\nkind: TopologyConfig\nmetadata: {name: other}\n',
    ].join('---\n');
    const result = readManifest('v.yaml', text);
    assert.ok(result.ok);
    assert.deepEqual(
      result.configs.map((c) => c.name),
      ['v2'],
    );
  });

  test('Secrets become key sources: data is Base64, stringData raw, the label is noted', () => {
    const raw = Buffer.alloc(16, 0x61); // 16 × "a"
    const text = `apiVersion: v1
kind: Secret
metadata:
  name: keys
  namespace: team-a
  labels:
    harikube.info/endpoint-keys: "true"
data:
  k2: ${Buffer.alloc(32, 1).toString('base64')}
stringData:
  k1: ${raw.toString('utf8')}
---
apiVersion: v1
kind: Secret
metadata:
  name: unlabeled
`;
    const result = readManifest('s.yaml', text);
    assert.ok(result.ok);
    assert.deepEqual(result.secrets, [
      {
        file: 's.yaml',
        namespace: 'team-a',
        name: 'keys',
        keys: [
          { name: 'k1', key: raw },
          { name: 'k2', key: Buffer.alloc(32, 1) },
        ],
        labeled: true,
        // Kept whole too, for `topology adopt -f` (stringData merged over data, as Base64).
        labels: { 'harikube.info/endpoint-keys': 'true' },
        data: { k2: Buffer.alloc(32, 1).toString('base64'), k1: raw.toString('base64') },
      },
      {
        file: 's.yaml',
        namespace: 'default',
        name: 'unlabeled',
        keys: [],
        labeled: false,
        labels: {},
        data: {},
      },
    ]);
  });
});
