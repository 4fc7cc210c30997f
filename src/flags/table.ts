// Command-line flags as data: each flag owns its type, default, environment
// fallback, help text and parser, so reading argv, filling defaults and
// printing --help all follow one table. Parsing is pure: argv and env are
// passed in. Checks that involve several flags belong to whoever owns the
// table (server/config.ts), not to a flag's parser.

import { parseArgs } from 'node:util';

/** Reports a problem with this flag's value; the flag name is put in front. */
export type Problem = (text: string) => void;

interface FlagBase {
  /** Placeholder in --help, e.g. ADDR. */
  value?: string;
  /** Environment variable read when the flag is absent (an empty one counts as unset). */
  env?: string;
  help: string;
}

export interface StringFlag<T> extends FlagBase {
  type: 'string';
  multiple?: false;
  default?: string;
  /** `text`: the flag, else the environment variable, else the default; undefined when none is set. */
  parse(text: string | undefined, problem: Problem): T;
}

export interface ListFlag<T> extends FlagBase {
  type: 'string';
  multiple: true;
  /** Comma-separated, as on the command line. */
  default?: string;
  /** Every comma-separated item of every occurrence, trimmed, empty ones dropped. */
  parse(items: string[], problem: Problem): T;
}

export interface BooleanFlag extends FlagBase {
  type: 'boolean';
  default?: boolean;
}

export type Flag = StringFlag<unknown> | ListFlag<unknown> | BooleanFlag;
export type FlagTable = Record<string, Flag>;

/** The parsed value of each flag of a table. */
export type FlagValues<T extends FlagTable> = {
  [K in keyof T]: T[K] extends BooleanFlag
    ? boolean
    : T[K] extends StringFlag<infer V>
      ? V
      : T[K] extends ListFlag<infer V>
        ? V
        : never;
};

/** argv that node's parser refuses (an unknown flag, a value for a boolean, …). */
export class FlagSyntaxError extends Error {
  override name = 'FlagSyntaxError';
}

export type RawValues = Record<string, string | boolean | string[] | undefined>;

// Go's flag package accepts `--flag=true|false` for booleans; node's parseArgs
// does not, and manifests written for Go operators use both forms.
function normalizeBooleans(table: FlagTable, argv: readonly string[]): string[] {
  return argv.map((arg) => {
    const m = /^--([a-z0-9-]+)=(true|false)$/.exec(arg);
    if (!m || table[m[1]!]?.type !== 'boolean') return arg;
    return m[2] === 'true' ? `--${m[1]}` : `--no-${m[1]}`;
  });
}

/** The options of node's parseArgs for the flags of `table`. */
export function parseArgsOptions(
  table: FlagTable,
): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  return Object.fromEntries(
    Object.entries(table).map(([name, flag]) => [
      name,
      flag.type === 'string' && flag.multiple
        ? { type: flag.type, multiple: true }
        : { type: flag.type },
    ]),
  );
}

/** What argv says, flag by flag, without defaults. */
export function readArgv(table: FlagTable, argv: readonly string[]): RawValues {
  try {
    const { values } = parseArgs({
      args: normalizeBooleans(table, argv),
      options: parseArgsOptions(table),
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    });
    return values as RawValues;
  } catch (err) {
    // parseArgs' messages name the flag and the problem; drop its hint about "--" to keep it short.
    const message = err instanceof Error ? err.message.split('. To specify')[0]! : String(err);
    throw new FlagSyntaxError(message);
  }
}

export function splitList(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * Each flag's value from `raw` (what the command line said), else its
 * environment variable, else its default, through its parser. Every problem
 * is collected, so the operator fixes them in one go.
 */
export function flagValues<T extends FlagTable>(
  table: T,
  raw: RawValues,
  env: Record<string, string | undefined>,
): { values: FlagValues<T>; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(table)) {
    const problem: Problem = (text) => problems.push(`--${name}: ${text}`);
    const given = raw[name];
    if (flag.type === 'boolean') {
      values[name] = typeof given === 'boolean' ? given : flag.default === true;
    } else if (flag.multiple) {
      const items = Array.isArray(given) ? given : flag.default !== undefined ? [flag.default] : [];
      values[name] = flag.parse(splitList(items), problem);
    } else {
      const fromEnv = flag.env ? env[flag.env] : undefined;
      const text =
        typeof given === 'string'
          ? given
          : fromEnv !== undefined && fromEnv !== ''
            ? fromEnv
            : flag.default;
      values[name] = flag.parse(text, problem);
    }
  }
  return { values: values as FlagValues<T>, problems };
}

/** --help lines: each flag with its placeholder, help, default and environment variable. */
export function flagsHelp(table: FlagTable): string[] {
  const lines: string[] = [];
  for (const [name, flag] of Object.entries(table)) {
    const head = flag.type === 'boolean' ? `--${name}` : `--${name}=${flag.value ?? 'VALUE'}`;
    const extras: string[] = [];
    if (flag.default !== undefined && flag.default !== false)
      extras.push(`default ${JSON.stringify(flag.default)}`);
    if (flag.env) extras.push(`env ${flag.env}`);
    const suffix = extras.length > 0 ? ` (${extras.join('; ')})` : '';
    lines.push(`  ${head}`, `      ${flag.help}${suffix}`);
  }
  return lines;
}
