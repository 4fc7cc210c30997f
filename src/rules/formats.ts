// Name formats shared by the rules: Kubernetes' DNS-1123 label and subdomain.
// Each check returns the problem in words, or undefined when the value is fine.
import { quote } from './field-errors.ts';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;

export function dns1123LabelProblem(value: string): string | undefined {
  if (value.length > DNS1123_LABEL_MAX)
    return `must be no more than ${DNS1123_LABEL_MAX} characters`;
  if (!DNS1123_LABEL.test(value)) {
    return "must be a DNS-1123 label: lower case letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}

export function dns1123SubdomainProblem(value: string): string | undefined {
  if (value.length > DNS1123_SUBDOMAIN_MAX) {
    return `must be no more than ${DNS1123_SUBDOMAIN_MAX} characters`;
  }
  if (!DNS1123_SUBDOMAIN.test(value)) {
    return "must be a DNS-1123 subdomain: lower case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit";
  }
  return undefined;
}

/** `namespace/name` with a DNS-1123 label namespace and a DNS-1123 subdomain name (a Secret's name). */
export function namespacedNameProblem(value: string): string | undefined {
  const parts = value.split('/');
  if (parts.length !== 2) return 'must have the form namespace/name';
  const [namespace = '', name = ''] = parts;
  if (!namespace) return 'must have the form namespace/name: the namespace is empty';
  if (!name) return 'must have the form namespace/name: the name is empty';
  const nsProblem = dns1123LabelProblem(namespace);
  if (nsProblem) return `namespace ${quote(namespace)} ${nsProblem}`;
  const nameProblem = dns1123SubdomainProblem(name);
  if (nameProblem) return `name ${quote(name)} ${nameProblem}`;
  return undefined;
}
