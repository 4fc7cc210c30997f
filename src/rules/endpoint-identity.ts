// The database an endpoint points at, for conflicts: scheme, hosts, ports and
// database, never the credentials or the options. Two endpoints that differ
// only in their user or password point at the same database, so a dry run
// cannot tell a right password from a wrong one.
//
// Each kine scheme is parsed the way its driver does (MySQL's is a Go DSN, not
// a URL; etcd takes a comma list of URLs). An endpoint that does not parse
// cleanly (an '@' left outside the userinfo, a host that is not a host name)
// has no identity and takes part in no endpoint conflict: a half-parsed
// password must never decide whether two endpoints are "the same".

/** Default ports, so that `host` and `host:<default>` are the same database. */
const PORTS = { mysql: '3306', postgres: '5432', etcd: '2379', nats: '4222' } as const;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s;
const HOST = /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/;
const V6 = /^\[[0-9a-f:.]+(%[a-z0-9_.-]+)?\]$/;
const LOOPBACK = new Set(['127.0.0.1', '[::1]']);
/** kine's defaults when an endpoint names no database or file. */
const KINE_DATABASE = 'kubernetes';
const KINE_SQLITE_FILE = './db/state.db';

/** `host[:port]` or `[v6][:port]`, lower-cased, the default port filled in; undefined if not a host. */
function hostPort(raw: string, defaultPort: string): string | undefined {
  let host = raw.toLowerCase();
  let port = '';
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && !host.endsWith(']') && /^\d*$/.test(host.slice(colon + 1))) {
    port = host.slice(colon + 1);
    host = host.slice(0, colon);
  }
  if (host === '' || LOOPBACK.has(host)) host = 'localhost';
  if (!HOST.test(host) && !V6.test(host)) return undefined;
  port = port === '' ? defaultPort : String(Number(port));
  return port ? `${host}:${port}` : host;
}

/** Sorted, de-duplicated `host:port` list (a comma list names one cluster); undefined if any is not a host. */
function hostList(hosts: string, defaultPort: string): string | undefined {
  const out = new Set<string>();
  for (const h of hosts.split(',')) {
    const one = hostPort(h.trim(), defaultPort);
    if (one === undefined) return undefined;
    out.add(one);
  }
  return [...out].sort().join(',');
}

interface Url {
  /** host[:port][,…], userinfo removed. */
  hosts: string;
  path: string;
  query: URLSearchParams;
}

/**
 * `[userinfo@]hosts[/path][?query][#fragment]` cut as Go's net/url does: the
 * fragment, then the query at the first '?', then the authority at the first
 * '/', then the userinfo at the last '@' of the authority. An '@' anywhere
 * after the authority means the userinfo was cut short: no identity.
 */
function parseUrl(rest: string): Url | undefined {
  const hash = rest.indexOf('#');
  let s = hash === -1 ? rest : rest.slice(0, hash);
  const q = s.indexOf('?');
  const query = q === -1 ? '' : s.slice(q + 1);
  if (q !== -1) s = s.slice(0, q);
  const slash = s.indexOf('/');
  const authority = slash === -1 ? s : s.slice(0, slash);
  const path = slash === -1 ? '' : s.slice(slash);
  if (rest.indexOf('@', authority.length) !== -1) return undefined;
  const at = authority.lastIndexOf('@');
  return {
    hosts: at === -1 ? authority : authority.slice(at + 1),
    path,
    query: new URLSearchParams(query),
  };
}

const decoded = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

/** go-sql-driver/mysql: `[user[:password]@][net[(addr)]]/dbname[?params]`, cut at the last '/'. */
function mysql(dsn: string): string | undefined {
  const slash = dsn.lastIndexOf('/');
  if (slash === -1) return undefined;
  const location = dsn.slice(0, slash);
  const database = dsn.slice(slash + 1).split('?')[0] || KINE_DATABASE;
  const at = location.lastIndexOf('@');
  const net = /^([a-z0-9]*)(?:\(([^()]*)\))?$/i.exec(location.slice(at + 1));
  if (!net) return undefined;
  const protocol = (net[1] || 'tcp').toLowerCase();
  const address = net[2] ?? '';
  if (protocol === 'unix') return `mysql:unix(${address || '/tmp/mysql.sock'})/${database}`;
  const host = hostPort(address, PORTS.mysql);
  return host && `mysql:${protocol}(${host})/${database}`;
}

