// Parsers of the kinds of values flags take: addresses, durations, names.
// Each returns the value, or reports what is wrong through `problem`.

import { isIP } from 'node:net';
import type { NamespacedName } from '../resource/names.ts';
import { parseNamespacedName } from '../resource/names.ts';
import { dns1123LabelProblem, dns1123SubdomainProblem } from '../rules/formats.ts';
import { parseGoDuration } from '../secret-format/duration.ts';
import type { Problem } from './table.ts';

export interface BindAddress {
  /** Host to bind, without IPv6 brackets; '' means every interface. */
  host: string;
  port: number;
}

/** RFC 1123 label: namespaces. */
export const isDnsLabel = (value: string): boolean => dns1123LabelProblem(value) === undefined;

/** RFC 1123 subdomain: names of Secrets, Leases, webhook configurations. */
export const isDnsSubdomain = (value: string): boolean =>
  dns1123SubdomainProblem(value) === undefined;

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS name or an IP address. */
export function isHost(value: string): boolean {
  return isIP(value) !== 0 || isDnsSubdomain(value.toLowerCase());
}

/**
 * A positive Go `time.Duration` string ("15s", "1m30s", "500ms", "0") in
 * milliseconds; undefined if Go would not parse it, or it has a sign.
 */
export function parseDuration(text: string): number | undefined {
  if (text.startsWith('-') || text.startsWith('+')) return undefined;
  const ns = parseGoDuration(text);
  return ns === undefined ? undefined : Number(ns) / 1e6;
}

/** A duration flag greater than zero (or zero, if allowed), in milliseconds; NaN after a problem. */
export function positiveDuration(text: string, problem: Problem, zeroAllowed = false): number {
  const ms = parseDuration(text);
  if (ms === undefined) {
    problem(`${JSON.stringify(text)} is not a duration such as "15s", "1m30s" or "500ms"`);
    return NaN;
  }
  if (ms === 0 && !zeroAllowed) problem('must be greater than zero');
  return ms;
}

/** ":port", "host:port" or "[ipv6]:port"; undefined if malformed. */
export function parseBindAddress(text: string): BindAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.%a-zA-Z]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? { host: m[1], port } : undefined;
  const host = m[2]!;
  if (host !== '' && isIP(host) !== 4 && !isDnsSubdomain(host) && host !== 'localhost') {
    return undefined;
  }
  return { host, port };
}

/** A bind address flag; with `disableable`, "0" turns the listener off (undefined). */
export function bindAddress(
  text: string,
  problem: Problem,
  disableable: boolean,
): BindAddress | undefined {
  if (disableable && text === '0') return undefined;
  const parsed = parseBindAddress(text);
  if (!parsed) {
    problem(
      `${JSON.stringify(text)} is not an address of the form ":port", "host:port" or "[ipv6]:port"${disableable ? ', or "0" to disable' : ''}`,
    );
  }
  return parsed;
}

/** `namespace/name` of a Secret-like object, or of a Service (`kind: 'service'`: RFC 1035 name). */
export function namespacedName(
  value: string,
  problem: Problem,
  kind: 'object' | 'service' = 'object',
): NamespacedName | undefined {
  const ref = parseNamespacedName(value);
  if (!ref) {
    problem(`${JSON.stringify(value)} is not of the form namespace/name`);
    return undefined;
  }
  if (!isDnsLabel(ref.namespace)) {
    problem(
      `namespace ${JSON.stringify(ref.namespace)} is not a valid namespace name (RFC 1123 label)`,
    );
    return undefined;
  }
  const service = kind === 'service';
  const nameOk = service
    ? ref.name.length <= 63 && DNS_1035_LABEL.test(ref.name)
    : isDnsSubdomain(ref.name);
  if (!nameOk) {
    const rule = service
      ? 'a valid Service name (RFC 1035 label)'
      : 'a valid name (RFC 1123 subdomain)';
    problem(`name ${JSON.stringify(ref.name)} is not ${rule}`);
    return undefined;
  }
  return ref;
}

/** An object name (RFC 1123 subdomain); `what` names it in the problem. */
export function subdomainName(text: string, problem: Problem, what = 'name'): string {
  if (!isDnsSubdomain(text)) {
    problem(`${JSON.stringify(text)} is not a valid ${what} (RFC 1123 subdomain)`);
  }
  return text;
}

/** Ignores problems: for re-reading a value whose problems were reported already. */
export const quiet: Problem = () => {};
