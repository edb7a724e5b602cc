// Strict inputs of the htmqc command (issue 20 items 6, 7, 9, 10): every level
// of `htmqc run`'s config file, the whole file checked before anything is
// opened (no ledger file for a bad config, a port in use named by its config
// field), handler modules that cannot be loaded, and the flags of the client
// commands; each message names the file, field or flag and the bad value.
// The subprocess cases run node bin/htmqc.js; no broker (a bad input stops
// htmqc before it would connect).

import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { loadHandler, readRunConfig, RunConfigError } from '../../src/cli/commands/run';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'htmqc.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-run-strict-'));
const base = { brokers: ['127.0.0.1:9092'], groupId: 'orders', topics: ['orders'], ledger: 'orders.db' };
const handlerJs = path.join(dir, 'handler.js');
fs.writeFileSync(handlerJs, 'module.exports = async (message, tx) => { tx.execute("SELECT 1"); };\n');

function htmqc(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 20000, env: { ...process.env, ...env } }, (e, stdout, stderr) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout, stderr });
    });
  });
}

function write(name: string, body: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

/** readRunConfig must refuse `body` with exactly `field` and the exact message `<file>: <field> <rest>`. */
function refuses(body: Record<string, unknown>, field: string, rest: string | RegExp): void {
  const file = write('config.json', body);
  assert.throws(() => readRunConfig(file, {}), (e: unknown) => {
    assert.ok(e instanceof RunConfigError, String(e));
    assert.strictEqual(e.field, field);
    if (typeof rest === 'string') assert.strictEqual(e.message, `${file}: ${field} ${rest}`);
    else assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${field.replace(/[.[\]]/g, '\\$&')} ${rest.source}`));
    return true;
  });
}

after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('htmqc run: every level of the config file is strict', function () {
  it('names the JSON path of an unknown key at every level, with the near miss', function () {
    refuses({ ...base, maxRetrys: 3 }, 'maxRetrys', 'is not an option (did you mean maxRetries?)');
    refuses({ ...base, maxRetry: 3 }, 'maxRetry', 'is not an option (did you mean maxRetries?)');
    refuses({ ...base, service: { hosts: 'x' } }, 'service.hosts', 'is not an option (did you mean host?)');
    refuses({ ...base, service: { tls: { cert: 'c', key: 'k', clientCA: 'x' } } }, 'service.tls.clientCA', 'is not an option (did you mean clientCa?)');
    refuses({ ...base, metrics: { prot: 9 } }, 'metrics.prot', 'is not an option (known: host, port)');
    refuses({ ...base, ledger: { backend: 'sqlite', path: 'o.db', userSchema: { fil: 'a.sql' } } }, 'ledger.userSchema.fil', 'is not an option (did you mean file?)');
  });

  it('names the field and shows the bad value of every setting', function () {
    refuses({ ...base, groupId: '' }, 'groupId', 'must be a non-empty string, got "" (a string)');
    refuses({ ...base, topics: 'orders' }, 'topics', 'must be a non-empty array of topic names, got "orders" (a string)');
    refuses({ ...base, topics: ['orders', 7] }, 'topics[1]', 'must be a non-empty string, got 7');
    refuses({ ...base, brokers: ['127.0.0.1:9092', 'kafka'] }, 'brokers[1]', "must be host:port (e.g. 127.0.0.1:9470), got 'kafka'");
    refuses({ ...base, brokers: ['kafka:70000'] }, 'brokers[0]', 'must have a port from 1 to 65535, got 70000');
    refuses({ ...base, maxRetries: '3' }, 'maxRetries', 'must be an integer in [0, 254], got "3" (a string)');
    refuses({ ...base, stopTimeoutMs: -1 }, 'stopTimeoutMs', 'must be an integer in [0, 2147483647], got -1');
    refuses({ ...base, core: 'rust' }, 'core', "must be 'ts' or 'native', got \"rust\" (a string)");
    refuses({ ...base, clientId: 3 }, 'clientId', 'must be a non-empty string, got 3');
    refuses({ ...base, deadLetterTopic: 'orders' }, 'deadLetterTopic', 'must not be one of the consumed topics');
    refuses({ ...base, trace: 'no-such-dir/t.ndjson' }, 'trace', `is in a directory that does not exist: ${path.join(dir, 'no-such-dir')}`);
    refuses({ ...base, service: true }, 'service', 'must be false (off) or an object { "host": ..., "port": ... }, got true');
    refuses({ ...base, service: { port: 65536 } }, 'service.port', 'must be an integer in 0..65535 (0: any free port), got 65536');
    refuses({ ...base, metrics: { port: '9471' } }, 'metrics.port', 'must be an integer in 0..65535 (0: any free port), got "9471" (a string)');
    refuses({ ...base, service: { port: 19510 }, metrics: { port: 19510 } }, 'metrics.port', 'is 19510, the port of the state service too (service.port); give them different ports');
    refuses({ ...base, service: { tls: { cert: handlerJs } } }, 'service.tls.key', 'is missing (TLS takes a PEM cert and key)');
    refuses({ ...base, service: { tls: { cert: 'nope.pem', key: 'k.pem' } } }, 'service.tls.cert', `names ${path.join(dir, 'nope.pem')}, which cannot be read (ENOENT)`);
    refuses({ ...base, ledger: { backend: 'sqlite', path: 'o.db', userSchema: [1] } }, 'ledger.userSchema[0]', 'must be a string of SQL, got 1');
    refuses({ ...base, ledger: { backend: 'sqlite', path: 'o.db', userSchema: { file: 'none.sql' } } }, 'ledger.userSchema.file', `cannot read ${path.join(dir, 'none.sql')}: ENOENT`);
  });

  it('reads the user schema from a string, an array of statements or a file', function () {
    const sql = 'CREATE TABLE IF NOT EXISTS a (x INTEGER);\nCREATE TABLE IF NOT EXISTS b (y TEXT);\n';
    write('user.sql', sql);
    const read = (userSchema: unknown): unknown => {
      const c = readRunConfig(write('config.json', { ...base, ledger: { backend: 'sqlite', path: 'o.db', userSchema } }), {});
      return (c.ledger as { userSchema?: string }).userSchema;
    };
    assert.strictEqual(read('CREATE TABLE a (x)'), 'CREATE TABLE a (x)');
    assert.strictEqual(read(['CREATE TABLE a (x);', 'CREATE TABLE b (y)']), 'CREATE TABLE a (x);\nCREATE TABLE b (y)');
    assert.strictEqual(read({ file: 'user.sql' }), sql);
  });

  it('a bad groupId stops htmqc run before the ledger file exists', async function () {
    this.timeout(30000);
    const ledger = path.join(dir, 'bad-group.db');
    const r = await htmqc(['run', write('bad-group.json', { ...base, groupId: '', ledger: 'bad-group.db' }), handlerJs]);
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /bad-group\.json: groupId must be a non-empty string, got "" \(a string\)/);
    assert.ok(!fs.existsSync(ledger), `${ledger} must not be created`);
  });

  it('a port in use stops htmqc run with the config field and the port, before the ledger file exists', async function () {
    this.timeout(30000);
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(19511, '127.0.0.1', resolve));
    try {
      for (const [field, config] of [
        ['service', { service: { port: 19511 }, metrics: { port: 19512 } }],
        ['metrics', { service: { port: 19512 }, metrics: { port: 19511 } }],
      ] as const) {
        const r = await htmqc(['run', write(`busy-${field}.json`, { ...base, ...config, ledger: `busy-${field}.db` }), handlerJs]);
        assert.notStrictEqual(r.code, 0);
        assert.match(r.stderr, new RegExp(`busy-${field}\\.json: ${field}\\.port 19511: 127\\.0\\.0\\.1:19511, for the .*, is already in use \\(another htmqc run\\?\\); set another ${field}\\.port`));
        assert.doesNotMatch(r.stdout, /ledger|state service on|metrics on/, 'nothing was started');
        assert.ok(!fs.existsSync(path.join(dir, `busy-${field}.db`)));
      }
    } finally {
      holder.close();
    }
  });
});

describe('htmqc run: a handler module that cannot be loaded names the file and says why', function () {
  async function refusesHandler(name: string, body: string | undefined, message: RegExp): Promise<void> {
    const file = body === undefined ? path.join(dir, name) : write(name, body);
    await assert.rejects(loadHandler(file), (e: unknown) => {
      assert.ok(e instanceof RunConfigError, String(e));
      assert.strictEqual(e.field, 'handler');
      assert.ok(e.message.startsWith(`${file}: handler `), e.message);
      assert.match(e.message, message);
      return true;
    });
  }

  it('a .ts file: compile it to .js', async function () {
    await refusesHandler('h.ts', 'export const handler = async (m: unknown): Promise<void> => { f(1 };\n', /is TypeScript, which node v\d+\.\d+\.\d+ does not load: compile it to JavaScript/);
  });

  it('a syntax error, with the file and line', async function () {
    const file = path.join(dir, 'syntax.js');
    await refusesHandler('syntax.js', '// one\nmodule.exports = async (m, tx => {};\n', new RegExp(`cannot be loaded: SyntaxError: .* \\(at ${file.replace(/[.]/g, '\\.')}:2\\)`));
  });

  it('a missing file, a module that throws, and one without a function', async function () {
    await refusesHandler('missing.js', undefined, /is .*missing\.js, which cannot be read \(ENOENT\)/);
    await refusesHandler('throws.js', 'throw new Error("no config");\n', /cannot be loaded: it threw Error: no config/);
    await refusesHandler('nofn.js', 'exports.name = "x";\n', /must export a function .*; it exports name/);
  });

  it('loads an ES module (export default) and a CommonJS one', async function () {
    assert.strictEqual(typeof await loadHandler(write('esm.mjs', 'export default async function handler(m, tx) {}\n')), 'function');
    assert.strictEqual(typeof await loadHandler(handlerJs), 'function');
  });
});

describe('htmqc client flags name the flag and the bad value', function () {
  this.timeout(60000);
  it('refuses each bad value before connecting', async function () {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['status', '--address', 'localhost'], {}, /option '-a, --address <host:port>' argument 'localhost' is invalid\. It must be host:port/],
      [['watch', '--address', '127.0.0.1:0'], {}, /option '-a, --address <host:port>' argument '127\.0\.0\.1:0' is invalid\. It must have a port from 1 to 65535, got 0/],
      [['status'], { HTMQC_SERVICE_ADDRESS: 'x:99999' }, /option '-a, --address <host:port>' value 'x:99999' from env 'HTMQC_SERVICE_ADDRESS' is invalid/],
      [['status', '--ca', 'nope.pem'], {}, /option '--ca <file>' argument 'nope\.pem' is invalid\. No such file 'nope\.pem'/],
      [['status', '--ca', '.'], {}, /option '--ca <file>' argument '\.' is invalid\. '\.' is not a file/],
      [['status', '--ca', handlerJs, '--cert', handlerJs], {}, /option '--cert <file>' needs '--key <file>' too/],
      [['status', '--server-name', 'x'], {}, /option '--server-name <name>' is a TLS option and needs '--ca <file>'/],
      [['watch', '--topic', ''], {}, /option '--topic <topic>' argument '' is invalid\. It must be a topic name/],
      [['status', '--token', ' '], {}, /option '--token <token>' argument ' ' is invalid/],
      [['conformance', '--vectors', 'none.ndjson', '--impl', 'x'], {}, /option '--vectors <file>' argument 'none\.ndjson' is invalid\. No such file/],
      [['conformance', '--impl', ''], {}, /option '--impl <command>' argument '' is invalid\. It must be a shell command/],
    ];
    for (const [args, env, message] of cases) {
      const r = await htmqc(args, env);
      assert.notStrictEqual(r.code, 0, `${args.join(' ')} must fail`);
      assert.match(r.stderr, message, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
