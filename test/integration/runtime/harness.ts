// Shared helpers of the runtime integration tests: a broker per test file,
// topic creation, producing N records, and the exactly-once audit read from
// the ledger's tables on either backend (ledger-backend.ts).

import * as assert from 'assert';
import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Kafka, logLevel } from 'kafkajs';
import { brokerAddress, brokerTimings, repoRoot, startBroker, stopBroker, wipeBroker, type BrokerOptions } from '../../../tools/kafka/broker';
import { inspect, totalNext, type LedgerSpec } from './ledger-backend';
import { askUntilAnswered, createTopicReady } from '../../../tools/kafka/topics';

export { effectsByPid, ledgerBackends, openLedger, totalNext, type LedgerBackend, type LedgerSpec } from './ledger-backend';

/**
 * The suite's own broker: on `defaultPort`, or on HTMQC_TEST_RUNTIME_KAFKA_PORT
 * (and the port after it for its controller) when set, so that runs beside
 * other brokers on one machine do not collide.  The suites run one after
 * the other in one mocha process and each stops its broker, so one port
 * serves them all.
 */
export function brokerOptions(defaultPort: number, name: string): BrokerOptions {
  const env = process.env['HTMQC_TEST_RUNTIME_KAFKA_PORT'];
  const port = env === undefined || env === '' ? defaultPort : Number(env);
  if (!Number.isInteger(port) || port < 1 || port > 65534) throw new Error(`HTMQC_TEST_RUNTIME_KAFKA_PORT must be a port number, got ${JSON.stringify(env)}`);
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
    await createTopicReady(admin, { topic, numPartitions, replicationFactor: 1 });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Produces n records round-robin over the partitions; key = "k<i>", value =
 * 100 bytes. Returns per-partition counts, and fails unless the topic's end
 * offsets grew by exactly those counts. The producer is idempotent: on a
 * loaded machine a plain kafkajs producer retries a send that timed out and
 * the broker keeps both copies (seen: 2,750 records in a topic the test
 * filled with 2,000), which the consumer rightly commits, and the test's
 * count would be wrong.
 */
export async function produce(kafka: Kafka, topic: string, partitions: number, n: number, keyOf = (i: number) => `k${i}`): Promise<number[]> {
  const before = await endOffsets(kafka, topic, partitions);
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
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
  const after = await endOffsets(kafka, topic, partitions);
  for (let p = 0; p < partitions; p++) {
    if (after[p]! - before[p]! !== counts[p]) {
      throw new Error(`produce: ${topic}[${p}] grew by ${after[p]! - before[p]!} records, ${counts[p]} were sent (end offsets ${JSON.stringify(before)} -> ${JSON.stringify(after)})`);
    }
  }
  return counts;
}

/**
 * The end offset of each partition of a topic, by partition number. A topic
 * just created can answer NOT_LEADER for a moment, which kafkajs's admin does
 * not retry: asked again for up to 30 s.
 */
export async function endOffsets(kafka: Kafka, topic: string, partitions: number): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await askUntilAnswered(`end offsets of ${topic}`, async () => {
      const ends = new Array<number>(partitions).fill(0);
      for (const o of await admin.fetchTopicOffsets(topic)) ends[o.partition] = Number(o.high);
      return ends;
    }, 30000);
  } finally {
    await admin.disconnect();
  }
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
 * The exactly-once audit of one topic (spec NoDuplicateInv, NoGapInv), from
 * the ledger's tables on either backend: the committed ranges of each
 * partition cover exactly 0..next-1, without a gap or an overlap; every Done
 * offset has its effect row; no effect exists for an offset no range covers;
 * duplicate effect rows are counted.
 */
export function audit(spec: LedgerSpec, topic: string, expected: number[]): Promise<Audit> {
  return inspect(spec, async (q) => {
    const ledgerNext: Record<number, number> = {};
    for (const r of await q('SELECT partition, next FROM htmqc_partitions WHERE topic = $1', topic)) ledgerNext[Number(r['partition'])] = Number(r['next']);
    const effects = Number((await q('SELECT count(*) AS n FROM test_effects WHERE topic = $1', topic))[0]!['n']);
    const duplicates = Number((await q(
      'SELECT count(*) AS n FROM (SELECT partition, "offset" FROM test_effects WHERE topic = $1 GROUP BY partition, "offset" HAVING count(*) > 1) AS d',
      topic))[0]!['n']);
    const exceptional = (await q(
      `SELECT partition, "offset", 'DeadLettered' AS outcome FROM htmqc_dead_letters WHERE topic = $1 ` +
      `UNION ALL SELECT partition, "offset", 'Absent' AS outcome FROM htmqc_absent WHERE topic = $2`, topic, topic))
      .map((r) => ({ partition: Number(r['partition']), offset: Number(r['offset']), outcome: String(r['outcome']) }));
    const deadLettered = exceptional.filter((x) => x.outcome === 'DeadLettered').length;
    const allRanges = (await q('SELECT partition, first, next FROM htmqc_ranges WHERE topic = $1 ORDER BY partition, first', topic))
      .map((r) => ({ partition: Number(r['partition']), first: Number(r['first']), next: Number(r['next']) }));
    let committedOffsets = 0;
    for (const r of allRanges) committedOffsets += r.next - r.first;
    for (let p = 0; p < expected.length; p++) {
      const next = ledgerNext[p] ?? 0;
      const ranges = allRanges.filter((r) => r.partition === p);
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
      const effectOffsets = (await q('SELECT DISTINCT "offset" FROM test_effects WHERE topic = $1 AND partition = $2 ORDER BY "offset"', topic, p))
        .map((r) => Number(r['offset']));
      const hasEffect = new Uint8Array(size);
      for (const o of effectOffsets) if (o < size) hasEffect[o] = 1;
      const missing: number[] = [];
      for (let o = 0; o < size && missing.length < 5; o++) if (outcome[o] === 1 && hasEffect[o] === 0) missing.push(o);
      assert.deepStrictEqual(missing, [], `partition ${p}: every Done offset has its effect`);
      const orphan = effectOffsets.filter((o) => o >= size || outcome[o] === 0).slice(0, 5);
      assert.deepStrictEqual(orphan, [], `partition ${p}: no effect without its committed offset`);
    }
    return { effects, duplicates, ledgerNext, committedOffsets, deadLettered };
  });
}

/** Polls until check() holds; fails with describe() after timeoutMs. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The sum of a topic's ledger next, polled: `reach(n)` waits for it, `describe()` says where it last was. */
export class NextWatch {
  last = 0;
  private readonly t0 = Date.now();
  constructor(private readonly spec: LedgerSpec, private readonly topic: string, private readonly total: number) {}

  async reach(atLeast: number, timeoutMs: number, exactly = false): Promise<void> {
    await waitFor(async () => {
      this.last = await totalNext(this.spec, this.topic);
      return exactly ? this.last === atLeast : this.last >= atLeast;
    }, timeoutMs, () => this.describe());
  }

  describe(): string {
    return `ledger next sum ${this.last} of ${this.total} after ${Date.now() - this.t0} ms`;
  }
}

export interface WorkerOptions {
  brokers: string;
  groupId: string;
  topic: string;
  ledger: LedgerSpec;
  /** The handler's effect statement: LedgerBackend.insertEffect. */
  effectSql: string;
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

export function killWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
