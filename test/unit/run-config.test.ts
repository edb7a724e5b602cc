// `htmqc run`'s config file and its ledger section (src/cli/commands/run.ts,
// ledger-config.ts): SQLite by path or object, PostgreSQL by connection
// string or by an environment variable that holds it; unknown keys and wrong
// types are errors naming the field and the bad value.  No server needed.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readRunConfig, RunConfigError } from '../../src/cli/commands/run';
import { describeLedger, openConfiguredLedger, parseLedgerConfig } from '../../src/cli/commands/ledger-config';
import { SqliteLedger } from '../../src';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-run-config-'));
const base = { brokers: ['127.0.0.1:9092'], groupId: 'orders', topics: ['orders'] };
let files = 0;

function config(body: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ReturnType<typeof readRunConfig> {
  const file = path.join(dir, `c${files++}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...base, ...body }));
  return readRunConfig(file, env);
}

/** Asserts that reading the config fails with exactly this field and a message matching `message`. */
function refuses(body: Record<string, unknown>, field: string, message: RegExp, env: NodeJS.ProcessEnv = {}): RunConfigError {
  let caught: unknown;
  try {
    config(body, env);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof RunConfigError, `expected a RunConfigError for ${JSON.stringify(body)}, got ${String(caught)}`);
  assert.strictEqual(caught.field, field);
  assert.match(caught.message, message);
  return caught;
}

const PG = 'postgres://app:s3cret@db.internal:5432/orders';

describe('htmqc run config: the ledger section', function () {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes a path string as the SQLite ledger, relative to the config file (the embedded default)', function () {
    assert.deepStrictEqual(config({ ledger: 'data/orders.db' }).ledger, { backend: 'sqlite', path: path.join(dir, 'data', 'orders.db') });
  });

  it('takes a sqlite object with its options', function () {
    assert.deepStrictEqual(config({ ledger: { backend: 'sqlite', path: 'o.db', synchronous: 'NORMAL', busyTimeoutMs: 100 } }).ledger,
      { backend: 'sqlite', path: path.join(dir, 'o.db'), synchronous: 'NORMAL', busyTimeoutMs: 100 });
  });

  it('takes a postgres object with the connection string in the file', function () {
    assert.deepStrictEqual(config({ ledger: { backend: 'postgres', url: PG, schema: 'orders_app', poolSize: 8, lostAnswerTimeoutMs: 0 } }).ledger,
      { backend: 'postgres', url: PG, urlSource: 'the config file', schema: 'orders_app', poolSize: 8, lostAnswerTimeoutMs: 0 });
    assert.deepStrictEqual(config({ ledger: { backend: 'postgres', url: PG, poolSize: 8, concurrentCommits: 6 } }).ledger,
      { backend: 'postgres', url: PG, urlSource: 'the config file', poolSize: 8, concurrentCommits: 6 });
  });

  it('reads the connection string from the environment variable { "env": NAME } names (a Kubernetes Secret)', function () {
    const c = config({ ledger: { backend: 'postgres', url: { env: 'ORDERS_PG_URL' } } }, { ORDERS_PG_URL: PG });
    assert.deepStrictEqual(c.ledger, { backend: 'postgres', url: PG, urlSource: 'environment variable ORDERS_PG_URL' });
  });

  it('refuses an unset or empty environment variable, naming it', function () {
    for (const env of [{}, { ORDERS_PG_URL: '' }]) {
      refuses({ ledger: { backend: 'postgres', url: { env: 'ORDERS_PG_URL' } } }, 'ledger.url.env', /environment variable ORDERS_PG_URL is not set/, env);
    }
  });

  it('refuses an unknown key, naming it (with the near miss)', function () {
    refuses({ ledger: { backend: 'postgres', url: PG, poolsize: 4 } }, 'ledger.poolsize', /is not an option \(did you mean poolSize\?\) of a postgres ledger/);
    refuses({ ledger: { backend: 'sqlite', path: 'o.db', url: PG } }, 'ledger.url', /is not an option .* of a sqlite ledger/);
    refuses({ ledger: { backend: 'postgres', url: { env: 'X', default: PG } } }, 'ledger.url.default', /is not an option/);
    refuses({ ledger: 'o.db', maxRetrys: 3 }, 'maxRetrys', /is not an option \(did you mean maxRetries\?\)/);
  });

  it('refuses a wrong type, naming the field and showing the bad value', function () {
    refuses({ ledger: { backend: 'postgres', url: PG, poolSize: '4' } }, 'ledger.poolSize', /must be an integer in 1\.\.100, got "4" \(a string\)/);
    refuses({ ledger: { backend: 'postgres', url: PG, poolSize: 0 } }, 'ledger.poolSize', /must be an integer in 1\.\.100, got 0/);
    refuses({ ledger: { backend: 'postgres', url: PG, concurrentCommits: 0 } }, 'ledger.concurrentCommits', /must be an integer in 1\.\.100, got 0/);
    refuses({ ledger: { backend: 'postgres', url: PG, concurrentCommit: 2 } }, 'ledger.concurrentCommit', /is not an option \(did you mean concurrentCommits\?\) of a postgres ledger/);
    refuses({ ledger: { backend: 'postgres', url: PG, connectTimeoutMs: 1.5 } }, 'ledger.connectTimeoutMs', /got 1\.5/);
    refuses({ ledger: { backend: 'postgres', url: PG, schema: 'Orders' } }, 'ledger.schema', /lower-case PostgreSQL identifier.*got "Orders"/);
    refuses({ ledger: { backend: 'postgres', url: PG, userSchema: 1 } }, 'ledger.userSchema', /must be SQL \(the effects' tables\).*got 1/);
    refuses({ ledger: { backend: 'postgres', url: 5432 } }, 'ledger.url', /or \{ "env": "NAME" \}.*got 5432/);
    refuses({ ledger: { backend: 'postgres' } }, 'ledger.url', /got nothing/);
    refuses({ ledger: { backend: 'postgres', url: { env: 3 } } }, 'ledger.url.env', /name of an environment variable, got 3/);
    refuses({ ledger: { backend: 'sqlite', path: 'o.db', synchronous: 'OFF' } }, 'ledger.synchronous', /got "OFF" \(a string\)/);
    refuses({ ledger: { backend: 'sqlite' } }, 'ledger.path', /got nothing/);
    refuses({ ledger: { backend: 'mysql', url: PG } }, 'ledger.backend', /must be "sqlite" or "postgres", got "mysql" \(a string\)/);
    refuses({ ledger: { path: 'o.db' } }, 'ledger.backend', /got nothing/);
    refuses({ ledger: 3 }, 'ledger', /got 3/);
    refuses({ ledger: '' }, 'ledger', /got "" \(a string\)/);
    refuses({}, 'ledger', /got undefined/);
  });

  it('refuses a url that is not a postgres:// connection string without printing it (it may hold a password)', function () {
    const fromFile = refuses({ ledger: { backend: 'postgres', url: 'mysql://app:s3cret@db/orders' } }, 'ledger.url', /starting with postgres:\/\//);
    const fromEnv = refuses({ ledger: { backend: 'postgres', url: { env: 'U' } } }, 'ledger.url.env', /environment variable U must hold/, { U: 'app:s3cret@db' });
    for (const e of [fromFile, fromEnv]) assert.ok(!e.message.includes('s3cret'), e.message);
  });

  it('describes the ledger for the log without the password', function () {
    const line = describeLedger(parseLedgerConfig({ backend: 'postgres', url: { env: 'U' }, schema: 'orders_app' }, dir, { U: PG }));
    assert.strictEqual(line, 'PostgreSQL ledger on db.internal:5432/orders (schema orders_app; connection string from environment variable U)');
  });

  it('opens the configured SQLite ledger with its options', async function () {
    const ledger = await openConfiguredLedger(parseLedgerConfig({ backend: 'sqlite', path: 'opened.db', busyTimeoutMs: 50 }, dir));
    try {
      assert.ok(ledger instanceof SqliteLedger);
      assert.strictEqual(ledger.path, path.join(dir, 'opened.db'));
      assert.deepStrictEqual(await ledger.fence({ topic: 't', partition: 0 }), { epoch: 1, next: 0 });
    } finally {
      await ledger.close();
    }
  });
});
