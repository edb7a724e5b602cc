// `make demo`: htmqc on its embedded default, end to end, in about a minute.
//
//  1. starts the local broker (tools/kafka/broker.sh) unless one answers on
//     HTMQC_KAFKA_PORT (default 19092);
//  2. creates a fresh topic (6 partitions) and produces 20,000 records;
//  3. runs a group of 3 consumer processes (tools/demo/worker.ts) sharing one SQLite
//     ledger under .cache/demo/, each with its gRPC state service and metrics;
//  4. SIGKILLs one consumer at ~30% and another at ~60%, restarting each after
//     2 s (spec Crash, Restart; the survivors' Assign fences the dead ones);
//  5. shows progress (committed/expected, per process) once a second;
//  6. prints the audit from the ledger's rows against the topic's end
//     offsets: expected, committed, duplicated, lost (spec NoDuplicateInv,
//     NoGapInv), and exits 0 only if nothing is duplicated or lost.
// Ctrl-C stops the consumers gracefully (and the broker, if this started it).
// Options: --messages N, --partitions N, --consumers N, --delay-ms N, --keep
// (keep the consumers running after the verdict, until Enter is pressed).

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { brokerAddress, repoRoot, startBroker, stopBroker, type BrokerOptions } from '../kafka/broker';
import { createStateClient } from '../../src/service';
import type { DemoWorkerOptions } from './worker';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const MESSAGES = flag('messages', 20000);
const PARTITIONS = flag('partitions', 6);
const CONSUMERS = flag('consumers', 3);
const DELAY_MS = flag('delay-ms', 3);
const KEEP = process.argv.includes('--keep');
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

function ledgerProgress(db: string, topic: string): number {
  try {
    const d = new Database(db, { readonly: true, timeout: 2000 });
    try {
      return (d.prepare('SELECT coalesce(sum(next), 0) AS n FROM htmqc_partitions WHERE topic = ?').get(topic) as { n: number }).n;
    } finally {
      d.close();
    }
  } catch {
    return 0;
  }
}

interface Verdict { expected: number; committed: number; duplicated: number; lost: number; effects: number }

/** Ledger rows against the topic's end offsets: every offset below its end has one outcome and one effect. */
function audit(db: string, topic: string, ends: number[]): Verdict {
  const d = new Database(db, { readonly: true });
  try {
    const expected = ends.reduce((a, b) => a + b, 0);
    let committed = 0;
    let lost = 0;
    for (let p = 0; p < ends.length; p++) {
      const next = (d.prepare('SELECT next FROM htmqc_partitions WHERE topic = ? AND partition = ?').get(topic, p) as { next: number } | undefined)?.next ?? 0;
      committed += (d.prepare(
        'SELECT coalesce(sum(min(next, @end) - first), 0) AS n FROM htmqc_ranges WHERE topic = @topic AND partition = @p AND first < @end',
      ).get({ topic, p, end: ends[p] }) as { n: number }).n;
      const distinct = (d.prepare('SELECT count(DISTINCT offset) AS n FROM demo_effects WHERE topic = ? AND partition = ? AND offset < ?')
        .get(topic, p, ends[p]) as { n: number }).n;
      lost += ends[p]! - Math.min(distinct, next, ends[p]!);
    }
    const duplicated = (d.prepare(
      'SELECT coalesce(sum(c - 1), 0) AS n FROM (SELECT count(*) AS c FROM demo_effects WHERE topic = ? GROUP BY partition, offset HAVING c > 1)',
    ).get(topic) as { n: number }).n;
    const effects = (d.prepare('SELECT count(*) AS n FROM demo_effects WHERE topic = ?').get(topic) as { n: number }).n;
    return { expected, committed, duplicated, lost, effects };
  } finally {
    d.close();
  }
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
  process.exit(code);
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
  const db = path.join(dir, 'ledger.db');
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  const d = new Database(db);
  d.pragma('journal_mode = WAL');
  d.exec('CREATE TABLE demo_effects (topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, pid INTEGER NOT NULL)');
  d.close();

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
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
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

  const workerOpts = { brokers: brokerAddress(brokerOpts), topic, groupId, db, delayMs: DELAY_MS };
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
    committed = ledgerProgress(db, topic);
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
  const v = audit(db, topic, ends);
  const ok = v.duplicated === 0 && v.lost === 0 && v.committed === v.expected;
  process.stdout.write([
    '',
    `audit of ${path.relative(root, db)} against ${topic}'s end offsets (${slots.reduce((n, s) => n + s.kills, 0)} consumer crashes injected):`,
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
