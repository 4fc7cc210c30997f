// The folders of src/ form layers; a module imports only from its own folder
// or from a lower layer. Read from the files themselves, so a new upward
// import fails here before it tangles the layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = join(import.meta.dirname, '../../src');

/** Lower numbers are lower layers; folders on one level must not import each other. */
const LAYER: Record<string, number> = {
  resource: 0,
  time: 0,
  runtime: 0,
  crypto: 0,
  'secret-format': 1,
  rules: 2,
  admission: 3,
  flags: 3,
  reconcile: 4,
  kube: 5,
  tls: 6,
  server: 7,
  cli: 8,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** `file -> folder` for every import of another folder of src/. */
function crossFolderImports(): string[] {
  const edges: string[] = [];
  for (const path of sourceFiles(SRC)) {
    const file = relative(SRC, path);
    const from = file.split('/')[0]!;
    const text = readFileSync(path, 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*'(\.\.?\/[^']+)'/g)) {
      const target = relative(SRC, join(path, '..', m[1]!));
      const to = target.split('/')[0]!;
      if (to !== from && !to.startsWith('..')) edges.push(`${file} -> ${to}`);
    }
  }
  return [...new Set(edges)];
}

test('every folder of src/ has a layer', () => {
  const folders = readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((f) => !(f in LAYER)),
    [],
  );
});

test('no module imports from its own layer or above it', () => {
  const upward = crossFolderImports().filter((edge) => {
    const [file, to] = edge.split(' -> ') as [string, string];
    return LAYER[to]! >= LAYER[file.split('/')[0]!]!;
  });
  assert.deepEqual(upward, []);
});
