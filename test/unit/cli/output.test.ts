// `topology validate -o json|junit` and --warnings-as-errors, as a CI job
// reads them: the JSON by its documented shape, the JUnit XML through a
// conforming XML parser (saxes), never by string matching.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SaxesParser } from 'saxes';
import { config, topology, useTempDir } from './support.ts';

const { fixture } = useTempDir('topology-output-');
const REPO = fileURLToPath(new URL('../../..', import.meta.url));

interface Element {
  name: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
}

/** Parses XML into elements; throws on anything not well-formed. */
function parseXml(xml: string): Element {
  const parser = new SaxesParser();
  const root: Element = { name: '', attributes: {}, children: [], text: '' };
  const stack = [root];
  parser.on('error', (error) => {
    throw error;
  });
  parser.on('opentag', (tag) => {
    const element: Element = {
      name: tag.name,
      attributes: { ...(tag.attributes as Record<string, string>) },
      children: [],
      text: '',
    };
    stack.at(-1)!.children.push(element);
    stack.push(element);
  });
  parser.on('text', (text) => (stack.at(-1)!.text += text));
  parser.on('closetag', () => stack.pop());
  parser.write(xml).close();
  assert.equal(root.children.length, 1);
  return root.children[0]!;
}

const children = (e: Element, name: string) => e.children.filter((c) => c.name === name);

// a.yaml: one valid config and one with two errors; b.yaml: a warning only;
// c.yaml: no TopologyConfig at all.
function files() {
  const a = fixture(
    'a.yaml',
    config({ name: 'good', position: 1 }) +
      '---\n' +
      config({ name: 'bad', position: 2, prefix: 'no slash', backend: 'good' }),
  );
  const b = fixture('b.yaml', config({ name: 'w', position: 3, endpoint: 'foo://somewhere' }));
  const c = fixture('c.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n');
  return { a, b, c };
}

describe('-o json', () => {
  test('per file and object: verdict, errors (field, type, reason), warnings', () => {
    const { a, b, c } = files();
    const run = topology(['validate', '-o', 'json', a, b, c]);
    assert.equal(run.status, 1);
    assert.equal(run.stderr, '');
    const report = JSON.parse(run.stdout);
    const warning = report.files[1].objects[0].warnings[0];
    assert.match(warning, /^spec\.backends\[0\]\.endpoint /);
    assert.deepEqual(report, {
      apiVersion: 'harikube.info/v1',
      kind: 'TopologyValidationReport',
      passed: false,
      summary: { files: 3, objects: 3, rejected: 1, warnings: 1 },
      files: [
        {
          file: a,
          objects: [
            {
              kind: 'TopologyConfig',
              namespace: 'default',
              name: 'good',
              index: 0,
              verdict: 'accepted',
              errors: [],
              warnings: [],
            },
            {
              kind: 'TopologyConfig',
              namespace: 'default',
              name: 'bad',
              index: 1,
              verdict: 'rejected',
              errors: [
                {
                  field: 'spec.backends[0].prefix.prefix',
                  type: 'Invalid',
                  reason:
                    'must not contain whitespace or control characters (storage keys have none); write it relative to the registry root, as in "pods", or absolute, as in "/registry/pods/"',
                },
                {
                  field: 'spec.backends[0].name',
                  type: 'Duplicate',
                  reason: '"good" is already used by default/good (position 1)',
                },
              ],
              warnings: [],
            },
          ],
        },
        {
          file: b,
          objects: [
            {
              kind: 'TopologyConfig',
              namespace: 'default',
              name: 'w',
              index: 0,
              verdict: 'accepted',
              errors: [],
              warnings: [warning],
            },
          ],
        },
        { file: c, objects: [] },
      ],
    });
  });

  test('all accepted: exit 0, passed; --warnings-as-errors: exit 1, not passed', () => {
    const { b } = files();
    const plain = topology(['validate', '--output=json', b]);
    assert.equal(plain.status, 0);
    assert.equal(JSON.parse(plain.stdout).passed, true);
    const strict = topology(['validate', '-o', 'json', '--warnings-as-errors', b]);
    assert.equal(strict.status, 1);
    assert.equal(JSON.parse(strict.stdout).passed, false);
  });

  test('unreadable input: exit 2, nothing on stdout', () => {
    const run = topology(['validate', '-o', 'json', '/nonexistent/x.yaml']);
    assert.deepEqual(run, {
      status: 2,
      stdout: '',
      stderr: '/nonexistent/x.yaml: cannot read: no such file\n',
    });
  });
});

