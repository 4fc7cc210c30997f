#!/usr/bin/env node
// `topology`: the offline command. This file only parses arguments and does
// the I/O; the work is in the modules beside it.
//
// Exit codes: 0 all accepted, 1 something rejected (or would end in Error, or
// warned with --warnings-as-errors),
// 2 bad usage or input that cannot be read.

import { chmod, readFile, writeFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { POLICY_FLAGS, policyConfig } from '../flags/policy.ts';
import { flagValues, flagsHelp, parseArgsOptions, type RawValues } from '../flags/table.ts';
import { defaultPolicy, type Policy } from '../rules/policy.ts';
import { parseNamespacedName } from '../resource/names.ts';
import { checkKey, encryptForConfig, endpointFromStdin, generateKey } from './keys.ts';
import { readManifest, type Manifest } from './manifests.ts';
import { renderAdmitted, toYaml } from './render.ts';
import { buildReport, REPORT_API_VERSION, REPORT_KIND, toJunit } from './report.ts';
import { clusterFrom, type Cluster } from './cluster.ts';
import { changed, diffLines, diffSecrets, targetsOf } from './diff.ts';
import { previewAdoption, previewLines, type AdoptPreview } from './adopt.ts';
import { ADOPT_LABEL } from '../resource/names.ts';
import { admit, verdictLines } from './validate.ts';
import { bindGrants } from '../rules/tenancy.ts';

const OK = 0;
/** validate/render: something rejected; diff: something would change. */
const REJECTED = 1;
/** Bad usage or unreadable input; diff: also a refusal or an unreachable cluster. */
const USAGE = 2;

const POLICY_HELP = `${["Cluster policy (as the webhook's flags):", ...flagsHelp(POLICY_FLAGS)].join('\n')}

Tenant routing policy (README "Tenancy"), judged when --platform-namespaces or
--grants is given, or TopologyRoutingGrants are among the files:
  --platform-namespaces NS[,NS]             namespaces that route anything ("*": all);
                                            default the namespace of --default-target-secret
  --grants FILE                             TopologyRoutingGrants to judge with (repeatable);
                                            Namespace objects with a uid among the files
                                            bind grants as in the cluster`;

const HELP: Record<string, string> = {
  topology: `Usage: topology COMMAND [OPTIONS]

Checks and tools for HariKube TopologyConfigs; all but diff work without a cluster.

Commands:
  validate FILE...                      judge manifests with the webhook's rules
  render FILE...                        print the merged Secrets the reconciler would write
  diff -f FILE... [--kubeconfig PATH]   what applying the files would change in the cluster's
                                        target Secrets (read-only)
  adopt NAMESPACE/NAME [--dry-run]      take over a target Secret the seed HariKube operator
                                        wrote, keeping the order the middleware reads
  encrypt --key-file PATH [ENDPOINT|-]  encrypt an endpoint for endpointDecryptSecret
  keygen --out PATH [--bytes 32]        write a fresh random AES key

Run "topology COMMAND --help" for details.
`,
  validate: `Usage: topology validate [OPTIONS] FILE...   (or -f FILE, repeatable, as kubectl takes it)

Reads YAML or JSON manifests ("-" is stdin; several documents per file are
fine; documents other than TopologyConfigs and Secrets are ignored) and judges
each TopologyConfig as the admission webhook would: defaults first, then every
rule, against the configs accepted before it in the order given. A document
without metadata.namespace is in namespace "default". Secrets among the files
serve as endpoint-key Secrets (they need the label harikube.info/endpoint-keys=true).

  -o, --output FORMAT     text (default), json or junit
  --warnings-as-errors    a warning fails the run too (exit 1)

text: one line per problem, nothing when all is accepted:
  <file>: <namespace>/<name>: <field path>: <reason>
  <file>: <namespace>/<name>: warning: <text>
json: a ${REPORT_KIND} (apiVersion ${REPORT_API_VERSION}): per file and
  object the verdict, the errors (field, type, reason) and the warnings.
junit: JUnit XML, a test case per TopologyConfig, a failure per error.

Exit status: 0 all accepted, 1 any rejected, 2 bad usage or unreadable input
(then nothing is printed on stdout, whatever the format).

${POLICY_HELP}
`,
  render: `Usage: topology render [OPTIONS] FILE...     (or -f FILE, repeatable)

Reads manifests as "topology validate" does and prints, as YAML, the Secret
the reconciler would write for each target (with stringData: the API server
stores the same bytes as data). Configs that admission would reject, or that
would end in Error, are listed on stderr. With key Secrets among the files,
the Secrets printed hold decrypted endpoints.

Exit status: 0 all configs would be Active, 1 otherwise, 2 bad usage or
unreadable input.

${POLICY_HELP}
`,
  diff: `Usage: topology diff -f FILE... [--kubeconfig PATH] [OPTIONS]

Reads the cluster's TopologyConfigs, endpoint-key Secrets and target Secrets
(read-only: nothing is written), judges the files' configs as the webhook
would against the cluster's configs (one with the namespace/name of a cluster
config as the UPDATE "kubectl apply" would send), merges as the reconciler
would and prints, per target Secret, the keys that would be added (+),
changed (~) or removed (-). Values are never printed. Each refusal, warning
or Error the change would cause is printed as "topology validate" prints it.
Configs in the cluster but not in the files are left as they are (no prune).

  -f, --filename FILE   a manifest file ("-" is stdin); repeatable
  --kubeconfig PATH     the cluster (default: $KUBECONFIG, then a Pod's
                        service account, then ~/.kube/config)
  --context NAME        the kubeconfig's context to use (default: its current-context)

Exit status: 0 no change, 1 changes, 2 a refusal, a config that would end in
Error, a Secret that would not be written, bad usage, unreadable input or an
unreachable cluster.

${POLICY_HELP}
`,
  adopt: `Usage: topology adopt NAMESPACE/NAME [--dry-run] [--kubeconfig PATH] [-o text|json]
       topology adopt NAMESPACE/NAME --dry-run -f FILE... [-o text|json]

Takes over a target Secret that the seed HariKube operator wrote (keys
<order>-<name>.yaml, no label app.kubernetes.io/managed-by=topology-webhook).
Reads the cluster's TopologyConfigs, endpoint-key Secrets and that Secret,
matches each entry to the config that wrote it, and shows the Secret the
reconciler would write: this product's keys, in the order the middleware
reads the seed's keys today (lexical: 10-a.yaml before 2-b.yaml), and whether
any key would route to another backend. An adoption that would move a key is
refused, with what to change.

Without --dry-run, labels the Secret ${ADOPT_LABEL}=true (the request the
reconciler acts on), only when the adoption is possible and no key would
route elsewhere. Stop the seed operator first: two writers of one Secret undo
each other.

  --dry-run             show only; write nothing
  -f, --filename FILE   read the Secret and the configs from manifest files
                        instead of the cluster (repeatable; with --dry-run only;
                        e.g. "kubectl get secret NAME -o yaml" and the configs' sources)
  -o, --output FORMAT   text (default: a summary as YAML comments, then the
                        Secret, values included, as "topology render" prints it) or json
  --kubeconfig PATH     the cluster (default: $KUBECONFIG, then a Pod's
                        service account, then ~/.kube/config)
  --context NAME        the kubeconfig's context to use (default: its current-context)

Exit status: 0 adoptable with every key routed as today (labelled, without
--dry-run), or already managed; 1 adoptable but some key would route
elsewhere; 2 not adoptable, bad usage or an unreachable cluster.

${POLICY_HELP}
`,
  encrypt: `Usage: topology encrypt --key-file PATH [ENDPOINT|-]

Encrypts a connection string with AES-GCM for a backend's endpoint (set
spec.endpointDecryptSecret to the Secret holding the key) and prints the
Base64. Without ENDPOINT, or with "-", the endpoint is read from stdin (one
trailing newline dropped), so it never lands in the shell history.

  --key-file PATH   the raw key: 16, 24 or 32 bytes (see "topology keygen")
`,
  keygen: `Usage: topology keygen --out PATH [--bytes N]

Writes a fresh random AES key, as raw bytes, to a new file with mode 0600
(an existing file is never overwritten). Store it in the cluster with:
  kubectl create secret generic NAME --from-file=KEYNAME=PATH
  kubectl label secret NAME harikube.info/endpoint-keys=true

  --out PATH   the file to create
  --bytes N    16, 24 or 32 (AES-128, -192 or -256); default 32
`,
};

class UsageError extends Error {}

const STDIN = '<stdin>';

function write(stream: NodeJS.WriteStream, lines: readonly string[]): void {
  if (lines.length > 0) stream.write(`${lines.join('\n')}\n`);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    EEXIST: 'already exists',
  };
  return (code && known[code]) ?? (code ? `error ${code}` : 'cannot be read');
}

