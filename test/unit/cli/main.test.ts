// The `topology` command as users run it: a child process, fixture files in a
// temp dir, exit codes and exact output lines.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import { decryptEndpoint, encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import { goFormatDurations } from '../secret-format/go-durations.ts';
import { config, topology, useTempDir } from './support.ts';

const { path, fixture } = useTempDir('topology-cli-');

describe('topology validate', () => {
  test('a valid file: exit 0 and no output', () => {
    const file = fixture(
      'valid.yaml',
      config({ name: 'shirts', namespace: 'team-a', position: 1 }) +
        '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n',
    );
    assert.deepEqual(topology(['validate', file]), { status: 0, stdout: '', stderr: '' });
  });

  test('an invalid config: exit 1, one line with the field path', () => {
    const file = fixture(
      'invalid.yaml',
      config({ name: 'bad', prefix: 'registry bad', position: 2 }),
    );
    const run = topology(['validate', file]);
    assert.equal(run.status, 1);
    assert.equal(
      run.stdout,
      `${file}: default/bad: spec.backends[0].prefix.prefix: must not contain whitespace or control characters (storage keys have none); write it relative to the registry root, as in "pods", or absolute, as in "/registry/pods/"\n`,
    );
    assert.equal(run.stderr, '');
  });

  test('two files that conflict: exit 1, the later one names the other object', () => {
    const a = fixture(
      'a.yaml',
      config({ name: 'orders', namespace: 'team-a', position: 3, backend: 'orders-db' }),
    );
    const b = fixture(
      'b.yaml',
      config({ name: 'billing', namespace: 'team-b', position: 4, backend: 'orders-db' }),
    );
    const run = topology(['validate', a, b]);
    assert.equal(run.status, 1);
    assert.equal(
      run.stdout,
      `${b}: team-b/billing: spec.backends[0].name: "orders-db" is already used by team-a/orders (position 3)\n`,
    );
  });

  test('the same key-space model as the webhook: deny list, both prefix forms, overlaps across forms', () => {
    const denied = fixture(
      'denied.yaml',
      config({ name: 'all-secrets', position: 1, prefix: 'secrets' }),
    );
    const run = topology(['validate', denied]);
    assert.equal(run.status, 1);
    assert.match(
      run.stdout,
      /^.*: default\/all-secrets: spec\.backends\[0\]\.prefix: routes the target Secret harikube\/topology-config \(e\.g\. \/registry\/secrets\/harikube\/topology-config\), .*which must stay in the main database/,
    );
    // `orders/` and `/registry/orders/` are one selector; a relative prefix inside an absolute one overlaps it.
    const a = fixture(
      'abs.yaml',
      config({ name: 'abs', position: 3, prefix: '/registry/orders/' }),
    );
    const same = fixture('rel.yaml', config({ name: 'rel', position: 4, prefix: 'orders/' }));
    assert.match(
      topology(['validate', a, same]).stdout,
      /default\/rel: spec\.backends\[0\]\.prefix: the same selector as default\/abs spec\.backends\[0\]\.prefix \(position 3\)/,
    );
    const inside = fixture(
      'inside.yaml',
      config({ name: 'inside', position: 2, prefix: 'orders/x' }),
    );
    const warned = topology(['validate', a, inside]);
    assert.equal(warned.status, 0);
    assert.match(
      warned.stdout,
      /default\/inside: warning: spec\.backends\[0\]\.prefix overlaps default\/abs spec\.backends\[0\]\.prefix \(position 3\); this config is matched first where both match/,
    );
  });

  test('files given with -f, as kubectl takes them, are judged as arguments are (and both mix)', () => {
    const a = fixture(
      'f-a.yaml',
      config({ name: 'orders', namespace: 'team-a', position: 3, backend: 'orders-db' }),
    );
    const b = fixture(
      'f-b.yaml',
      config({ name: 'billing', namespace: 'team-b', position: 4, backend: 'orders-db' }),
    );
    const asArguments = topology(['validate', a, b]);
    assert.equal(asArguments.status, 1);
    assert.deepEqual(topology(['validate', '-f', a, '--filename', b]), asArguments);
    assert.deepEqual(topology(['validate', '-f', a, b]), asArguments);
    const render = topology(['render', a]);
    assert.equal(render.status, 0);
    assert.deepEqual(topology(['render', '-f', a]), render);
  });

  test('the same object in two files is reported on the second', () => {
    const a = fixture('dup1.yaml', config({ name: 'same', position: 1 }));
    const b = fixture('dup2.yaml', config({ name: 'same', position: 2, prefix: '/other/' }));
    const run = topology(['validate', a, b]);
    assert.equal(run.status, 1);
    assert.equal(
      run.stdout.split('\n')[0],
      `${b}: default/same: metadata.name: default/same is also defined in ${a}`,
    );
  });

  test('an omitted position is defaulted as the mutating webhook would (next free one)', () => {
    const file = fixture(
      'defaults.yaml',
      config({ name: 'first', position: 7 }) + '---\n' + config({ name: 'second' }),
    );
    assert.deepEqual(topology(['validate', file]), { status: 0, stdout: '', stderr: '' });
  });

  test('warnings are printed and do not reject', () => {
    const file = fixture(
      'warn.yaml',
      config({ name: 'w', position: 1, endpoint: 'foo://somewhere' }),
    );
    const run = topology(['validate', file]);
    assert.equal(run.status, 0);
    assert.match(
      run.stdout,
      new RegExp(`^${file}: default/w: warning: spec\\.backends\\[0\\]\\.endpoint .+\\n$`),
    );
  });

  test('"-" reads stdin, named <stdin>', () => {
    const run = topology(['validate', '-'], config({ name: 'in', prefix: 'no pe' }));
    assert.equal(run.status, 1);
    assert.equal(
      run.stdout,
      '<stdin>: default/in: spec.backends[0].prefix.prefix: must not contain whitespace or control characters (storage keys have none); write it relative to the registry root, as in "pods", or absolute, as in "/registry/pods/"\n',
    );
  });

  test('an unreadable file: exit 2, nothing judged', () => {
    const missing = path('missing.yaml');
    const good = fixture('good.yaml', config({ name: 'g', position: 1 }));
    assert.deepEqual(topology(['validate', good, missing]), {
      status: 2,
      stdout: '',
      stderr: `${missing}: cannot read: no such file\n`,
    });
  });

  test('a YAML syntax error: exit 2, position only, the line (with its password) not quoted', () => {
    const file = fixture('broken.yaml', 'spec:\n  endpoint: mysql://root:hunter2@db\n bad: [\n');
    assert.deepEqual(topology(['validate', file]), {
      status: 2,
      stdout: '',
      stderr: `${file}: YAML error at line 3, column 1: BAD_INDENT\n`,
    });
  });

  const usage: [string, string[], string][] = [
    ['no FILE', ['validate'], 'topology validate: no FILE given'],
    [
      'an unknown option',
      ['validate', '--frobnicate', 'x'],
      "topology validate: Unknown option '--frobnicate'",
    ],
    ['stdin twice', ['validate', '-', '-'], 'topology validate: "-" (stdin) may be given once'],
    [
      'a bad policy pattern',
      ['validate', '--allowed-target-secrets', 'nope', 'x'],
      'topology validate: --allowed-target-secrets: "nope" is not NS/NAME or NS/*',
    ],
    ['no command', [], 'Usage: topology COMMAND [OPTIONS]'],
    ['an unknown command', ['lint'], 'topology: unknown command "lint"'],
  ];
  for (const [name, args, firstLine] of usage) {
    test(`bad usage (${name}): exit 2 with a usage message on stderr`, () => {
      const run = topology(args);
      assert.equal(run.status, 2);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.split('\n')[0], firstLine);
      assert.match(run.stderr, /Usage: topology/);
    });
  }

  test('the policy flags widen the allowed target Secrets', () => {
    const text = config({ name: 't', position: 1 }).replace(
      'spec:\n',
      'spec:\n  targetSecret: team-a/routes\n',
    );
    const file = fixture('target.yaml', text);
    const refused = topology(['validate', file]);
    assert.equal(refused.status, 1);
    assert.match(
      refused.stdout,
      /spec\.targetSecret: "team-a\/routes" is not allowed by the cluster policy/,
    );
    assert.deepEqual(topology(['validate', '--allowed-target-secrets', 'team-a/*', file]), {
      status: 0,
      stdout: '',
      stderr: '',
    });
  });
});

