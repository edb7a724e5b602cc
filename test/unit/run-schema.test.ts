// schema/htmqc-run.schema.json, the JSON Schema of `htmqc run`'s config file:
// the README's example configs and every example config in the repository
// are valid under it and are accepted by readRunConfig; configs that either
// refuses, both refuse; and its key lists and integer bounds are the ones the
// code checks (src/cli/commands/run.ts, ledger-config.ts, src/runtime/config.ts),
// so the schema cannot drift from the code.  No broker.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Ajv2020 from 'ajv/dist/2020';
import {
  CONSUMER_KEYS_SET_BY_RUN, METRICS_KEYS, readRunConfig, RUN_CONFIG_KEYS, RunConfigError, SERVICE_KEYS, TLS_KEYS,
} from '../../src/cli/commands/run';
import { POSTGRES_KEYS, SQLITE_KEYS, USER_SCHEMA_FILE_KEYS } from '../../src/cli/commands/ledger-config';
import { CONSUMER_CONFIG_KEYS, CONSUMER_SETTING_KEYS } from '../../src/runtime/config';
import { SQLITE_OPTION_KEYS } from '../../src/ledger/sqlite/ledger';

const root = path.join(__dirname, '..', '..', '..');
type JsonSchema = { properties?: Record<string, JsonSchema>; oneOf?: JsonSchema[]; $defs?: Record<string, JsonSchema>; $ref?: string; minimum?: number; maximum?: number; type?: string };
const schema = JSON.parse(fs.readFileSync(path.join(root, 'schema', 'htmqc-run.schema.json'), 'utf8')) as JsonSchema;
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
const PG_ENV = { HTMQC_PG_URL: 'postgres://app@db:5432/orders' };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-run-schema-'));
fs.copyFileSync(path.join(root, 'examples', 'run', 'schema.sql'), path.join(dir, 'schema.sql'));
let n = 0;

/** readRunConfig on `config` written to a file in `where`; the error, or undefined when it is accepted. */
function codeVerdict(config: unknown, where = dir): RunConfigError | undefined {
  const file = path.join(where, `schema-check-${n++}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  try {
    readRunConfig(file, PG_ENV);
    return undefined;
  } catch (e) {
    if (e instanceof RunConfigError) return e;
    throw e;
  } finally {
    fs.rmSync(file);
  }
}

function schemaErrors(config: unknown): string {
  return validate(config) ? '' : JSON.stringify(validate.errors);
}

function keysOf(s: JsonSchema | undefined): string[] {
  return Object.keys(s?.properties ?? {}).sort();
}

function objectBranch(s: JsonSchema): JsonSchema {
  return s.oneOf!.find((b) => b.type === 'object')!;
}

/** The ```json blocks of README.md that are htmqc run configs (they have "brokers"). */
function readmeConfigs(): unknown[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>).filter((c) => 'brokers' in c);
}

/** Every committed .json file that is an htmqc run config (a "brokers" and a "groupId" key at the top). */
function exampleConfigs(): string[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.json'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  return files.filter((f) => {
    if (f.startsWith('spec/') || f === 'package.json' || f === 'package-lock.json') return false;
    try {
      const c = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8')) as unknown;
      return c !== null && typeof c === 'object' && !Array.isArray(c) && 'brokers' in c && 'groupId' in c;
    } catch {
      return false;
    }
  });
}