function parse(
  args: string[],
  options: ParseArgsOptionsConfig,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (error) {
    // parseArgs names the option and the problem; its hint about "--" is noise here.
    throw new UsageError(String((error as Error).message).split('. To specify')[0]);
  }
}

const POLICY_OPTIONS = {
  ...parseArgsOptions(POLICY_FLAGS),
  'platform-namespaces': { type: 'string', multiple: true },
  grants: { type: 'string', multiple: true },
} as const;

/**
 * The policy with the tenant routing policy, as the server judges (same
 * rules, rules/tenancy.ts): when asked for by a flag or by grants among the
 * inputs. Namespaces without a Namespace object among the inputs bind their
 * grants by name (offline, no uid is known).
 */
async function withTenancy(
  policy: Policy,
  values: Record<string, unknown>,
  manifest: Manifest,
): Promise<Policy | undefined> {
  const grants = [...(manifest.grants ?? [])];
  const files = (values.grants as string[] | undefined) ?? [];
  const extra = files.length > 0 ? await readManifests(files) : { configs: [], secrets: [] };
  if (!extra) return undefined;
  grants.push(...(extra.grants ?? []));
  const flag = values['platform-namespaces'] as string[] | undefined;
  if (!flag && grants.length === 0 && files.length === 0) return policy;
  const platform = flag
    ? flag.flatMap((list) => list.split(',')).filter((n) => n !== '')
    : [policy.defaultTargetSecret.split('/')[0]!];
  const uids = new Map<string, string>();
  for (const grant of grants) {
    const { namespace, namespaceUID } = grant.spec ?? {};
    if (typeof namespace === 'string' && typeof namespaceUID === 'string')
      uids.set(namespace, namespaceUID);
  }
  for (const source of [manifest, extra])
    for (const [name, uid] of source.namespaceUids ?? []) uids.set(name, uid);
  return { ...policy, tenancy: bindGrants(grants, platform, uids) };
}