describe('--help', () => {
  for (const command of ['validate', 'render', 'diff', 'encrypt', 'keygen']) {
    test(`${command} --help: exit 0, usage on stdout`, () => {
      const run = topology([command, '--help']);
      assert.equal(run.status, 0);
      assert.equal(run.stdout.split('\n')[0]!.startsWith(`Usage: topology ${command}`), true);
      assert.equal(run.stderr, '');
    });
  }
  test('topology --help lists the commands', () => {
    const run = topology(['--help']);
    assert.equal(run.status, 0);
    for (const command of ['validate', 'render', 'diff', 'encrypt', 'keygen']) {
      assert.match(run.stdout, new RegExp(`^  ${command} `, 'm'));
    }
  });
});

describe('topology render', () => {
  test('prints the merged Secret, ordered by position, with Go durations', () => {
    const a = fixture('r1.yaml', config({ name: 'late', namespace: 'team-b', position: 10 }));
    const b = fixture('r2.yaml', config({ name: 'early', namespace: 'team-a', position: 2 }));
    const run = topology(['render', a, b]);
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    assert.equal(
      run.stdout,
      `apiVersion: v1
kind: Secret
metadata:
  name: topology-config
  namespace: harikube
  labels:
    app.kubernetes.io/managed-by: topology-webhook
  finalizers:
  - harikube.info/finalizer
type: Opaque
stringData:
  0000000002-team-a.early.yaml: |
    backends:
    - name: early
      endpoint: mysql://root:pw@tcp(early.db:3306)/kine
      connectionPool:
        maxIdle: 5
        maxOpen: 90
        maxLifeTime: 5m0s
      prefix:
        prefix: /registry/early/
  0000000010-team-b.late.yaml: |
    backends:
    - name: late
      endpoint: mysql://root:pw@tcp(late.db:3306)/kine
      connectionPool:
        maxIdle: 5
        maxOpen: 90
        maxLifeTime: 5m0s
      prefix:
        prefix: /registry/late/
`,
    );
  });

  test('durations beyond 2^53 - 1 ns, in YAML and in JSON files, get Go’s exact string', () => {
    const [maxGo, justAboveGo] = goFormatDurations([2n ** 63n - 1n, 2n ** 53n + 1n]);
    const yaml = fixture(
      'huge.yaml',
      config({ name: 'huge', position: 1 }).replace('300000000000', '9223372036854775807'),
    );
    const json = fixture(
      'huge.json',
      `{"apiVersion":"harikube.info/v1","kind":"TopologyConfig","metadata":{"name":"big"},"spec":{"position":2,"backends":[{"name":"big","endpoint":"sqlite:///big.db","connectionPool":{"maxIdleLifeTime":9007199254740993},"prefix":{"prefix":"big"}}]}}`,
    );
    const run = topology(['render', yaml, json]);
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    assert.match(run.stdout, new RegExp(`\n {8}maxLifeTime: ${maxGo}\n`));
    assert.match(run.stdout, new RegExp(`\n {8}maxIdleLifeTime: ${justAboveGo}\n`));

    const over = fixture(
      'over.yaml',
      config({ name: 'over', position: 1 }).replace('300000000000', '9223372036854775808'),
    );
    const refused = topology(['validate', over]);
    assert.equal(refused.status, 1);
    assert.equal(
      refused.stdout,
      `${over}: default/over: spec.backends[0].connectionPool.maxLifeTime: must be at most 9223372036854775807 nanoseconds (Go's int64 limit, 2562047h47m16.854775807s)\n`,
    );
  });

  test('one Secret per target, separated as YAML documents', () => {
    const text =
      config({ name: 'x', position: 1 }) +
      '---\n' +
      config({ name: 'y', position: 1 }).replace(
        'spec:\n',
        'spec:\n  targetSecret: team-a/routes\n',
      );
    const file = fixture('targets.yaml', text);
    const run = topology([
      'render',
      '--allowed-target-secrets',
      'harikube/topology-config,team-a/routes',
      file,
    ]);
    assert.equal(run.status, 0);
    const secrets = run.stdout.split(/^---$/m).map((doc) => parse(doc));
    assert.deepEqual(
      secrets.map((s) => [s.metadata.namespace, s.metadata.name, Object.keys(s.stringData)]),
      [
        ['harikube', 'topology-config', ['0000000001-default.x.yaml']],
        ['team-a', 'routes', ['0000000001-default.y.yaml']],
      ],
    );
  });

  test('a rejected config is left out and listed on stderr: exit 1', () => {
    const file = fixture(
      'rconflict.yaml',
      config({ name: 'one', position: 1 }) + '---\n' + config({ name: 'two', position: 1 }),
    );
    const run = topology(['render', file]);
    assert.equal(run.status, 1);
    const data = parse(run.stdout).stringData;
    assert.deepEqual(Object.keys(data), ['0000000001-default.one.yaml']);
    assert.equal(
      run.stderr,
      `${file}: default/two: spec.position: 1 is already taken by default/one (position 1) in harikube/topology-config: omit spec.position to get the next free one\n`,
    );
  });
});