describe('schema/htmqc-run.schema.json: the config file of htmqc run', function () {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the README\'s example configs are valid and readRunConfig accepts them', function () {
    const configs = readmeConfigs();
    assert.ok(configs.length >= 2, `README.md has the htmqc run example and the PostgreSQL ledger example, found ${configs.length}`);
    for (const c of configs) {
      assert.strictEqual(schemaErrors(c), '', JSON.stringify(c));
      assert.strictEqual(codeVerdict(c)?.message, undefined, JSON.stringify(c));
    }
  });

  it('every example config in the repository is valid and readRunConfig accepts it in its own directory', function () {
    const files = exampleConfigs();
    assert.ok(files.includes('examples/run/orders.json'), `examples found: ${files.join(', ')}`);
    for (const f of files) {
      const c = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8')) as unknown;
      assert.strictEqual(schemaErrors(c), '', f);
      assert.strictEqual(codeVerdict(c, path.dirname(path.join(root, f)))?.message, undefined, f);
    }
  });

  it('refuses what the code refuses, at every level (a known-bad input for each rule)', function () {
    const ok = { brokers: ['127.0.0.1:9092'], groupId: 'g', topics: ['t'], ledger: 'l.db' };
    assert.strictEqual(schemaErrors(ok), '');
    assert.strictEqual(codeVerdict(ok), undefined);
    const bad: [Record<string, unknown>, string][] = [
      [{ ...ok, maxRetrys: 3 }, 'maxRetrys'],
      [{ ...ok, maxRetries: '3' }, 'maxRetries'],
      [{ ...ok, maxRetries: 255 }, 'maxRetries'],
      [{ ...ok, groupId: '' }, 'groupId'],
      [{ ...ok, topics: [] }, 'topics'],
      [{ ...ok, topics: ['t', 't'] }, 'topics'],
      [{ ...ok, brokers: ['kafka'] }, 'brokers[0]'],
      [{ ...ok, core: 'rust' }, 'core'],
      [{ ...ok, service: true }, 'service'],
      [{ ...ok, service: { prot: 1 } }, 'service.prot'],
      [{ ...ok, service: { port: 65536 } }, 'service.port'],
      [{ ...ok, service: { tls: { cert: 'c.pem', key: 'k.pem', clientCA: 'ca.pem' } } }, 'service.tls.clientCA'],
      [{ ...ok, metrics: { hots: 'x' } }, 'metrics.hots'],
      [{ ...ok, ledger: { backend: 'sqlite', path: 'l.db', userSchema: { fiel: 'x.sql' } } }, 'ledger.userSchema.fiel'],
      [{ ...ok, ledger: { backend: 'postgres', url: { env: 'HTMQC_PG_URL' }, poolsize: 4 } }, 'ledger.poolsize'],
      [{ ...ok, ledger: { backend: 'postgres', url: { env: 'HTMQC_PG_URL', default: 'x' } } }, 'ledger.url.default'],
    ];
    for (const [config, field] of bad) {
      assert.notStrictEqual(schemaErrors(config), '', `the schema must refuse ${JSON.stringify(config)}`);
      assert.strictEqual(codeVerdict(config)?.field, field, JSON.stringify(config));
    }
  });

  it('has exactly the keys the code reads, at every level', function () {
    assert.deepStrictEqual(keysOf(schema), [...RUN_CONFIG_KEYS].sort());
    const service = objectBranch(schema.properties!['service']!);
    assert.deepStrictEqual(keysOf(service), [...SERVICE_KEYS].sort());
    assert.deepStrictEqual(keysOf(service.properties!['tls']), [...TLS_KEYS].sort());
    assert.deepStrictEqual(keysOf(objectBranch(schema.properties!['metrics']!)), [...METRICS_KEYS].sort());
    assert.deepStrictEqual(keysOf(schema.$defs!['sqliteLedger']), [...SQLITE_KEYS].sort());
    assert.deepStrictEqual(keysOf(schema.$defs!['postgresLedger']), [...POSTGRES_KEYS].sort());
    assert.deepStrictEqual(keysOf(objectBranch(schema.$defs!['userSchema']!)), [...USER_SCHEMA_FILE_KEYS].sort());
    // The sqlite section is openSqliteLedger's options less the one a config file has no use for (a test hook).
    assert.deepStrictEqual(SQLITE_KEYS.filter((k) => k !== 'backend').sort(), SQLITE_OPTION_KEYS.filter((k) => k !== 'commitThread').sort());
  });

  it('covers every createConsumer option: in the file, or set by htmqc run itself', function () {
    const inFile = CONSUMER_SETTING_KEYS as readonly string[];
    const setByRun = Object.keys(CONSUMER_KEYS_SET_BY_RUN);
    for (const k of inFile) assert.ok(RUN_CONFIG_KEYS.includes(k), `${k} is a consumer setting the file must offer`);
    assert.deepStrictEqual([...inFile, ...setByRun].sort(), [...CONSUMER_CONFIG_KEYS].sort(),
      'each ConsumerConfig key is either a setting of the file or one htmqc run sets (CONSUMER_KEYS_SET_BY_RUN), not both');
    for (const k of setByRun.filter((key) => key !== 'ledger')) assert.ok(!RUN_CONFIG_KEYS.includes(k), `${k} is set by htmqc run, not read from the file`);
  });

  it('gives every integer setting the bounds the runtime checks', function () {
    const ok = { brokers: ['127.0.0.1:9092'], groupId: 'g', topics: ['t'], ledger: 'l.db' };
    const integers = Object.entries(schema.properties!).filter(([, s]) => s.type === 'integer');
    assert.ok(integers.length >= 6, `integer settings: ${integers.map(([k]) => k).join(', ')}`);
    for (const [key, s] of integers) {
      for (const v of [s.minimum!, s.maximum!]) assert.strictEqual(codeVerdict({ ...ok, [key]: v }), undefined, `${key}: ${v} is in the schema's bounds`);
      for (const v of [s.minimum! - 1, s.maximum! + 1]) {
        assert.strictEqual(codeVerdict({ ...ok, [key]: v })?.field, key, `${key}: ${v} is outside the schema's bounds, and the code must say so`);
        assert.notStrictEqual(schemaErrors({ ...ok, [key]: v }), '');
      }
    }
  });
});
