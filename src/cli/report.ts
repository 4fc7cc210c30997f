// The machine-readable results of `topology validate`: a versioned JSON
// document (`-o json`) and JUnit XML (`-o junit`, one test case per object,
// one failure per error), both built from the same report so they cannot
// disagree. The JSON shape is documented in the README; a change that is
// not an addition gets a new REPORT_API_VERSION.

import type { FieldErrorType } from '../rules/field-errors.ts';
import type { Judged } from './validate.ts';

export const REPORT_API_VERSION = 'harikube.info/v1';
export const REPORT_KIND = 'TopologyValidationReport';

export interface ReportError {
  /** Path of the offending field, e.g. `spec.backends[0].name`. */
  field: string;
  type: FieldErrorType;
  reason: string;
}

export interface ReportObject {
  kind: 'TopologyConfig';
  namespace: string;
  /** '' when the manifest has none (an error says so). */
  name: string;
  /** 0-based position among the file's documents (List items counted). */
  index: number;
  /** What the webhook would answer. */
  verdict: 'accepted' | 'rejected';
  errors: ReportError[];
  warnings: string[];
}

export interface ReportFile {
  /** As given on the command line; `<stdin>` for "-". */
  file: string;
  objects: ReportObject[];
}

export interface ValidationReport {
  apiVersion: typeof REPORT_API_VERSION;
  kind: typeof REPORT_KIND;
  /** What the exit status says: false when any object is rejected (or warned, with --warnings-as-errors). */
  passed: boolean;
  summary: { files: number; objects: number; rejected: number; warnings: number };
  files: ReportFile[];
}

/** Whether `object` fails the run: an error always, a warning with --warnings-as-errors. */
export const objectFails = (object: ReportObject, warningsAsErrors: boolean): boolean =>
  object.errors.length > 0 || (warningsAsErrors && object.warnings.length > 0);

/** The report of `judged`, grouped by `files` in the order given (files without configs included). */
export function buildReport(
  files: readonly string[],
  judged: readonly Judged[],
  warningsAsErrors: boolean,
): ValidationReport {
  const byFile = new Map<string, ReportObject[]>(files.map((file) => [file, []]));
  for (const { source, verdict } of judged) {
    const objects = byFile.get(source.file) ?? [];
    byFile.set(source.file, objects);
    objects.push({
      kind: 'TopologyConfig',
      namespace: source.namespace,
      name: source.name,
      index: source.index,
      verdict: verdict.errors.length > 0 ? 'rejected' : 'accepted',
      errors: verdict.errors.map((e) => ({ field: e.field, type: e.type, reason: e.detail })),
      warnings: [...verdict.warnings],
    });
  }
  const reportFiles = [...byFile].map(([file, objects]) => ({ file, objects }));
  const objects = reportFiles.flatMap((f) => f.objects);
  return {
    apiVersion: REPORT_API_VERSION,
    kind: REPORT_KIND,
    passed: !objects.some((o) => objectFails(o, warningsAsErrors)),
    summary: {
      files: reportFiles.length,
      objects: objects.length,
      rejected: objects.filter((o) => o.verdict === 'rejected').length,
      warnings: objects.reduce((n, o) => n + o.warnings.length, 0),
    },
    files: reportFiles,
  };
}

// XML 1.0 allows neither most control characters nor lone surrogates, even
// escaped; a reason quoting a user's value may hold them.
const NOT_XML = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function xml(text: string): string {
  return text
    .replace(NOT_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const subject = (o: ReportObject): string => `${o.namespace}/${o.name || '(no name)'}`;

/**
 * JUnit XML as Jenkins, GitLab and GitHub test reporters read it: a suite per
 * file, a case per TopologyConfig (classname the file, name the object), a
 * <failure> per error (and per warning with --warnings-as-errors; otherwise
 * warnings go to the case's <system-out>).
 */
export function toJunit(report: ValidationReport, warningsAsErrors: boolean): string {
  const failuresOf = (o: ReportObject) =>
    o.errors.length + (warningsAsErrors ? o.warnings.length : 0);
  const total = report.files.reduce(
    (n, f) => n + f.objects.reduce((m, o) => m + failuresOf(o), 0),
    0,
  );
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="topology validate" tests="${report.summary.objects}" failures="${total}" errors="0">`,
  ];
  for (const file of report.files) {
    const failures = file.objects.reduce((n, o) => n + failuresOf(o), 0);
    lines.push(
      `  <testsuite name="${xml(file.file)}" tests="${file.objects.length}" failures="${failures}" errors="0" skipped="0">`,
    );
    for (const object of file.objects) {
      const open = `    <testcase classname="${xml(file.file)}" name="TopologyConfig ${xml(subject(object))}"`;
      const failures = [
        ...object.errors.map((e) => ({ type: e.type, message: `${e.field}: ${e.reason}` })),
        ...(warningsAsErrors ? object.warnings.map((w) => ({ type: 'Warning', message: w })) : []),
      ];
      const out = !warningsAsErrors && object.warnings.length > 0 ? object.warnings : [];
      if (failures.length === 0 && out.length === 0) {
        lines.push(`${open}/>`);
        continue;
      }
      lines.push(`${open}>`);
      for (const f of failures) {
        lines.push(
          `      <failure type="${xml(f.type)}" message="${xml(f.message)}">${xml(f.message)}</failure>`,
        );
      }
      if (out.length > 0) {
        lines.push(
          `      <system-out>${xml(out.map((w) => `warning: ${w}`).join('\n'))}</system-out>`,
        );
      }
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