describe('encrypted endpoints', () => {
  const plaintext = 'postgres://app:s3cret@pg.db:5432/kine';

  function keySecret(key: Buffer, labeled = true): string {
    return `apiVersion: v1
kind: Secret
metadata:
  name: endpoint-keys
  namespace: team-a
${labeled ? '  labels:\n    harikube.info/endpoint-keys: "true"\n' : ''}data:
  key-2025: ${key.toString('base64')}
`;
  }

  test('keygen writes a 0600 key; encrypt (argument and stdin) round-trips through decrypt', () => {
    const keyFile = path('endpoint.key');
    const made = topology(['keygen', '--out', keyFile]);
    assert.deepEqual(made, {
      status: 0,
      stdout: '',
      stderr: `wrote a 32-byte AES key to ${keyFile}\n`,
    });
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const key = readFileSync(keyFile);
    assert.equal(key.length, 32);

    for (const [args, input] of [
      [['encrypt', '--key-file', keyFile, plaintext], ''],
      [['encrypt', '--key-file', keyFile], `${plaintext}\n`],
      [['encrypt', '--key-file', keyFile, '-'], plaintext],
    ] as const) {
      const run = topology([...args], input);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stderr, '');
      assert.match(run.stdout, /^[A-Za-z0-9+/]+={0,2}\n$/);
      assert.deepEqual(decryptEndpoint(run.stdout.trimEnd(), [{ name: 'k', key }]), {
        ok: true,
        plaintext,
        keyName: 'k',
      });
    }
  });

  test('keygen never overwrites a key and takes --bytes', () => {
    const keyFile = path('k16.key');
    assert.equal(topology(['keygen', '--out', keyFile, '--bytes', '16']).status, 0);
    const before = readFileSync(keyFile);
    assert.equal(before.length, 16);
    assert.deepEqual(topology(['keygen', '--out', keyFile]), {
      status: 2,
      stdout: '',
      stderr: `${keyFile}: cannot write: already exists\n`,
    });
    assert.deepEqual(readFileSync(keyFile), before);
  });

  test('encrypt refuses a key file of the wrong size without printing it', () => {
    const keyFile = fixture('text.key', `${Buffer.alloc(32, 3).toString('base64')}\n`);
    assert.deepEqual(topology(['encrypt', '--key-file', keyFile, plaintext]), {
      status: 2,
      stdout: '',
      stderr: `${keyFile}: the key file holds 45 bytes, not 16, 24 or 32 (the file must hold the raw key, not Base64 or hex text)\n`,
    });
  });

  test('validate decrypts with a key Secret among the files; render writes the plaintext', () => {
    const key = Buffer.alloc(32, 0x42);
    const sealed = encryptEndpoint(key, plaintext);
    const keys = fixture('keys.yaml', keySecret(key));
    const cfg = fixture(
      'enc.yaml',
      config({
        name: 'enc',
        namespace: 'team-a',
        position: 1,
        endpoint: sealed,
        decryptSecret: 'team-a/endpoint-keys',
      }),
    );
    assert.deepEqual(topology(['validate', keys, cfg]), { status: 0, stdout: '', stderr: '' });
    const rendered = topology(['render', keys, cfg]);
    assert.equal(rendered.status, 0, rendered.stderr);
    const data = parse(rendered.stdout).stringData['0000000001-team-a.enc.yaml'];
    assert.equal(parse(data).backends[0].endpoint, plaintext);
  });

  test('without the key Secret, or with the wrong key, validate rejects and never prints the endpoint', () => {
    const sealed = encryptEndpoint(Buffer.alloc(32, 0x42), plaintext);
    const cfg = fixture(
      'enc2.yaml',
      config({
        name: 'enc',
        namespace: 'team-a',
        position: 1,
        endpoint: sealed,
        decryptSecret: 'team-a/endpoint-keys',
      }),
    );
    const missing = topology(['validate', cfg]);
    assert.equal(missing.status, 1);
    assert.equal(
      missing.stdout,
      `${cfg}: team-a/enc: spec.endpointDecryptSecret: Secret team-a/endpoint-keys not found (a key Secret must carry the label harikube.info/endpoint-keys=true)\n`,
    );
    const wrong = fixture('wrong-keys.yaml', keySecret(Buffer.alloc(32, 0x43)));
    const run = topology(['validate', wrong, cfg]);
    assert.equal(run.status, 1);
    assert.equal(
      run.stdout,
      `${cfg}: team-a/enc: spec.backends[0].endpoint: cannot be decrypted with the keys of Secret team-a/endpoint-keys: no key of 1 opened it (tried: key-2025)\n`,
    );
    for (const output of [missing.stdout, run.stdout]) {
      assert.ok(!output.includes(sealed) && !output.includes('s3cret'));
    }
  });
});

