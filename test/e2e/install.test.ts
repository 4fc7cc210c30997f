// The offline command as a new user gets it: a fresh clone, the README's
// commands verbatim (npm ci, npx, npm pack, npm install -g, the kubectl
// plugin), then the installed package on the machine's own older Node.
//
// The clone is of HEAD: uncommitted changes are not in it (CI runs on a
// clean clone, where HEAD is the tree). npm reads packages from its local
// cache first (--prefer-offline), so only a cold cache reaches the registry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NODE24_DIR = dirname(process.execPath);

// The user's own PATH: npm scripts put node_modules/.bin (and Node 24) first.
const USER_PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.includes('node_modules'))
  .join(delimiter);

let dir = '';
let clone = '';
let prefix = '';

function sh(
  command: string,
  path: string,
  timeout = 240_000,
): SpawnSyncReturns<string> & { output: string } {
  const result = spawnSync('sh', ['-c', command], {
    cwd: clone,
    encoding: 'utf8',
    timeout,
    env: {
      ...process.env,
      PATH: path,
      // `npm install -g` from the README lands in the temporary prefix.
      npm_config_prefix: prefix,
      npm_config_prefer_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
  });
  return Object.assign(result, { output: `${result.stdout}${result.stderr}` });
}

/** The ```sh blocks of a README section, one command per line, with the exit status a `# exit N` comment promises. */
function readmeCommands(section: string): Array<{ command: string; exit: number }> {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${section}\n`);
  assert.notEqual(start, -1, `README has a section "${section}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const body = readme.slice(start, end === -1 ? undefined : end);
  const blocks = [...body.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .flatMap((block) => block.split('\n'))
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map((line) => {
      const [command, comment = ''] = line.split(/\s+#\s/, 2);
      return { command: command!.trim(), exit: Number(/\bexit (\d)/.exec(comment)?.[1] ?? 0) };
    });
}

/** Removes npx's cache entries for the clone (npx installs a local package there to run its bins). */
function removeNpxEntries(): void {
  const cache = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
  const npx = join(cache, '_npx');
  if (!cache || !existsSync(npx)) return;
  for (const entry of readdirSync(npx)) {
    const manifest = join(npx, entry, 'package.json');
    if (existsSync(manifest) && readFileSync(manifest, 'utf8').includes(clone)) {
      rmSync(join(npx, entry), { recursive: true, force: true });
    }
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'topology-install-'));
  clone = join(dir, 'clone');
  prefix = join(dir, 'prefix');
  const cloned = spawnSync('git', ['clone', '--quiet', REPO, clone], { encoding: 'utf8' });
  assert.equal(cloned.status, 0, cloned.stderr);
});
after(() => {
  if (clone) removeNpxEntries();
  rmSync(dir, { recursive: true, force: true });
});

describe('the offline command, installed as the README says', { timeout: 900_000 }, () => {
  const withInstall = () => [join(prefix, 'bin'), NODE24_DIR, USER_PATH].join(delimiter);

  test('every command of "The offline command" works verbatim in a fresh clone', () => {
    const commands = readmeCommands('The offline command');
    assert.ok(commands.some((c) => c.command.startsWith('npm pack')));
    for (const { command, exit } of commands) {
      const run = sh(command, withInstall());
      assert.equal(run.status, exit, `${command}\n${run.output}`);
    }
    // What the install put on PATH, and what it runs.
    const invalid = sh(
      'topology validate deploy/examples/valid.yaml deploy/examples/invalid.yaml',
      withInstall(),
    );
    assert.equal(invalid.status, 1);
    assert.match(
      invalid.stdout,
      /^deploy\/examples\/invalid\.yaml: default\/shirts-archive: spec\.backends\[0\]\.name: "shirts" is already used by default\/shirts/m,
    );
    const plugin = sh('kubectl plugin list', withInstall());
    assert.match(plugin.stdout, /\/kubectl-topology$/m, plugin.output);
  });

  test("npx on the machine's own Node prints no engine warnings, only the verdict", () => {
    const run = sh('npx topology validate deploy/examples/invalid.yaml', USER_PATH);
    assert.equal(run.status, 1, run.output);
    assert.equal(run.stderr, '');
    assert.doesNotMatch(run.output, /EBADENGINE/);
  });

  test('the installed command on a Node older than 24: one line, exit 2, no stack trace', () => {
    const path = [join(prefix, 'bin'), USER_PATH].join(delimiter);
    const version = sh('node --version', path).stdout.trim();
    const major = Number(/^v(\d+)/.exec(version)?.[1]);
    for (const command of [
      'topology validate deploy/examples/valid.yaml',
      'kubectl topology --help',
    ]) {
      const run = sh(command, path);
      if (major >= 24) {
        // A machine whose own Node is new enough: the command simply works.
        assert.equal(run.status, 0, run.output);
        continue;
      }
      assert.equal(run.status, 2, run.output);
      assert.equal(run.stdout, '');
      assert.match(
        run.stderr,
        new RegExp(
          `^topology: needs Node\\.js 24 or newer, but \\S+ is Node\\.js ${version.slice(1)}\\n$`,
        ),
      );
    }
  });
});