/** The policy flags read and checked as the server reads them; the first problem is a usage error. */
function policyFrom(values: Record<string, unknown>): Policy {
  const { values: flags, problems } = flagValues(POLICY_FLAGS, values as RawValues, {});
  if (problems.length > 0) throw new UsageError(problems[0]);
  return { ...defaultPolicy, ...policyConfig(flags) };
}

/** Reads every file (each at most once from stdin); undefined after reporting unreadable ones. */
async function readManifests(files: string[]): Promise<Manifest | undefined> {
  if (files.length === 0) throw new UsageError('no FILE given');
  if (files.filter((f) => f === '-').length > 1)
    throw new UsageError('"-" (stdin) may be given once');
  const manifest: Manifest = { configs: [], secrets: [] };
  const problems: string[] = [];
  for (const file of files) {
    const name = file === '-' ? STDIN : file;
    let text: string;
    try {
      text = (file === '-' ? await readStdin() : await readFile(file)).toString('utf8');
    } catch (error) {
      problems.push(`${name}: cannot read: ${describeError(error)}`);
      continue;
    }
    const read = readManifest(name, text);
    if (!read.ok) {
      problems.push(`${name}: ${read.error}`);
      continue;
    }
    manifest.configs.push(...read.configs);
    manifest.secrets.push(...read.secrets);
    manifest.grants = [...(manifest.grants ?? []), ...(read.grants ?? [])];
    manifest.namespaceUids = new Map([
      ...(manifest.namespaceUids ?? []),
      ...(read.namespaceUids ?? []),
    ]);
  }
  write(process.stderr, problems);
  return problems.length > 0 ? undefined : manifest;
}

const OUTPUT_FORMATS = ['text', 'json', 'junit'] as const;

/** Files come as arguments or, as kubectl users type them, with -f (repeatable). */
const FILENAME_OPTION: ParseArgsOptionsConfig = {
  filename: { type: 'string', short: 'f', multiple: true },
};
const filesOf = (values: Record<string, unknown>, positionals: string[]): string[] => [
  ...((values.filename as string[] | undefined) ?? []),
  ...positionals,
];

async function validateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...POLICY_OPTIONS,
    ...FILENAME_OPTION,
    output: { type: 'string', short: 'o', default: 'text' },
    'warnings-as-errors': { type: 'boolean' },
  });
  if (values.help) return help('validate');
  const files = filesOf(values, positionals);
  const output = values.output as string;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output))
    throw new UsageError(`--output: ${JSON.stringify(output)} is not one of text, json, junit`);
  const warningsAsErrors = values['warnings-as-errors'] === true;
  const cluster = policyFrom(values);
  const manifest = await readManifests(files);
  if (!manifest) return USAGE;
  const policy = await withTenancy(cluster, values, manifest);
  if (!policy) return USAGE;
  const { judged } = admit(manifest, policy);
  const names = files.map((f) => (f === '-' ? STDIN : f));
  const report = buildReport(names, judged, warningsAsErrors);
  if (output === 'json') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (output === 'junit') process.stdout.write(toJunit(report, warningsAsErrors));
  else write(process.stdout, verdictLines(judged));
  return report.passed ? OK : REJECTED;
}

