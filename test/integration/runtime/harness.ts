// Shared helpers of the runtime integration tests: a broker per test file,
// topic creation, producing N records, and the exactly-once audit read from
// the SQLite ledger.

import * as assert from 'assert';
import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { committedRanges, exceptionalOffsets, OUTCOME_DEAD_LETTERED } from '../../../src/ledger';
import { brokerAddress, brokerTimings, repoRoot, startBroker, stopBroker, wipeBroker, type BrokerOptions } from '../../../tools/kafka/broker';

export function brokerOptions(port: number, name: string): BrokerOptions {
  return { port, controllerPort: port + 1, dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `test-runtime-${name}-${port}`) };
}

/**
 * Registers the mocha hooks every runtime suite shares: a wiped broker of its
 * own started before the suite (with an empty work directory), and stopped
 * after it even when a test failed.
 */
export function useSuiteBroker(opts: BrokerOptions, workDir: string): void {
  before(async function () {
    this.timeout(90000);
    await wipeBroker(opts);
    const started = await startBroker(opts);
    console.log(`      broker on ${started.address} in ${started.startupMs} ms`);
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.mkdirSync(workDir, { recursive: true });
  });

  after(async function () {
    this.timeout(60000);
    await stopBroker(opts).catch((e: unknown) => console.error(`      stopping the broker failed: ${String(e)}`));
    console.log(`      broker timings (ms): ${JSON.stringify(brokerTimings)}`);
  });
}

