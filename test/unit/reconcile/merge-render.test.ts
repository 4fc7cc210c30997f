import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { entryBackends, renderEntry, secretKeyFor } from '../../../src/secret-format/entry.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { backend, config } from '../rules/fixtures.ts';

const endpoints = (c: TopologyConfig) => c.spec.backends.map((b) => b.endpoint);

describe('render: one config entry of the merged Secret', () => {
  test('the SPEC example, byte for byte (field order as the middleware expects)', () => {
    const c = config({
      namespace: 'shop',
      name: 'shirts',
      backends: [
        {
          // Deliberately out of order: the output order is the renderer's, not the input's.
          customresource: { kind: 'shirts', group: 'stable.example.com' },
          connectionPool: {
            maxIdleLifeTime: 300000000000,
            maxLifeTime: 300000000000,
            maxOpen: 90,
            maxIdle: 5,
          },
          endpoint: 'mysql://root:passwd@tcp(mysql.db:3306)/kine_db',
          name: 'shirts',
        },
      ],
    });
    assert.equal(
      renderEntry(c, endpoints(c)),
      [
        'backends:',
        '- name: shirts',
        '  endpoint: mysql://root:passwd@tcp(mysql.db:3306)/kine_db',
        '  connectionPool:',
        '    maxIdle: 5',
        '    maxOpen: 90',
        '    maxLifeTime: 5m0s',
        '    maxIdleLifeTime: 5m0s',
        '  customresource:',
        '    group: stable.example.com',
        '    kind: shirts',
        '',
      ].join('\n'),
    );
  });

  test('every field, in order; empty kinds as []; durations as Go writes them', () => {
    const c = config({
      backends: [
        {
          regexp: { key: '^/registry/roles/.*', prefix: '(roles|rolebindings)' },
          prefix: { prefix: '/registry/pods/' },
          namespace: { namespace: 'kube-system' },
          customresource: { group: 'g.io' },
          connectionPool: { maxLifeTime: 1500000000, maxIdleLifeTime: 0 },
          backendTLS: { skipVerify: true, keyFile: '/k', certFile: '/c', caFile: '/ca' },
          endpoint: 'https://etcd:2379',
          name: 'all',
        },
        {
          name: 'ns',
          endpoint: 'sqlite://./db/x.db?_journal=WAL',
          namespace: { namespace: 'shop', kinds: ['pods', 'secrets'] },
          connectionPool: { maxLifeTime: 3_600_000_000_000 },
        },
      ],
    });
    assert.equal(
      renderEntry(c, endpoints(c)),
      [
        'backends:',
        '- name: all',
        '  endpoint: https://etcd:2379',
        '  backendTLS:',
        '    caFile: /ca',
        '    certFile: /c',
        '    keyFile: /k',
        '    skipVerify: true',
        '  connectionPool:',
        '    maxLifeTime: 1.5s',
        '    maxIdleLifeTime: 0s',
        '  customresource:',
        '    group: g.io',
        '  namespace:',
        '    namespace: kube-system',
        '    kinds: []',
        '  prefix:',
        '    prefix: /registry/pods/',
        '  regexp:',
        '    prefix: (roles|rolebindings)',
        '    key: ^/registry/roles/.*',
        '- name: ns',
        '  endpoint: sqlite://./db/x.db?_journal=WAL',
        '  connectionPool:',
        '    maxLifeTime: 1h0m0s',
        '  namespace:',
        '    namespace: shop',
        '    kinds:',
        '    - pods',
        '    - secrets',
        '',
      ].join('\n'),
    );
  });

  test('the decrypted endpoint is written, not the ciphertext', () => {
    const c = config({ backends: [backend('a', { endpoint: 'Q0lQSEVSVEVYVA==' })] });
    assert.match(renderEntry(c, ['mysql://plain/a']), /endpoint: mysql:\/\/plain\/a\n/);
  });

  test('values YAML 1.1 would read as booleans or numbers stay strings', () => {
    const c = config({
      backends: [
        backend('a', { prefix: undefined, namespace: { namespace: 'on', kinds: ['yes', '012'] } }),
      ],
    });
    assert.match(
      renderEntry(c, endpoints(c)),
      /namespace: "on"\n {4}kinds:\n {4}- "yes"\n {4}- "012"\n/,
    );
  });

  test('every string reads back as that string under YAML 1.2 and 1.1 (0o17 is quoted)', () => {
    const c = config({
      backends: [
        backend('0o17', {
          prefix: undefined,
          namespace: { namespace: 'ns-0o7', kinds: ['0o17', '0o0', 'pods'] },
        }),
      ],
    });
    const yaml = renderEntry(c, endpoints(c));
    assert.match(yaml, /name: "0o17"\n/);
    assert.match(yaml, /kinds:\n {4}- "0o17"\n {4}- "0o0"\n {4}- pods\n/);
    const written = { backends: entryBackends(c, endpoints(c)) };
    assert.deepEqual(parse(yaml), written);
    assert.deepEqual(parse(yaml, { version: '1.1' }), written);
  });

  test('property: any string value reads back as itself under YAML 1.2 and 1.1', () => {
    // Biased towards what YAML's number, boolean and null forms start with.
    const scalarish = fc
      .tuple(
        fc.constantFrom('', '0o', '0x', '0b', '0', '+', '-', '.', '~', 'y', 'o', 'n', 't', 'f'),
        fc.stringMatching(/^[0-9a-fA-FoxXeEsnulr_.:+ -]{0,6}$/),
      )
      .map(([start, rest]) => start + rest)
      .filter((value) => value.length > 0);
    fc.assert(
      fc.property(scalarish, (value) => {
        const c = config({
          backends: [
            backend('a', { prefix: undefined, namespace: { namespace: 'n', kinds: [value] } }),
          ],
        });
        const yaml = renderEntry(c, endpoints(c));
        const kinds = (doc: unknown) =>
          (doc as { backends: Array<{ namespace: { kinds: unknown[] } }> }).backends[0]!.namespace
            .kinds;
        assert.deepEqual(kinds(parse(yaml)), [value]);
        assert.deepEqual(kinds(parse(yaml, { version: '1.1' })), [value]);
      }),
      { numRuns: 2000 },
    );
  });

  test('the key pads the position to 10 digits and includes the namespace', () => {
    assert.equal(
      secretKeyFor(config({ namespace: 'team-a', name: 'orders', position: 2 })),
      '0000000002-team-a.orders.yaml',
    );
    assert.equal(
      secretKeyFor(config({ namespace: 'n', name: 'x', position: 2147483647 })),
      '2147483647-n.x.yaml',
    );
  });
});