/** pgx/libpq: `postgres://[userinfo@]host[:port][,…]/dbname[?host=…&port=…&dbname=…]`. */
function postgres(rest: string): string | undefined {
  const url = parseUrl(rest);
  if (!url) return undefined;
  // libpq lets query parameters name the server and the database too.
  const port = url.query.get('port') ?? PORTS.postgres;
  const queryHost = url.query.get('host');
  let hosts: string | undefined;
  if (queryHost?.startsWith('/')) hosts = `unix(${queryHost})`;
  else if (queryHost) hosts = hostList(queryHost, port);
  else hosts = hostList(url.hosts, port);
  const database = url.query.get('dbname') ?? decoded(url.path.replace(/^\//, ''));
  return hosts && database !== undefined
    ? `postgres:${hosts}/${database || KINE_DATABASE}`
    : undefined;
}

/** `sqlite://path[?options]`: the file is the database. */
function sqlite(rest: string): string {
  const path = rest.split('?')[0] ?? '';
  return `sqlite:${path.replace(/^file:/, '') || KINE_SQLITE_FILE}`;
}

/**
 * etcd: `http(s)://host:port[,http(s)://host:port…]`; the set of members names
 * the cluster. kine splits at ',' before parsing, so a ',' in a userinfo would
 * cut it: kine takes etcd credentials elsewhere, and an '@' means no identity.
 */
function etcd(endpoint: string): string | undefined {
  if (endpoint.includes('@')) return undefined;
  const members = new Set<string>();
  for (const member of endpoint.split(',')) {
    const m = SCHEME.exec(member.trim());
    const url = parseUrl(m ? (m[2] ?? '') : member.trim());
    const hosts = url && hostList(url.hosts, PORTS.etcd);
    if (hosts === undefined) return undefined;
    members.add(hosts);
  }
  return `etcd:${[...members].sort().join(',')}`;
}

/** `unix(s)://path`: etcd on a socket; the socket file is the database. */
function unix(rest: string): string | undefined {
  if (rest.includes('@')) return undefined;
  return `etcd:unix:${rest.split('?')[0] ?? ''}`;
}

/** `nats://[userinfo@]host[:port][,…][?bucket=…]`: a server and its key-value bucket. */
function nats(rest: string): string | undefined {
  const url = parseUrl(rest);
  const hosts = url && hostList(url.hosts, PORTS.nats);
  return hosts && `nats:${hosts}/${url.query.get('bucket') || 'kine'}`;
}

/** Another scheme (the middleware may know drivers we do not): its hosts and path. */
function other(scheme: string, rest: string): string | undefined {
  const url = parseUrl(rest);
  const hosts = url && hostList(url.hosts, '');
  return hosts === undefined ? undefined : `${scheme}:${hosts}${url?.path ?? ''}`;
}

/**
 * The identity of the database an endpoint points at: equal strings mean the
 * same database. Credentials and options never take part; undefined when the
 * endpoint does not parse cleanly.
 */
export function databaseIdentity(endpoint: string): string | undefined {
  const trimmed = endpoint.trim();
  const m = SCHEME.exec(trimmed);
  if (!m) return undefined;
  const rest = m[2] ?? '';
  const scheme = (m[1] ?? '').toLowerCase();
  switch (scheme) {
    case 'mysql':
      return mysql(rest);
    case 'postgres':
    case 'postgresql':
      return postgres(rest);
    case 'sqlite':
      return sqlite(rest);
    case 'http':
    case 'https':
      return etcd(trimmed);
    case 'unix':
    case 'unixs':
      return unix(rest);
    case 'nats':
      return nats(rest);
    default:
      return other(scheme, rest);
  }
}
