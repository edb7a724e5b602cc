// make package: the npm package as a user gets it, and the README quickstart
// as written.  npm pack (prepack: make prebuilds), then for a CommonJS and an
// ESM project, each fresh and outside the repository (no parent node_modules,
// no npm_config_* of the Makefile): the quickstart's shell block run line by
// line (`npm install htmqc kafkajs` with the tarball for htmqc; the
// `kafka-topics.sh --create` lines through Kafka's TopicCommand) against a
// fresh real broker, its SQLite block type-checked against the installed
// package's types and run, records produced, the consumer SIGKILLed
// mid-run and restarted, and the audit: the effects table holds each record
// exactly once and the ledger's committed ranges cover every offset once.
// HTMQC_README=<file> runs another README (a drifted copy must fail).

import * as assert from 'assert';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import * as ts from 'typescript';
import { brokerAddress, repoRoot, startBroker, stopBroker, wipeBroker, type BrokerOptions } from '../../tools/kafka/broker';
import { committedRanges, exceptionalOffsets } from '../../src';
import { quickstartBlocks, quickstartCommands, README_BROKER, uncreatedTopics, withBroker } from '../readme/quickstart';

const root = repoRoot();
const readmeFile = process.env['HTMQC_README'] ?? path.join(root, 'README.md');
const RECORDS = 4000;
const KILL_AFTER = 1000;
/** A broker of its own (never the development broker on 19092, which it would wipe): HTMQC_TEST_PACKAGE_KAFKA_PORT, default 19396. */
const brokerPort = Number(process.env['HTMQC_TEST_PACKAGE_KAFKA_PORT'] || 19396);
if (!Number.isInteger(brokerPort) || brokerPort < 1 || brokerPort > 65534) {
  throw new Error(`HTMQC_TEST_PACKAGE_KAFKA_PORT must be a port number, got ${JSON.stringify(process.env['HTMQC_TEST_PACKAGE_KAFKA_PORT'])}`);
}
const broker: BrokerOptions = { port: brokerPort, controllerPort: brokerPort + 1, dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `test-package-${brokerPort}`) };

/** The environment of a user's shell: none of npm's or the Makefile's npm_config_* variables. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'HTMQC_CORE' && k !== 'HTMQC_NATIVE_ADDON') env[k] = v;
  return { ...env, ...extra };
}

function log(line: string): void {
  console.log(`      ${line}`);
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface Packed { file: string; size: number; unpackedSize: number; entryCount: number; files: string[]; seconds: number }

function pack(dest: string): Packed {
  const t0 = Date.now();
  const out = run('npm', ['pack', '--json', '--pack-destination', dest], root, process.env);
  const [j] = JSON.parse(out) as { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[];
  return { file: path.join(dest, j!.filename), size: j!.size, unpackedSize: j!.unpackedSize, entryCount: j!.entryCount,
    files: j!.files.map((f) => f.path), seconds: (Date.now() - t0) / 1000 };
}

/** A bin dir with kafka-topics.sh as Kafka ships it: TopicCommand on the broker's classpath. */
function kafkaTopicsShim(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const libs = path.join(root, '.cache', 'kafka', 'libs');
  fs.writeFileSync(path.join(bin, 'kafka-topics.sh'),
    `#!/bin/sh\nexec java -Dlog4j.configuration=file:/dev/null -cp '${libs}/*' org.apache.kafka.tools.TopicCommand "$@"\n`, { mode: 0o755 });
  return bin;
}

