import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { databaseIdentity } from '../../../src/rules/endpoint-identity.ts';

describe('databaseIdentity: the database an endpoint points at', () => {
  const same: { name: string; a: string; b: string }[] = [
    {
      name: 'mysql: another user and password',
      a: 'mysql://root:passwd@tcp(mysql.db:3306)/kine',
      b: 'mysql://app:guess@tcp(mysql.db:3306)/kine',
    },
    {
      name: 'mysql: the default port, host case, options',
      a: 'mysql://u:p@tcp(MySQL.db)/kine?tls=true',
      b: 'mysql://tcp(mysql.db:3306)/kine',
    },
    {
      name: "mysql: a password holding '@', '/', '(' and ':'",
      a: 'mysql://u:p@s/s(w):d@tcp(db:3306)/kine',
      b: 'mysql://u:x@tcp(db:3306)/kine',
    },
    {
      name: 'mysql: no database is kine\'s "kubernetes"',
      a: 'mysql://u:p@tcp(db:3306)/',
      b: 'mysql://u:p@tcp(db:3306)/kubernetes',
    },
    {
      name: 'mysql: a unix socket',
      a: 'mysql://u:p@unix(/run/mysqld.sock)/kine',
      b: 'mysql://v:q@unix(/run/mysqld.sock)/kine',
    },
    {
      name: 'postgres and postgresql, credentials and options dropped',
      a: 'postgres://admin:s3cret@pg.db:5432/kine?sslmode=require',
      b: 'postgresql://other:wrong@PG.db/kine',
    },
    {
      name: 'postgres: a host list in another order',
      a: 'postgres://u:p@a:5432,b:5433/kine',
      b: 'postgres://b:5433,a/kine',
    },
    {
      name: 'postgres: the host and database as query parameters',
      a: 'postgres:///?host=pg.db&dbname=kine&password=x',
      b: 'postgres://u:p@pg.db/kine',
    },
    {
      name: 'postgres: a loopback address',
      a: 'postgres://u:p@127.0.0.1/kine',
      b: 'postgres://u:p@localhost:5432/kine',
    },
    {
      name: 'sqlite: the file, options dropped',
      a: 'sqlite://./db/state.db?_journal=WAL&cache=shared',
      b: 'sqlite://./db/state.db',
    },
    {
      name: "sqlite: no file is kine's default",
      a: 'sqlite://',
      b: 'sqlite://./db/state.db',
    },
    {
      name: 'etcd: members in another order, http and https',
      a: 'https://etcd-0:2379,https://etcd-1:2379',
      b: 'http://etcd-1,http://ETCD-0:2379',
    },
    {
      name: 'nats: a token and the default bucket',
      a: 'nats://token@nats.db:4222',
      b: 'nats://nats.db?bucket=kine',
    },
    { name: 'unix and unixs', a: 'unix:///run/etcd.sock', b: 'unixs:///run/etcd.sock' },
    {
      name: 'an unknown scheme: hosts and path, userinfo dropped',
      a: 'cockroach://u:p@crdb:26257/kine?x=1',
      b: 'cockroach://crdb:26257/kine',
    },
  ];
  for (const { name, a, b } of same) {
    test(`same database: ${name}`, () => {
      assert.ok(databaseIdentity(a) !== undefined, 'parsed');
      assert.equal(databaseIdentity(a), databaseIdentity(b));
    });
  }

  const different: { name: string; a: string; b: string }[] = [
    {
      name: 'mysql: another database',
      a: 'mysql://u:p@tcp(db:3306)/one',
      b: 'mysql://u:p@tcp(db:3306)/two',
    },
    { name: 'mysql: another port', a: 'mysql://tcp(db:3306)/k', b: 'mysql://tcp(db:3307)/k' },
    { name: 'postgres: another host', a: 'postgres://a/kine', b: 'postgres://b/kine' },
    { name: 'mysql and postgres', a: 'mysql://tcp(db:5432)/k', b: 'postgres://db:5432/k' },
    { name: 'sqlite: another file', a: 'sqlite://./a.db', b: 'sqlite://./b.db' },
    { name: 'etcd: another member set', a: 'http://a:2379', b: 'http://a:2379,http://b:2379' },
    { name: 'nats: another bucket', a: 'nats://n?bucket=a', b: 'nats://n?bucket=b' },
  ];
  for (const { name, a, b } of different) {
    test(`different databases: ${name}`, () => {
      assert.notEqual(databaseIdentity(a), databaseIdentity(b));
    });
  }

  test('endpoints that do not parse cleanly have no identity', () => {
    for (const endpoint of [
      'no scheme at all',
      'mysql://u:p@tcp(db:3306)', // no '/' before the database
      'postgres://u:pa?ss@db/kine', // the '?' cut the userinfo short
      'postgres://u:pa#ss@db/kine',
      'postgres://db/kine?password=a@b',
      'postgres://u:p@not a host/kine',
      'unix://u:p@/run/etcd.sock',
      'https://u:p@etcd-0:2379', // kine takes etcd credentials elsewhere
    ]) {
      assert.equal(databaseIdentity(endpoint), undefined, endpoint);
    }
  });

  // The oracle property: whatever the password, an endpoint's identity is the
  // one without credentials or none at all, never another database's.
  const templates = [
    (pw: string) => `mysql://user:${pw}@tcp(db.example:3306)/kine`,
    (pw: string) => `postgres://user:${pw}@db.example:5432/kine?sslmode=disable`,
    (pw: string) => `postgresql://user:${pw}@db.example/kine`,
    (pw: string) => `nats://user:${pw}@nats.example:4222?bucket=kine`,
    (pw: string) => `nats://${pw}@nats.example:4222`,
    (pw: string) => `mysql://user:${pw}@unix(/run/mysqld.sock)/kine?tls=skip-verify`,
  ];
  const alphabet = 'aZ9:@/?#()%&=,.[]!$ ';
  test('no password changes the identity into another defined value', () => {
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (const template of templates) {
      const bare = databaseIdentity(template('x'));
      assert.ok(bare !== undefined, template('x'));
      for (let i = 0; i < 2000; i++) {
        const length = 1 + Math.floor(random() * 12);
        let pw = '';
        for (let j = 0; j < length; j++) pw += alphabet[Math.floor(random() * alphabet.length)];
        const identity = databaseIdentity(template(pw));
        assert.ok(
          identity === bare || identity === undefined,
          `${template(pw)} -> ${identity}, not ${bare}`,
        );
      }
    }
  });
});
