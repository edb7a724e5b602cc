// `make demo`: htmqc on its embedded default, end to end, in about a minute.
//
//  1. starts the local broker (tools/kafka/broker.sh) unless one answers on
//     HTMQC_KAFKA_PORT (default 19092);
//  2. creates a fresh topic (6 partitions) and produces 20,000 records;
//  3. runs a group of 3 consumer processes (tools/demo/worker.ts) sharing one
//     ledger, each with its gRPC state service and metrics: the SQLite file
//     .cache/demo/ledger.db (the embedded default), or with `--ledger
//     postgres` a fresh schema of the local PostgreSQL server (tools/postgres,
//     started unless it answers on HTMQC_PG_PORT, default 15432);
//  4. SIGKILLs one consumer at ~30% and another at ~60%, restarting each after
//     2 s (spec Crash, Restart; the survivors' Assign fences the dead ones);
//  5. shows progress (committed/expected, per process) once a second;
//  6. prints the audit from the ledger's rows against the topic's end
//     offsets: expected, committed, duplicated, lost (spec NoDuplicateInv,
//     NoGapInv), and exits 0 only if nothing is duplicated or lost.
// Ctrl-C stops the consumers gracefully (and the broker and PostgreSQL, if
// this started them).
// Options: --ledger sqlite|postgres, --messages N, --partitions N, --consumers N, --delay-ms N, --keep
// (keep the consumers running after the verdict, until Enter is pressed).

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { brokerAddress, repoRoot, startBroker, stopBroker, type BrokerOptions } from '../kafka/broker';
import { pgStatus, pgUrl, startPg, stopPg } from '../postgres/pg';
import { createStateClient } from '../../src/service';
import { audit, DEMO_EFFECTS_DDL, ledgerProgress, openDemoLedger, type DemoLedger } from './ledger';
import type { DemoWorkerOptions } from './worker';
import { createTopicReady } from '../kafka/topics';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const MESSAGES = flag('messages', 20000);
const PARTITIONS = flag('partitions', 6);
const CONSUMERS = flag('consumers', 3);
const DELAY_MS = flag('delay-ms', 3);
const KEEP = process.argv.includes('--keep');
const LEDGER = ((): 'sqlite' | 'postgres' => {
  const i = process.argv.indexOf('--ledger');
  if (i < 0) return 'sqlite';
  const v = process.argv[i + 1];
  if (v === 'sqlite' || v === 'postgres') return v;
  process.stderr.write(`demo: --ledger must be sqlite or postgres, got ${v === undefined ? 'nothing' : JSON.stringify(v)}\n`);
  process.exit(2);
})();
const SERVICE_PORT = flag('service-port', 9470);
const METRICS_PORT = flag('metrics-port', 9480);
const port = process.env['HTMQC_KAFKA_PORT'] ? Number(process.env['HTMQC_KAFKA_PORT']) : 19092;
const brokerOpts: BrokerOptions = { port };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (s: string): void => { process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}\n`); };

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  committed: number;
  committedBefore: number;
  held: number[];
  service: string;
  metrics: string;
  kills: number;
}

const slots: Slot[] = [];
let startedBroker = false;
let startedPg = false;
let stopping = false;

async function brokerAnswers(): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'htmqc-demo-probe', brokers: [brokerAddress(brokerOpts)], logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function spawnWorker(slot: Slot, opts: Omit<DemoWorkerOptions, 'servicePort' | 'metricsPort'>): Promise<void> {
  const child = fork(path.join(__dirname, 'worker.js'),
    [JSON.stringify({ ...opts, servicePort: SERVICE_PORT + slot.index, metricsPort: METRICS_PORT + slot.index })],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  slot.child = child;
  slot.committedBefore += slot.committed;
  slot.committed = 0;
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type: string; committed?: number; held?: number[]; service?: string; metrics?: string }) => {
      if (m.type === 'ready') {
        slot.service = m.service!;
        slot.metrics = m.metrics!;
        resolve();
      } else if (m.type === 'stats') {
        slot.committed = m.committed!;
        slot.held = m.held!;
      }
    });
    child.once('exit', (code, signal) => {
      if (slot.child === child) slot.child = undefined;
      if (!stopping && signal !== 'SIGKILL') log(`consumer ${slot.index} exited unexpectedly (${code ?? signal})`);
      reject(new Error(`consumer ${slot.index} exited before it was ready`));
    });
  });
}

function stopWorker(slot: Slot): Promise<void> {
  const child = slot.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.send({ type: 'stop' });
  });
}

/**
 * Waits for a line on stdin (Enter).  Not Ctrl-C: under make, SIGINT reaches
 * make too, which then reports "Error 130" whatever the demo's exit code.
 * Ends at once when stdin is closed (no terminal), so --keep never hangs a
 * script; SIGTERM still ends the demo through shutdown().
 */
function untilEnter(prompt: string): Promise<void> {
  log(prompt);
  return new Promise((resolve) => {
    const done = (): void => { process.stdin.pause(); resolve(); };
    process.stdin.once('data', done);
    process.stdin.once('end', done);
    process.stdin.resume();
  });
}

async function shutdown(code: number): Promise<never> {
  stopping = true;
  await Promise.all(slots.map(stopWorker));
  if (startedBroker) {
    log('stopping the broker this demo started');
    await stopBroker(brokerOpts).catch(() => undefined);
  }
  if (startedPg) {
    log('stopping the PostgreSQL server this demo started');
    await stopPg().catch(() => undefined);
  }
  process.exit(code);
}

/** A fresh, empty demo ledger with its effects' table; starts PostgreSQL when asked for it and it does not answer. */
async function prepareLedger(dir: string): Promise<DemoLedger> {
  if (LEDGER === 'sqlite') {
    const db = path.join(dir, 'ledger.db');
    for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
    const d = new Database(db);
    d.pragma('journal_mode = WAL');
    d.exec(DEMO_EFFECTS_DDL.sqlite);
    d.close();
    log(`ledger: SQLite ${path.relative(repoRoot(), db)} (embedded, WAL, synchronous=FULL)`);
    return { backend: 'sqlite', path: db };
  }
  if ((await pgStatus()).running) {
    log(`using the PostgreSQL server on ${pgUrl()}`);
  } else {
    log(`starting PostgreSQL on ${pgUrl()} (tools/postgres/pg.sh)`);
    const s = await startPg();
    startedPg = !s.alreadyRunning;
    log(`PostgreSQL up in ${(s.startupMs / 1000).toFixed(1)} s`);
  }
  // A schema of its own per run: the audit sees only this run's rows.
  const l: DemoLedger = { backend: 'postgres', url: pgUrl(), schema: `htmqc_demo_${Date.now()}` };
  const opened = await openDemoLedger(l);
  await opened.close();
  log(`ledger: PostgreSQL ${l.url}, schema ${l.schema} (READ COMMITTED + row locks, fsync and synchronous_commit on)`);
  return l;
}

async function main(): Promise<void> {
  process.on('SIGINT', () => {
    if (stopping) return;
    log('Ctrl-C: stopping the consumers');
    void shutdown(130);
  });
  process.on('SIGTERM', () => {
    if (stopping) return;
    log('SIGTERM: stopping the consumers');
    void shutdown(143);
  });
  const root = repoRoot();
  const dir = path.join(root, '.cache', 'demo');
  fs.mkdirSync(dir, { recursive: true });
  const ledger = await prepareLedger(dir);

  if (await brokerAnswers()) {
    log(`using the broker that answers on ${brokerAddress(brokerOpts)}`);
  } else {
    log(`starting the local broker on ${brokerAddress(brokerOpts)} (tools/kafka/broker.sh)`);
    const s = await startBroker(brokerOpts);
    startedBroker = !s.alreadyRunning;
    log(`broker up in ${(s.startupMs / 1000).toFixed(1)} s`);
  }
  const kafka = new Kafka({ clientId: 'htmqc-demo', brokers: [brokerAddress(brokerOpts)], logLevel: logLevel.NOTHING });
  const topic = `htmqc-demo-${Date.now()}`;
  const groupId = `${topic}-group`;
  const admin = kafka.admin();
  await admin.connect();
  await createTopicReady(admin, { topic, numPartitions: PARTITIONS, replicationFactor: 1 });
  log(`topic ${topic}: ${PARTITIONS} partitions; producing ${MESSAGES} records`);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let start = 0; start < MESSAGES; start += 1000) {
    const messages = [];
    for (let i = start; i < Math.min(MESSAGES, start + 1000); i++) messages.push({ partition: i % PARTITIONS, key: `k${i}`, value: `record ${i}` });
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  const ends = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
  const expected = ends.reduce((a, b) => a + b, 0);
  log(`produced; end offsets ${ends.join(' ')} (expected ${expected})`);

  const workerOpts = { brokers: brokerAddress(brokerOpts), topic, groupId, ledger, delayMs: DELAY_MS };
  for (let i = 0; i < CONSUMERS; i++) slots.push({ index: i, child: undefined, committed: 0, committedBefore: 0, held: [], service: '', metrics: '', kills: 0 });
  await Promise.all(slots.map((s) => spawnWorker(s, workerOpts)));
  log(`${CONSUMERS} consumers running; query them while the demo runs:`);
  for (const s of slots) log(`  consumer ${s.index}: node bin/htmqc.js status --address ${s.service}    curl ${s.metrics}`);

  const crashes = [{ at: 0.3, slot: 1 % CONSUMERS }, { at: 0.6, slot: 2 % CONSUMERS }];
  const deadline = Date.now() + 150000;
  let committed = 0;
  while (committed < expected) {
    if (Date.now() > deadline) {
      log(`gave up waiting: ${committed}/${expected} committed`);
      break;
    }
    await sleep(1000);
    committed = await ledgerProgress(ledger, topic);
    const per = slots.map((s) => `c${s.index}${s.child === undefined ? '(down)' : ''}: ${s.committedBefore + s.committed} [${s.held.join(',')}]`).join('  ');
    log(`committed ${committed}/${expected} (${((100 * committed) / expected).toFixed(0)}%)   ${per}`);
    const crash = crashes[0];
    if (crash !== undefined && committed >= crash.at * expected && committed < expected) {
      crashes.shift();
      const slot = slots[crash.slot]!;
      log(`CRASH: SIGKILL consumer ${slot.index} (pid ${slot.child?.pid}) mid-run; restarting it in 2 s`);
      slot.kills++;
      slot.child?.kill('SIGKILL');
      setTimeout(() => {
        if (stopping) return;
        spawnWorker(slot, workerOpts).then(() => log(`consumer ${slot.index} restarted (pid ${slot.child?.pid})`), () => undefined);
      }, 2000);
    }
  }
  await sleep(1500);
  const s0 = slots.find((s) => s.child !== undefined);
  if (s0 !== undefined) {
    const client = createStateClient(s0.service);
    try {
      const list = await client.call<{ partitions: { partition: number; ledger_next: number; high_watermark: number; lag: number }[] }>('ListPartitions', {});
      log(`gRPC ${s0.service} htmqc.v1.StateService/ListPartitions: ` +
        list.partitions.map((p) => `p${p.partition} next=${p.ledger_next} hw=${p.high_watermark} lag=${p.lag}`).join(', '));
    } catch (e) {
      log(`gRPC query failed: ${String(e)}`);
    } finally {
      client.close();
    }
  }
  // The audit runs before --keep waits, so a kept demo shows its verdict too:
  // every record is committed by now and nothing more is produced.
  const v = await audit(ledger, topic, ends);
  const ok = v.duplicated === 0 && v.lost === 0 && v.committed === v.expected;
  process.stdout.write([
    '',
    `audit of ${ledger.backend === 'sqlite' ? `the SQLite ledger ${path.relative(root, ledger.path)}` : `the PostgreSQL ledger ${pgUrl()} schema ${ledger.schema}`} against ${topic}'s end offsets (${slots.reduce((n, s) => n + s.kills, 0)} consumer crashes injected):`,
    `  expected    ${v.expected}`,
    `  committed   ${v.committed}`,
    `  duplicated  ${v.duplicated}`,
    `  lost        ${v.lost}`,
    `  verdict     ${ok ? 'EXACTLY ONCE' : 'FAILED'}`,
    `gRPC state services were on ${slots.map((s) => s.service).join(', ')}; metrics on ${slots.map((s) => s.metrics).join(', ')}`,
    KEEP ? '' : `(run \`make demo ARGS=--keep\` or \`node dist/tools/demo/run.js --keep\` to keep them up for grpcurl / curl after the verdict)`,
    '',
  ].join('\n'));
  await admin.disconnect();
  if (KEEP) await untilEnter(`--keep: the consumers keep running for grpcurl / curl (topic ${topic}); press Enter to stop them and end the demo`);
  stopping = true;
  await Promise.all(slots.map(stopWorker));
  await shutdown(ok ? 0 : 1);
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  void shutdown(2);
});