describe('topology validate: the tenant routing policy, as the server judges', () => {
  const grantYaml = (uid: string) => `apiVersion: harikube.info/v1
kind: TopologyRoutingGrant
metadata: {name: team-b}
spec:
  namespace: team-b
  namespaceUID: ${uid}
  prefixes: ['/registry/configmaps/<namespace>/']
  endpoints: {hosts: ['*.<namespace>.svc']}
  positions: {min: 100, max: 199}
`;
  const tenant = (prefix: string) =>
    config({
      name: 'cm',
      namespace: 'team-b',
      position: 150,
      endpoint: 'mysql://u:p@tcp(db.team-b.svc:3306)/kine',
      prefix,
    });

  test('with --platform-namespaces and no grant, a tenant namespace routes nothing', () => {
    const file = fixture('tenant.yaml', tenant('/registry/configmaps/team-b/'));
    const run = topology(['validate', '--platform-namespaces=harikube', file]);
    assert.equal(run.status, 1);
    assert.match(
      run.stdout,
      /team-b\/cm: metadata\.namespace: team-b is a tenant namespace that may route nothing/,
    );
  });

  test('grants among the inputs or from --grants are judged with; a namespace uid binds them', () => {
    const ok = fixture(
      'ok.yaml',
      grantYaml('u1') + '---\n' + tenant('/registry/configmaps/team-b/'),
    );
    assert.deepEqual(topology(['validate', ok]), { status: 0, stdout: '', stderr: '' });
    const grants = fixture('grants.yaml', grantYaml('u1'));
    const bad = fixture('bad.yaml', tenant('/registry/secrets/'));
    const refused = topology(['validate', '--grants', grants, bad]);
    assert.equal(refused.status, 1);
    assert.match(
      refused.stdout,
      /spec\.backends\[0\]\.prefix\.prefix: routes the keys under "\/registry\/secrets\/", which lie within no granted prefix/,
    );
    // The namespace among the inputs was created again (another uid): the grant does not pass to it.
    const recreated = fixture(
      'recreated.yaml',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b, uid: u2}\n---\n' +
        tenant('/registry/configmaps/team-b/'),
    );
    assert.match(
      topology(['validate', '--grants', grants, recreated]).stdout,
      /team-b is a tenant namespace that may route nothing/,
    );
  });
});