async function renderCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...POLICY_OPTIONS, ...FILENAME_OPTION });
  if (values.help) return help('render');
  const cluster = policyFrom(values);
  const manifest = await readManifests(filesOf(values, positionals));
  if (!manifest) return USAGE;
  const policy = await withTenancy(cluster, values, manifest);
  if (!policy) return USAGE;
  const admission = admit(manifest, policy);
  const rejected = admission.judged.filter((j) => j.verdict.errors.length > 0);
  const { secrets, errors } = renderAdmitted(admission, policy);
  if (secrets.length > 0) process.stdout.write(toYaml(secrets));
  write(process.stderr, [...verdictLines(rejected), ...errors]);
  return rejected.length === 0 && errors.length === 0 ? OK : REJECTED;
}

/** The cluster --kubeconfig and --context name (default: $KUBECONFIG, then a Pod's service account, then ~/.kube/config). */
async function clusterOf(values: Record<string, unknown>): Promise<Cluster> {
  // Loaded here only: the offline commands need no connection.
  const { loadConnection, userAgent } = await import('../kube/connection.ts');
  return clusterFrom(
    loadConnection({
      kubeconfig: values.kubeconfig as string | undefined,
      context: values.context as string | undefined,
      userAgent: userAgent('topology', 'cli'),
    }),
  );
}

async function diffCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...POLICY_OPTIONS,
    ...FILENAME_OPTION,
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
  });
  if (values.help) return help('diff');
  const clusterPolicy = policyFrom(values);
  const manifest = await readManifests(filesOf(values, positionals));
  if (!manifest) return USAGE;
  const policy = await withTenancy(clusterPolicy, values, manifest);
  if (!policy) return USAGE;
  try {
    const cluster = await clusterOf(values);
    const state = await cluster.read();
    const admission = admit(manifest, policy, state);
    const secrets = await cluster.secrets(targetsOf(admission.configs, policy));
    const diff = diffSecrets(admission, state.configs, secrets, policy);
    write(process.stdout, [
      ...verdictLines(admission.judged),
      ...diff.errors,
      ...diffLines(diff.targets),
    ]);
    const refused =
      admission.judged.some((j) => j.verdict.errors.length > 0) ||
      diff.errors.length > 0 ||
      diff.targets.some((d) => d.blocked);
    return refused ? USAGE : diff.targets.some(changed) ? REJECTED : OK;
  } catch (error) {
    write(process.stderr, [`topology diff: cannot read the cluster: ${(error as Error).message}`]);
    return USAGE;
  }
}

async function adoptCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...parseArgsOptions(POLICY_FLAGS),
    'dry-run': { type: 'boolean' },
    output: { type: 'string', short: 'o', default: 'text' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    ...FILENAME_OPTION,
  });
  if (values.help) return help('adopt');
  const files = (values.filename as string[] | undefined) ?? [];
  if (files.length > 0 && !values['dry-run'])
    throw new UsageError('-f reads files, so nothing can be labelled: add --dry-run');
  const output = values.output as string;
  if (output !== 'text' && output !== 'json')
    throw new UsageError(`--output: ${JSON.stringify(output)} is not one of text, json`);
  if (positionals.length !== 1) throw new UsageError('give one NAMESPACE/NAME');
  const target = positionals[0]!;
  const ref = parseNamespacedName(target);
  if (!ref) throw new UsageError(`${JSON.stringify(target)} is not NAMESPACE/NAME`);
  const policy = policyFrom(values);
  let preview: AdoptPreview;
  if (files.length > 0) {
    const manifest = await readManifests(files);
    if (!manifest) return USAGE;
    preview = adoptFromFiles(target, manifest, policy);
    printPreview(preview, output, false);
    return adoptExit(preview);
  }
  try {
    const cluster = await clusterOf(values);
    const state = await cluster.read();
    const { view } = admit({ configs: [], secrets: [] }, policy, state);
    const secret = (await cluster.secrets([target])).get(target);
    preview = previewAdoption(target, secret, state.configs, view, policy);
    const label =
      !values['dry-run'] && preview.state === 'adoptable' && preview.routingChanges.length === 0;
    if (label) {
      await cluster.labelSecret(ref, ADOPT_LABEL, 'true');
    }
    printPreview(preview, output, label);
  } catch (error) {
    write(process.stderr, [`topology adopt: ${(error as Error).message}`]);
    return USAGE;
  }
  return adoptExit(preview);
}