describe('-o junit', () => {
  test('a suite per file, a test case per object, a failure per error', () => {
    const { a, b, c } = files();
    const run = topology(['validate', '-o', 'junit', a, b, c]);
    assert.equal(run.status, 1);
    const suites = parseXml(run.stdout);
    assert.equal(suites.name, 'testsuites');
    assert.deepEqual(
      { tests: suites.attributes.tests, failures: suites.attributes.failures },
      { tests: '3', failures: '2' },
    );
    const [sa, sb, sc] = children(suites, 'testsuite');
    assert.deepEqual(
      [sa, sb, sc].map((s) => [s!.attributes.name, s!.attributes.tests, s!.attributes.failures]),
      [
        [a, '2', '2'],
        [b, '1', '0'],
        [c, '0', '0'],
      ],
    );
    const [good, bad] = children(sa!, 'testcase');
    assert.deepEqual(good, {
      name: 'testcase',
      attributes: { classname: a, name: 'TopologyConfig default/good' },
      children: [],
      text: '',
    });
    assert.deepEqual(
      children(bad!, 'failure').map((f) => [f.attributes.type, f.attributes.message, f.text]),
      [
        [
          'Invalid',
          'spec.backends[0].prefix.prefix: must not contain whitespace or control characters (storage keys have none); write it relative to the registry root, as in "pods", or absolute, as in "/registry/pods/"',
          'spec.backends[0].prefix.prefix: must not contain whitespace or control characters (storage keys have none); write it relative to the registry root, as in "pods", or absolute, as in "/registry/pods/"',
        ],
        [
          'Duplicate',
          'spec.backends[0].name: "good" is already used by default/good (position 1)',
          'spec.backends[0].name: "good" is already used by default/good (position 1)',
        ],
      ],
    );
    // A warning is shown, not failed...
    const [warned] = children(sb!, 'testcase');
    assert.deepEqual(children(warned!, 'failure'), []);
    assert.match(
      children(warned!, 'system-out')[0]!.text,
      /^warning: spec\.backends\[0\]\.endpoint /,
    );
    // ...unless warnings are errors.
    const strict = topology(['validate', '-o', 'junit', '--warnings-as-errors', b]);
    assert.equal(strict.status, 1);
    const [failure] = children(
      children(children(parseXml(strict.stdout), 'testsuite')[0]!, 'testcase')[0]!,
      'failure',
    );
    assert.equal(failure!.attributes.type, 'Warning');
  });

  test('names with XML metacharacters and control characters stay well-formed', () => {
    // The object's name is printed as written: here with a control character, which XML 1.0 cannot carry.
    const file = fixture(
      'x<&>"\'.yaml',
      config({ name: 'x', position: 1, prefix: 'a b' }).replace(
        'name: x\n',
        'name: "x\\u0001<&>"\n',
      ),
    );
    const run = topology(['validate', '-o', 'junit', file]);
    assert.equal(run.status, 1);
    const suite = children(parseXml(run.stdout), 'testsuite')[0]!;
    assert.equal(suite.attributes.name, file);
    const [testcase] = children(suite, 'testcase');
    assert.equal(testcase!.attributes.name, 'TopologyConfig default/x\uFFFD<&>');
    assert.equal(
      children(testcase!, 'failure')[0]!.attributes.message,
      'spec.backends[0].prefix.prefix: must not contain whitespace or control characters (storage keys have none); write it relative to the registry root, as in "pods", or absolute, as in "/registry/pods/"',
    );
  });
});

test('an unknown -o format is bad usage: exit 2', () => {
  const run = topology(['validate', '-o', 'yaml', 'x.yaml']);
  assert.equal(run.status, 2);
  assert.equal(run.stdout, '');
  assert.equal(
    run.stderr.split('\n')[0],
    'topology validate: --output: "yaml" is not one of text, json, junit',
  );
});

test("the README's JSON example is what the command prints", () => {
  const readme = readFileSync(
    fileURLToPath(new URL('../../../README.md', import.meta.url)),
    'utf8',
  );
  const match = /`topology (validate -o json [^`]+)` prints:\n\n```json\n([\s\S]*?)```/.exec(
    readme,
  );
  assert.ok(match, 'README shows a -o json example');
  const run = topology(match[1]!.split(' '), undefined, REPO);
  assert.equal(run.status, 1);
  assert.deepEqual(JSON.parse(run.stdout), JSON.parse(match[2]!));
});