/** Runs the quickstart's shell commands in `project`; returns the seconds the npm install took. */
function runCommands(readme: string, project: string, tarball: string, bin: string): number {
  let installSeconds = -1;
  const env = userEnv({ PATH: `${bin}:${process.env['PATH'] ?? ''}` });
  for (const command of quickstartCommands(readme)) {
    let line = command.split(README_BROKER).join(brokerAddress(broker));
    const isInstall = /^npm install /.test(line);
    if (isInstall) {
      assert.match(line, /^npm install htmqc( |$)/, `the README's install command names htmqc first: ${command}`);
      line = line.replace(/^npm install htmqc/, `npm install --prefer-offline --no-audit --no-fund ${tarball}`);
    }
    const t0 = Date.now();
    run('bash', ['-euo', 'pipefail', '-c', line], project, env);
    if (isInstall) installSeconds = (Date.now() - t0) / 1000;
    log(`$ ${command}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  assert.ok(installSeconds >= 0, 'the quickstart has an npm install command');
  return installSeconds;
}

/** Type-checks `source` against the project's installed htmqc and writes the JS; throws with every diagnostic. */
function compile(project: string, source: string, esm: boolean): string {
  const file = path.join(project, 'quickstart.ts');
  fs.writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16,
    skipLibCheck: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], lib: ['lib.es2022.d.ts'],
    outDir: project, rootDir: project,
  });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...program.emit().diagnostics].map((d) =>
    `${d.file ? path.basename(d.file.fileName) : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  assert.deepStrictEqual(diagnostics, [], `the quickstart (${esm ? 'ESM' : 'CommonJS'}) does not compile against the installed package`);
  const out = path.join(project, 'quickstart.js');
  const js = fs.readFileSync(out, 'utf8');
  assert.strictEqual(/\brequire\("htmqc"\)/.test(js), !esm, `compiled as ${esm ? 'an ES module' : 'CommonJS'}`);
  return out;
}

/** The block as a CommonJS script: imports first, the rest inside an async main (the block uses top-level await). */
function asCommonJs(block: string): string {
  const lines = block.split('\n');
  return [...lines.filter((l) => l.startsWith('import ')), 'async function main(): Promise<void> {',
    ...lines.filter((l) => !l.startsWith('import ')), '}', 'main().catch((e) => { console.error(e); process.exit(1); });', ''].join('\n');
}

interface Consumer { child: ChildProcess; output: () => string; exited: Promise<number | null> }

function startConsumer(project: string, script: string): Consumer {
  const child = spawn(process.execPath, [script], { cwd: project, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => { output += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { output += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function rowCount(db: string): number {
  if (!fs.existsSync(db)) return 0;
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const has = conn.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'orders'").get() as { n: number };
    return has.n === 0 ? 0 : (conn.prepare('SELECT count(*) AS n FROM orders').get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    conn.close();
  }
}

async function until(what: string, timeoutMs: number, ok: () => boolean, consumer?: Consumer): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${consumer ? `; consumer output:\n${consumer.output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function produce(kafka: Kafka, values: string[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 50) {
      await producer.send({ topic: 'orders', messages: values.slice(i, i + 50).map((value) => ({ value })) });
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every offset of the topic once in the effects table and once in the ledger's ranges; returns [expected, duplicated, lost]. */
async function audit(kafka: Kafka, db: string, values: string[]): Promise<{ expected: number; committed: number; duplicated: number; lost: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets('orders').finally(() => admin.disconnect());
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const rows = conn.prepare('SELECT id, CAST(body AS TEXT) AS body FROM orders').all() as { id: string; body: string }[];
    const ids = new Set(rows.map((r) => r.id));
    let expected = 0;
    let lost = 0;
    for (const e of ends) {
      for (let o = 0; o < Number(e.high); o++, expected++) if (!ids.has(`orders/${e.partition}/${o}`)) lost++;
      const ranges = [...committedRanges(conn, 'orders', e.partition)];
      let next = 0;
      for (const r of ranges) {
        assert.strictEqual(r.first, next, `ledger: partition ${e.partition}'s ranges are contiguous from 0 (${JSON.stringify(ranges)})`);
        next = r.next;
      }
      assert.strictEqual(next, Number(e.high), `ledger: partition ${e.partition} committed up to its high watermark`);
    }
    assert.deepStrictEqual([...exceptionalOffsets(conn, 'orders')], [], 'no offset dead-lettered or absent');
    const bodies = rows.map((r) => r.body).sort();
    const duplicated = rows.length - ids.size + bodies.filter((b, i) => i > 0 && bodies[i - 1] === b).length;
    assert.deepStrictEqual(bodies, [...values].sort(), 'the effects table holds every produced value once');
    return { expected, committed: rows.length, duplicated, lost };
  } finally {
    conn.close();
  }
}

describe('make package: the npm tarball, installed fresh, runs the README quickstart exactly once', function () {
  const readme = fs.readFileSync(readmeFile, 'utf8');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-package-'));
  let packed: Packed;
  const figures: string[] = [];

  before(function () {
    this.timeout(300000);
    log(`README: ${readmeFile}`);
    packed = pack(work);
    log(`pack: ${path.basename(packed.file)} ${(packed.size / 1e6).toFixed(2)} MB (unpacked ${(packed.unpackedSize / 1e6).toFixed(1)} MB), ` +
      `${packed.entryCount} files, ${packed.seconds.toFixed(1)} s`);
  });

  after(async function () {
    this.timeout(60000);
    await stopBroker(broker).catch((e: unknown) => console.error(`      stopping the broker failed: ${String(e)}`));
    for (const f of figures) log(f);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('packs the build, both entries, the prebuilds and the bundled better-sqlite3, and no tests or sources maps', function () {
    for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'esm/index.mjs', 'esm/index.d.mts', 'bin/htmqc.js', 'proto/htmqc/v1/state.proto',
      'prebuilds/linux-x64/htmqc.glibc.node', 'binding.gyp', 'native/src/addon.cc', 'tools/package/install.js', '.prebuild-installrc',
      'node_modules/better-sqlite3/package.json']) assert.ok(packed.files.includes(f), `the tarball has ${f}`);
    assert.ok(packed.files.some((f) => /^prebuilds\/better-sqlite3-v[\d.]+-node-v\d+-linux-x64\.tar\.gz$/.test(f)), 'the better-sqlite3 prebuild');
    assert.deepStrictEqual(packed.files.filter((f) => /^dist\/(test|bench|tools)\/|\.map$/.test(f)), []);
  });

  for (const esm of [false, true]) {
    const kind = esm ? 'ESM' : 'CommonJS';
    it(`${kind} project: install compiles nothing; the quickstart consumes ${RECORDS} records through a SIGKILL, 0 duplicated, 0 lost`, async function () {
      this.timeout(240000);
      const project = path.join(work, esm ? 'esm' : 'cjs');
      fs.mkdirSync(project, { recursive: true });
      fs.writeFileSync(path.join(project, 'package.json'),
        JSON.stringify({ name: `quickstart-${esm ? 'esm' : 'cjs'}`, private: true, ...(esm ? { type: 'module' } : {}) }, null, 2));
      await wipeBroker(broker);
      const started = await startBroker(broker);
      log(`${kind}: broker on ${started.address} in ${started.startupMs} ms`);

      const block = quickstartBlocks(readme)[0];
      assert.ok(block !== undefined && /openSqliteLedger\(/.test(block), 'the first quickstart block opens the SQLite ledger');
      assert.deepStrictEqual(uncreatedTopics(readme, block), [], 'every topic the quickstart uses is created by its commands');
      const installSeconds = runCommands(readme, project, packed.file, kafkaTopicsShim(work));
      const installed = path.join(project, 'node_modules', 'htmqc');
      const sqliteDir = path.join(installed, 'node_modules', 'better-sqlite3');
      assert.ok(!fs.existsSync(path.join(installed, 'build')), 'the native core was not compiled (no build/)');
      assert.ok(fs.existsSync(path.join(sqliteDir, 'build', 'Release', 'better_sqlite3.node')), 'better-sqlite3 has its binary');
      assert.ok(!fs.existsSync(path.join(sqliteDir, 'build', 'Release', 'obj.target')), 'better-sqlite3 was not compiled');
      figures.push(`${kind}: npm install of the tarball + kafkajs into an empty project: ${installSeconds.toFixed(1)} s`);
      log(`${kind}: install ${installSeconds.toFixed(1)} s, nothing compiled`);

      const source = withBroker(esm ? block : asCommonJs(block), brokerAddress(broker), 'quickstart block 1');
      const script = compile(project, source, esm);
      const kafka = new Kafka({ clientId: 'package-test', brokers: [brokerAddress(broker)], logLevel: logLevel.NOTHING });
      const values = Array.from({ length: RECORDS }, (_, i) => `order-${esm ? 'esm' : 'cjs'}-${i}`);
      const db = path.join(project, 'orders.db');

      // The first half is produced while run 1 consumes (50 records every
      // 50 ms), run 1 is SIGKILLed once it committed KILL_AFTER, the second
      // half is produced while no consumer runs, then run 2 recovers.
      const half = RECORDS / 2;
      const first = startConsumer(project, script);
      const producing = produce(kafka, values.slice(0, half));
      await until(`${KILL_AFTER} effects in orders.db`, 90000, () => rowCount(db) >= KILL_AFTER, first);
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = rowCount(db);
      log(`${kind}: run 1 SIGKILLed with ${atKill} of ${RECORDS} effects committed`);
      await producing;
      await produce(kafka, values.slice(half));
      assert.ok(atKill < RECORDS, `the kill came mid-run (${atKill} < ${RECORDS})`);

      const second = startConsumer(project, script);
      const t0 = Date.now();
      await until(`all ${RECORDS} effects after the restart`, 120000, () => rowCount(db) >= RECORDS, second);
      log(`${kind}: run 2 (restarted) completed the rest in ${((Date.now() - t0) / 1000).toFixed(1)} s; SIGTERM`);
      second.child.kill('SIGTERM');
      const code = await Promise.race([second.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30000))]);
      if (code === 'hung') second.child.kill('SIGKILL');
      assert.strictEqual(code, 0, `the quickstart stops on SIGTERM and exits 0; output:\n${second.output()}`);
      for (const c of [first, second]) assert.doesNotMatch(c.output(), /HTMQC_NO_NATIVE_CORE|ConsumerFatalError/, c.output());

      const verdict = await audit(kafka, db, values);
      log(`${kind}: audit expected ${verdict.expected}, committed ${verdict.committed}, duplicated ${verdict.duplicated}, lost ${verdict.lost}`);
      assert.deepStrictEqual(verdict, { expected: RECORDS, committed: RECORDS, duplicated: 0, lost: 0 });
      figures.push(`${kind}: audit ${JSON.stringify(verdict)}`);
      await stopBroker(broker);
    });
  }

  after(function () {
    log(`tarball ${(packed.size / 1e6).toFixed(2)} MB, ${packed.entryCount} files`);
  });
});