/**
 * The preview from manifest files: the Secret among them, the configs as
 * admission would accept them (those it refuses are printed on stderr), each
 * given a stand-in uid (the API server has given them none).
 */
function adoptFromFiles(target: string, manifest: Manifest, policy: Policy): AdoptPreview {
  const admission = admit(manifest, policy);
  write(process.stderr, verdictLines(admission.judged.filter((j) => j.verdict.errors.length > 0)));
  const found = manifest.secrets.find((s) => `${s.namespace}/${s.name}` === target);
  const secret = found && {
    metadata: { name: found.name, namespace: found.namespace, labels: found.labels },
    data: found.data,
  };
  const configs = admission.configs.map((c) =>
    c.metadata.uid
      ? c
      : {
          ...c,
          metadata: { ...c.metadata, uid: `file:${c.metadata.namespace}/${c.metadata.name}` },
        },
  );
  return previewAdoption(target, secret, configs, admission.view, policy);
}

function printPreview(preview: AdoptPreview, output: string, labelled: boolean): void {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify({ ...preview, labelled }, null, 2)}\n`);
    return;
  }
  const lines = previewLines(preview);
  if (labelled) lines.push(`# labelled Secret ${preview.target} ${ADOPT_LABEL}=true`);
  process.stdout.write(
    `${lines.join('\n')}\n${preview.secret ? `---\n${toYaml([preview.secret])}` : ''}`,
  );
}

function adoptExit(preview: AdoptPreview): number {
  if (preview.state === 'managed') return OK;
  if (preview.state !== 'adoptable') return USAGE;
  return preview.routingChanges.length > 0 ? REJECTED : OK;
}

async function encryptCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { 'key-file': { type: 'string' } });
  if (values.help) return help('encrypt');
  const keyFile = values['key-file'] as string | undefined;
  if (!keyFile) throw new UsageError('--key-file is required');
  if (positionals.length > 1) throw new UsageError('give one ENDPOINT, or "-" for stdin');
  const arg = positionals[0];
  let keyBytes: Buffer;
  try {
    keyBytes = await readFile(keyFile);
  } catch (error) {
    write(process.stderr, [`${keyFile}: cannot read: ${describeError(error)}`]);
    return USAGE;
  }
  const key = checkKey(keyBytes);
  if (!key.ok) {
    write(process.stderr, [`${keyFile}: ${key.error}`]);
    return USAGE;
  }
  const endpoint =
    arg === undefined || arg === '-'
      ? endpointFromStdin((await readStdin()).toString('utf8'))
      : arg;
  const sealed = encryptForConfig(key.value, endpoint);
  if (!sealed.ok) {
    write(process.stderr, [`topology encrypt: ${sealed.error}`]);
    return USAGE;
  }
  write(process.stdout, [sealed.value]);
  return OK;
}

async function keygenCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string' },
    bytes: { type: 'string' },
  });
  if (values.help) return help('keygen');
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('--out is required (a key is never printed to the terminal)');
  const bytesText = (values.bytes as string | undefined) ?? '32';
  const key = generateKey(/^\d+$/.test(bytesText) ? Number(bytesText) : Number.NaN);
  if (!key.ok) throw new UsageError(key.error);
  try {
    // wx: never overwrite a key that may still be in use.
    await writeFile(out, key.value, { mode: 0o600, flag: 'wx' });
    await chmod(out, 0o600); // whatever the umask
  } catch (error) {
    write(process.stderr, [`${out}: cannot write: ${describeError(error)}`]);
    return USAGE;
  }
  write(process.stderr, [`wrote a ${key.value.length}-byte AES key to ${out}`]);
  return OK;
}

function help(command: string): number {
  process.stdout.write(HELP[command]!);
  return OK;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  validate: validateCommand,
  render: renderCommand,
  diff: diffCommand,
  adopt: adoptCommand,
  encrypt: encryptCommand,
  keygen: keygenCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(HELP.topology!);
    return USAGE;
  }
  if (command === '--help' || command === '-h' || command === 'help')
    return help(rest[0] && HELP[rest[0]] ? rest[0] : 'topology');
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(
      `topology: unknown command ${JSON.stringify(command)}\n\n${HELP.topology}`,
    );
    return USAGE;
  }
  try {
    return await run(rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`topology ${command}: ${error.message}\n\n${HELP[command]}`);
    return USAGE;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // A bug, not a verdict: never exit 1, which would read as "rejected". No stack: it may quote input.
  process.stderr.write(`topology: internal error: ${(error as Error)?.message ?? String(error)}\n`);
  process.exitCode = USAGE;
}