export function kafkaClient(opts: BrokerOptions, clientId: string): Kafka {
  return new Kafka({
    clientId, brokers: [brokerAddress(opts)], logLevel: logLevel.NOTHING, connectionTimeout: 3000, requestTimeout: 15000,
    retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 3000 },
  });
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Produces n records round-robin over the partitions; key = "k<i>", value = 100 bytes. Returns per-partition counts. */
export async function produce(kafka: Kafka, topic: string, partitions: number, n: number, keyOf = (i: number) => `k${i}`): Promise<number[]> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const counts = new Array<number>(partitions).fill(0);
  const pad = 'x'.repeat(90);
  try {
    for (let start = 0; start < n; start += 1000) {
      const messages = [];
      for (let i = start; i < Math.min(n, start + 1000); i++) {
        const partition = i % partitions;
        counts[partition]!++;
        messages.push({ partition, key: keyOf(i), value: `${String(i).padStart(10, '0')}${pad}` });
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
  return counts;
}

export const EFFECTS_DDL =
  'CREATE TABLE IF NOT EXISTS test_effects (topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, pid INTEGER NOT NULL, value TEXT NOT NULL)';

export function prepareDb(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(EFFECTS_DDL);
  db.close();
}

export interface Audit {
  effects: number;
  duplicates: number;
  ledgerNext: Record<number, number>;
  /** Offsets the topic's committed ranges cover. */
  committedOffsets: number;
  deadLettered: number;
}

/**
 * The exactly-once audit of one topic (spec NoDuplicateInv, NoGapInv): the
 * committed ranges of each partition cover exactly 0..next-1, without a gap
 * or an overlap; every Done offset has its effect row; no effect exists for
 * an offset no range covers; duplicate effect rows are counted.
 */
export function audit(file: string, topic: string, expected: number[]): Audit {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT partition, next FROM htmqc_partitions WHERE topic = ?').all(topic) as { partition: number; next: number }[];
    const ledgerNext: Record<number, number> = {};
    for (const r of rows) ledgerNext[r.partition] = r.next;
    const effects = (db.prepare('SELECT count(*) AS n FROM test_effects WHERE topic = ?').get(topic) as { n: number }).n;
    const duplicates = (db.prepare(
      'SELECT count(*) AS n FROM (SELECT partition, offset FROM test_effects WHERE topic = ? GROUP BY partition, offset HAVING count(*) > 1)',
    ).get(topic) as { n: number }).n;
    const exceptional = [...exceptionalOffsets(db, topic)];
    const deadLettered = exceptional.filter((x) => x.outcome === OUTCOME_DEAD_LETTERED).length;
    let committedOffsets = 0;
    for (const r of committedRanges(db, topic)) committedOffsets += r.next - r.first;
    for (let p = 0; p < expected.length; p++) {
      const next = ledgerNext[p] ?? 0;
      const ranges = [...committedRanges(db, topic, p)];
      // NoGapInv and NoDuplicateInv: the ranges follow each other from 0 to next.
      const breaks = ranges.filter((r, i) => r.first !== (i === 0 ? 0 : ranges[i - 1]!.next)).map((r) => r.first);
      if (next > 0) {
        assert.deepStrictEqual({ lo: ranges[0]?.first, hi: (ranges.at(-1)?.next ?? 0) - 1, breaks }, { lo: 0, hi: next - 1, breaks: [] },
          `partition ${p}: committed ranges cover exactly 0..next-1`);
      }
      // Per offset: 0 not committed, 1 Done, 2 DeadLettered or Absent.
      const size = Math.max(next, ranges.at(-1)?.next ?? 0);
      const outcome = new Uint8Array(size);
      for (const r of ranges) outcome.fill(1, r.first, r.next);
      for (const x of exceptional) if (x.partition === p && outcome[x.offset] === 1) outcome[x.offset] = 2;
      const effectOffsets = (db.prepare('SELECT DISTINCT offset FROM test_effects WHERE topic = ? AND partition = ? ORDER BY offset')
        .all(topic, p) as { offset: number }[]).map((r) => r.offset);
      const hasEffect = new Uint8Array(size);
      for (const o of effectOffsets) if (o < size) hasEffect[o] = 1;
      const missing: number[] = [];
      for (let o = 0; o < size && missing.length < 5; o++) if (outcome[o] === 1 && hasEffect[o] === 0) missing.push(o);
      assert.deepStrictEqual(missing, [], `partition ${p}: every Done offset has its effect`);
      const orphan = effectOffsets.filter((o) => o >= size || outcome[o] === 0).slice(0, 5);
      assert.deepStrictEqual(orphan, [], `partition ${p}: no effect without its committed offset`);
    }
    return { effects, duplicates, ledgerNext, committedOffsets, deadLettered };
  } finally {
    db.close();
  }
}

/** Polls until check() is true; fails with describe() after timeoutMs. */
export async function waitFor(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function totalNext(file: string, topic: string): number {
  const db = new Database(file, { readonly: true, timeout: 5000 });
  try {
    const r = db.prepare('SELECT coalesce(sum(next), 0) AS n FROM htmqc_partitions WHERE topic = ?').get(topic) as { n: number } | undefined;
    return r?.n ?? 0;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

export interface WorkerOptions {
  brokers: string;
  groupId: string;
  topic: string;
  db: string;
  /** Handler delay per record in ms (0 = none). */
  delayMs?: number;
  /** Records whose key is in this list always throw. */
  poisonKeys?: string[];
  deadLetterTopic?: string;
  maxRetries?: number;
  retryBackoff?: number;
  trace?: string;
  window?: number;
}

/** Forks test/integration/runtime/worker.js: one consumer process. */
export function forkWorker(options: WorkerOptions): ChildProcess {
  const child = fork(path.join(__dirname, 'worker.js'), [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return child;
}

/** Resolves when the worker reports it joined the group. */
export function whenReady(child: ChildProcess, timeoutMs = 60000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${child.pid} not ready after ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (m: { type?: string }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`worker ${child.pid} exited with ${code} before ready`)); });
  });
}

/** Asks a worker to stop gracefully and waits for its exit code. */
export function stopWorker(child: ChildProcess, timeoutMs = 60000): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve(code); });
    child.send({ type: 'stop' });
  });
}

/** Resolves on the first stats message for which accept() holds. */
export function whenStats(child: ChildProcess, accept: (s: WorkerStats) => boolean, timeoutMs = 60000): Promise<WorkerStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.off('message', on); reject(new Error(`worker ${child.pid}: no matching stats in ${timeoutMs} ms`)); }, timeoutMs);
    const on = (m: WorkerStats & { type?: string }): void => {
      if (m.type !== 'stats' || !accept(m)) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

export interface WorkerStats {
  inFlight: number;
  held: number;
  counters: Record<string, number>;
}

/** Effect rows per pid of a topic. */
export function effectsByPid(file: string, topic: string): Map<number, number> {
  const db = new Database(file, { readonly: true, timeout: 5000 });
  try {
    const rows = db.prepare('SELECT pid, count(*) AS n FROM test_effects WHERE topic = ? GROUP BY pid').all(topic) as { pid: number; n: number }[];
    return new Map(rows.map((r) => [r.pid, r.n]));
  } finally {
    db.close();
  }
}

export function killWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
