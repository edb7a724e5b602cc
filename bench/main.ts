// The benchmark suite: one local Kafka broker (tools/kafka), five scenarios,
// each printing a human table and one JSON line; everything is also written
// to bench/results/latest.json (render it with `node dist/bench/chart.js`).
//
//   node dist/bench/main.js [--quick] [--records N] [--sizes 100,1024]
//        [--partitions P] [--reps R] [--latency-seconds S]
//        [--memory-records N] [--window W] [--only throughput,latency,memory,core,fsync]
//        [--variants a,b,c,d,e,h,i] [--pg-connections C] [--pg-merge on|off] [--pg-commits N] [--out bench/results/latest.json]
//
// Scenarios
//   throughput  drain a pre-filled topic (N records per value size, P
//               partitions) with (a) htmqc exactly-once, native core,
//               SQLite ledger synchronous=FULL, a handler that does nothing
//               (like (c)'s: the cost of exactly-once itself), window
//               (maxInFlightPerPartition) --window, default 10,000 (one
//               kafkajs fetch, 1 MiB per partition, is ~8,700 records of
//               100 B: a window that holds it never makes a fetch wait
//               for room; memory stays bounded by it); (b) the
//               same with the TypeScript core; (c) plain kafkajs eachBatch,
//               autoCommit (at-least-once); (d) kcat (librdkafka), the
//               native ceiling; (e) as (a) with one INSERT of the record per
//               record queued via tx (an effect committed exactly once);
//               (h) as (e) on the PostgreSQL ledger; (i) kafkajs eachBatch
//               with one PostgreSQL transaction per batch (BEGIN, one
//               multi-row INSERT, COMMIT, then resolveOffset and
//               commitOffsetsIfNecessary: at-least-once), C connections
//               (--pg-connections, default one per partition).  (h) and (i)
//               share one server (tools/postgres, fsync and
//               synchronous_commit on, checked), truncated before each of
//               their drains; each checks the effect table afterwards (h:
//               every record exactly once; i: at least once).  The
//               rows (--variants, default all) run interleaved, R rounds in rotated order after one
//               unmeasured warm-up drain by kafkajs and by htmqc; medians,
//               the ratios of the medians a/c, a/d, a/b, e/c, h/i and the
//               medians of the per-round a/c and h/i; for (h) and (i) the
//               transaction p50/p99 (h: the writer's commit() call to its
//               answer; i: BEGIN to COMMIT answered) and round trips per
//               transaction (h: the ledger's own count, stats().commitRoundTrips).  The rate counts from the group join (htmqc: start()
//               resolved; kafkajs: GROUP_JOIN; kcat, no group: its spawn) to
//               the last record committed (htmqc), handled (kafkajs) or
//               printed (kcat); CPU ms per 1,000
//               records and event-loop utilisation come from this process.
//   latency     first the end-to-end maximum: a producer child sends flat
//               out while htmqc (as (a)) consumes the same topic, and the
//               lower of the produced and the committed rate is what the
//               host carries with producer, broker and consumer sharing its
//               cores.  Then a producer at 50 % of that stamps each record
//               with CLOCK_MONOTONIC (value: float64; key: ASCII); htmqc:
//               stamp to the ledger commit that covers the record
//               (consumer.observe), split at the handler's start; kafkajs:
//               stamp to the end of the eachBatch handler; kcat: stamp to
//               the printed key read by this process (the native floor).
//               Then again at 1,000 msg/s (latencyLight).
//   memory      RSS of an htmqc consumer (as (a)) draining a backlog of M
//               records, once at the runtime's default window (1,000 per
//               partition) and once at --window, sampled every 250 ms; min/max/median after warm-up
//               (the first 20 % of the drain) and whether every sample is
//               within +-10 % of the median.
//   core        node dist/bench/core.js (the DCSM core micro-benchmark).
//   fsync       the floor under ledger latency: one-row transactions on a
//               WAL SQLite file with synchronous=FULL vs NORMAL; and the
//               floor under throughput: the effect INSERT alone, 1,500 rows
//               per FULL transaction, 100 B and 1 KiB rows.
//
// Defaults: 1,000,000 records of 100 B and of 1 KiB, 6 partitions, 5 rounds,
// 20 s of latency, a 10,000,000-record backlog.  --quick: 100,000 records,
// 3 rounds, 10 s, a 1,000,000-record backlog, core rows of 500 ms.
//
// The broker runs on HTMQC_BENCH_PORT (default 19692), data in
// .cache/kafka-run/bench-<port>; it is wiped before and stopped after.
// PostgreSQL (rows h, i) on HTMQC_PG_PORT (default 15432), data in
// .cache/postgres/<port>; started if not running, and then stopped after.

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { Client as PgClient, Pool as PgPool } from 'pg';
import { createTopicReady } from '../tools/kafka/topics';
import { brokerAddress, repoRoot, startBroker, stopBroker, wipeBroker, type BrokerOptions } from '../tools/kafka/broker';
import { pgUrl, startPg, stopPg } from '../tools/postgres/pg';
import { createConsumer, openSqliteLedger, type LedgerPort, type Statement } from '../src';
import { openPostgresLedger, type PostgresLedger } from '../src/ledger/postgres';
import { DEFAULT_MAX_IN_FLIGHT_PER_PARTITION } from '../src/runtime/config';

// ---------------------------------------------------------------- rows

type Variant = 'htmqcNative' | 'htmqcTs' | 'kafkajs' | 'kcat' | 'htmqcEffect' | 'htmqcPg' | 'kafkajsPg';
const ALL_VARIANTS: readonly Variant[] = ['htmqcNative', 'htmqcTs', 'kafkajs', 'kcat', 'htmqcEffect', 'htmqcPg', 'kafkajsPg'];
// (f) and (g) are kept for the @platformatic/kafka rows (issue 15).
const LETTER: Record<Variant, string> = {
  htmqcNative: 'a', htmqcTs: 'b', kafkajs: 'c', kcat: 'd', htmqcEffect: 'e', htmqcPg: 'h', kafkajsPg: 'i',
};
const LABEL: Record<Variant, string> = {
  htmqcNative: '(a) htmqc exactly-once, native core, SQLite FULL',
  htmqcTs: '(b) htmqc exactly-once, TypeScript core, SQLite FULL',
  kafkajs: '(c) kafkajs eachBatch, autoCommit (at-least-once)',
  kcat: '(d) kcat / librdkafka (native ceiling)',
  htmqcEffect: '(e) as (a), plus one INSERT effect per record',
  htmqcPg: '(h) htmqc exactly-once, PostgreSQL ledger, 1 INSERT/record',
  kafkajsPg: '(i) kafkajs eachBatch + PostgreSQL tx per batch (at-least-once)',
};

// ---------------------------------------------------------------- arguments

interface Args {
  quick: boolean;
  records: number;
  sizes: number[];
  partitions: number;
  reps: number;
  latencySeconds: number;
  memoryRecords: number;
  window: number;
  only: Set<string>;
  /** Throughput rows to run, by letter (a-e, h, i); default all. */
  variants: Set<string>;
  /** (i)'s PostgreSQL connections, i.e. transactions in flight at once; default one per partition. */
  pgConnections: number;
  /** (h)'s ledger option mergeInserts (--pg-merge on|off; default on, the ledger's default). */
  pgMerge: boolean;
  /** (h)'s commits in flight (--pg-commits N: poolSize N + 1, concurrentCommits N); default the ledger's (pool 4, 3 commits). */
  pgCommits: number | undefined;
  out: string;
}

function parseVariants(v: string | undefined): Set<string> {
  const all = Object.values(LETTER);
  if (v === undefined) return new Set(all);
  const picked = v.split(',').map((x) => x.trim());
  const bad = picked.filter((x) => !all.includes(x));
  if (bad.length > 0 || picked.length === 0) throw new Error(`--variants: unknown row ${JSON.stringify(bad[0] ?? v)}; the rows are ${all.join(',')}`);
  return new Set(picked);
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, dflt: number): number => {
    const v = get(name);
    if (v === undefined) return dflt;
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: not a positive number: ${v}`);
    return n;
  };
  return {
    quick,
    records: num('records', quick ? 100_000 : 1_000_000),
    sizes: (get('sizes') ?? '100,1024').split(',').map(Number),
    partitions: num('partitions', 6),
    reps: num('reps', quick ? 3 : 5),
    latencySeconds: num('latency-seconds', quick ? 10 : 20),
    memoryRecords: num('memory-records', quick ? 1_000_000 : 10_000_000),
    window: num('window', 10000),
    only: new Set((get('only') ?? 'throughput,latency,memory,core,fsync').split(',')),
    variants: parseVariants(get('variants')),
    pgConnections: num('pg-connections', num('partitions', 6)),
    pgCommits: get('pg-commits') === undefined ? undefined : num('pg-commits', 3),
    pgMerge: (() => {
      const v = get('pg-merge') ?? 'on';
      if (v !== 'on' && v !== 'off') throw new Error(`--pg-merge: on or off, got ${v}`);
      return v === 'on';
    })(),
    out: get('out') ?? path.join(repoRoot(), 'bench', 'results', 'latest.json'),
  };
}

const args = parseArgs(process.argv.slice(2));
const port = Number(process.env['HTMQC_BENCH_PORT'] ?? 19692);
const opts: BrokerOptions = { port, controllerPort: port + 1, dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `bench-${port}`) };
const work = path.join(repoRoot(), '.cache', 'bench-main');

// ---------------------------------------------------------------- helpers

function client(id: string): Kafka {
  return new Kafka({ clientId: id, brokers: [brokerAddress(opts)], logLevel: logLevel.NOTHING, requestTimeout: 60000 });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US');

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await createTopicReady(admin, { topic, numPartitions: partitions, replicationFactor: 1 });
  await admin.disconnect();
}

/** Fills a new topic with n records of valueBytes bytes, round-robin over the partitions. */
async function fillTopic(kafka: Kafka, topic: string, n: number, valueBytes: number, partitions: number): Promise<number> {
  await createTopic(kafka, topic, partitions);
  const producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 8 });
  await producer.connect();
  const value = Buffer.alloc(valueBytes, 120);
  const chunk = Math.max(500, Math.floor(2_000_000 / valueBytes));
  const t0 = performance.now();
  const inflight = new Set<Promise<unknown>>();
  let lastLog = t0;
  for (let start = 0; start < n; start += chunk) {
    const messages = [];
    for (let i = start; i < Math.min(n, start + chunk); i++) messages.push({ partition: i % partitions, key: null, value });
    const p = producer.send({ topic, acks: 1, messages }).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 4) await Promise.race(inflight);
    if (performance.now() - lastLog > 10000) {
      lastLog = performance.now();
      log(`  filling ${topic}: ${fmtInt(start)} / ${fmtInt(n)}`);
    }
  }
  await Promise.all(inflight);
  await producer.disconnect();
  return performance.now() - t0;
}

// ---------------------------------------------------------------- consumers

interface DrainRun {
  variant: Variant;
  records: number;
  /** Group joined (htmqc: start() resolved; kafkajs: GROUP_JOIN; kcat: spawn) to last record done. */
  ms: number;
  /** start()/run()/spawn to last record done (includes connect and group join). */
  totalMs: number;
  msgPerSec: number;
  mbPerSec: number;
  /** CPU of this process (user+sys) per 1,000 records; null for kcat (another process). */
  cpuMsPer1k: number | null;
  /** Event-loop utilisation of this process over the drain; null for kcat. */
  elu: number | null;
  /** htmqc only: ledger transactions, their summed wall time and its share of the drain. */
  ledgerCommits?: number;
  ledgerMs?: number;
  ledgerShare?: number;
  recordsPerCommit?: number;
  ledgerCommitP50Ms?: number;
  ledgerCommitP99Ms?: number;
  /**
   * PostgreSQL rows: round trips per ledger commit (h, the ledger's own
   * count of its commits' queries) or per batch transaction (i, counted by
   * the consumer: BEGIN, each INSERT, COMMIT); rows in the effect table
   * after the drain (h: exactly the records, i: at least).
   */
  roundTripsPerCommit?: number;
  effectRows?: number;
  distinctEffectRows?: number;
  /** h: effects the ledger sent inside multi-row INSERTs (mergeInserts), and effects per statement sent. */
  mergedEffects?: number;
  effectsPerStatement?: number;
}

interface HtmqcOptions {
  core: 'native' | 'ts';
  /** maxInFlightPerPartition (spec Window); default --window. */
  window?: number;
  /** The handler queues one INSERT of the record (an effect) via tx; otherwise it does nothing, like (c)'s. */
  effect?: boolean;
  /** The ledger: SQLite synchronous=FULL (default), or the bench's PostgreSQL server (h: implies effect). */
  ledger?: 'sqlite' | 'postgres';
  /** Called with the RSS sampler, for the memory scenario. */
  onProgress?: (committed: number) => void;
  /** Handler observer, for the latency scenario. */
  onMessage?: (partition: number, offset: number, value: Buffer | null) => void;
  onCommit?: (writes: readonly { partition: number; from: number; upTo: number; accepted: boolean }[], atMono: number) => void;
  /** Stop when committed reaches this; otherwise run until stopSignal resolves. */
  until: number | Promise<void>;
}

async function drainHtmqc(kafka: Kafka, topic: string, name: string, valueBytes: number, o: HtmqcOptions): Promise<DrainRun> {
  const onPg = o.ledger === 'postgres';
  let ledger: LedgerPort<Statement>;
  let pgLedger: PostgresLedger | undefined;
  if (onPg) {
    await truncatePg();
    ledger = pgLedger = await openPgLedger();
  } else {
    fs.mkdirSync(work, { recursive: true });
    const file = path.join(work, `${name}.db`);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    const db = new Database(file);
    db.exec('CREATE TABLE effects (p INTEGER NOT NULL, o INTEGER NOT NULL, v BLOB)');
    db.close();
    ledger = openSqliteLedger(file);
  }
  const onMessage = o.onMessage;
  const effect = o.effect === true || onPg;
  // The same effect in both dialects: SQLite's ? and PostgreSQL's $n.
  const insert = onPg ? 'INSERT INTO effects (p, o, v) VALUES ($1, $2, $3)' : 'INSERT INTO effects (p, o, v) VALUES (?, ?, ?)';
  const consumer = createConsumer({
    kafka, groupId: `bench-${name}`, topics: [topic], ledger, maxInFlightPerPartition: o.window ?? args.window, core: o.core,
    handler: (m, tx) => {
      if (onMessage !== undefined) onMessage(m.partition, m.offset, m.value);
      if (effect) tx.execute(insert, [m.partition, m.offset, m.value]);
    },
  });
  let commits = 0;
  let ledgerMs = 0;
  const durations: number[] = [];
  const onCommit = o.onCommit;
  let committedByEvents = 0;
  consumer.observe({
    ledgerCommit: (e) => {
      const at = monoMs();
      for (const w of e.writes) if (w.accepted) committedByEvents += w.upTo - w.from;
      commits++;
      ledgerMs += e.durationMs;
      durations.push(e.durationMs);
      if (onCommit !== undefined) onCommit(e.writes, at);
    },
  });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  await consumer.start();
  const tJoined = performance.now();
  const pgStats0 = pgLedger?.stats();
  let committed = 0;
  if (typeof o.until === 'number') {
    const target = o.until;
    // Counted from the commit events: snapshot() decodes the core's whole
    // window, which costs ~1.6 ms at 6 x 20,000 in flight when polled.
    while ((committed = committedByEvents) < target) {
      o.onProgress?.(committed);
      await sleep(20);
    }
  } else {
    let done = false;
    void o.until.then(() => { done = true; });
    while (!done) {
      o.onProgress?.(committedByEvents);
      await sleep(20);
    }
    committed = committedByEvents;
  }
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const pgStats1 = pgLedger?.stats();
  await consumer.stop();
  await ledger.close();
  const ms = t1 - tJoined;
  const dur = Float64Array.from(durations).sort();
  let pg: Pick<DrainRun, 'roundTripsPerCommit' | 'effectRows' | 'distinctEffectRows' | 'mergedEffects' | 'effectsPerStatement'> = {};
  if (pgStats0 !== undefined && pgStats1 !== undefined) {
    const rows = await countEffects();
    // Exactly once: every record's row, and no record twice.
    if (rows.rows !== committed || rows.distinct !== committed) {
      throw new Error(`bench (h): ${committed} records committed but the effect table holds ${rows.rows} rows (${rows.distinct} distinct offsets)`);
    }
    pg = {
      roundTripsPerCommit: r2((pgStats1.commitRoundTrips - pgStats0.commitRoundTrips) / Math.max(1, pgStats1.commits - pgStats0.commits)),
      mergedEffects: pgStats1.mergedEffects - pgStats0.mergedEffects,
      effectsPerStatement: r2((pgStats1.effects - pgStats0.effects) /
        Math.max(1, (pgStats1.effects - pgStats0.effects) - (pgStats1.mergedEffects - pgStats0.mergedEffects) + (pgStats1.mergedStatements - pgStats0.mergedStatements))),
      effectRows: rows.rows, distinctEffectRows: rows.distinct,
    };
  }
  return {
    variant: onPg ? 'htmqcPg' : o.core === 'ts' ? 'htmqcTs' : effect ? 'htmqcEffect' : 'htmqcNative',
    records: committed, ms: r1(ms), totalMs: r1(t1 - t0),
    msgPerSec: Math.round((committed * 1000) / ms), mbPerSec: r2((committed * valueBytes) / 1e6 / (ms / 1000)),
    cpuMsPer1k: r3(((cpu.user + cpu.system) / 1000 / committed) * 1000), elu: r3(elu),
    ledgerCommits: commits, ledgerMs: Math.round(ledgerMs), ledgerShare: r3(ledgerMs / ms), recordsPerCommit: r1(committed / Math.max(1, commits)),
    ledgerCommitP50Ms: r3(pct(dur, 0.5)), ledgerCommitP99Ms: r3(pct(dur, 0.99)), ...pg,
  };
}

async function drainKafkajs(
  kafka: Kafka, topic: string, group: string, n: number, valueBytes: number, partitions: number,
  onBatchDone?: (values: readonly (Buffer | null)[], atMono: number) => void, stop?: Promise<void>,
): Promise<DrainRun> {
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let joinedAt = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => { if (joinedAt === 0) joinedAt = performance.now(); });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  await new Promise<void>((resolve) => {
    if (stop !== undefined) void stop.then(() => resolve());
    void consumer.run({
      autoCommit: true,
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (onBatchDone !== undefined) onBatchDone(batch.messages.map((m) => m.value), monoMs());
        if (stop === undefined && seen >= n) resolve();
      },
    });
  });
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  await consumer.disconnect();
  const ms = t1 - (joinedAt || t0);
  return {
    variant: 'kafkajs', records: seen, ms: r1(ms), totalMs: r1(t1 - t0),
    msgPerSec: Math.round((seen * 1000) / ms), mbPerSec: r2((seen * valueBytes) / 1e6 / (ms / 1000)),
    cpuMsPer1k: r3(((cpu.user + cpu.system) / 1000 / seen) * 1000), elu: r3(elu),
  };
}

// ---------------------------------------------------------------- PostgreSQL

// One schema for (h) and (i), truncated before every drain of either: (h)'s
// ledger rows are per topic and partition, not per group, so a ledger left
// from the last round would already be at the end of the topic.
const pgPort = Number(process.env['HTMQC_PG_PORT'] ?? 15432);
const PG_SCHEMA = 'htmqc_bench';
// (e)'s effect table in PostgreSQL types, the same for (h) and (i).
const PG_EFFECTS = 'CREATE TABLE IF NOT EXISTS effects (p integer NOT NULL, o bigint NOT NULL, v bytea)';

function openPgLedger(): Promise<PostgresLedger> {
  return openPostgresLedger({
    connectionString: pgUrl({ port: pgPort }), schema: PG_SCHEMA, userSchema: PG_EFFECTS, mergeInserts: args.pgMerge,
    ...(args.pgCommits === undefined ? {} : { poolSize: args.pgCommits + 1, concurrentCommits: args.pgCommits }),
  });
}

async function withPgClient<T>(run: (c: PgClient) => Promise<T>): Promise<T> {
  const c = new PgClient({ connectionString: pgUrl({ port: pgPort }), options: `-c search_path=${PG_SCHEMA}` });
  await c.connect();
  try {
    return await run(c);
  } finally {
    await c.end();
  }
}

/** The rows compare durable transactions only: refuse a server that does not flush the WAL at COMMIT. */
async function checkPgDurable(): Promise<void> {
  const r = await withPgClient((c) => c.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name"));
  const off = r.rows.filter((x) => x.setting !== 'on');
  if (r.rows.length !== 3 || off.length > 0) {
    throw new Error(`bench: the PostgreSQL server on port ${pgPort} must run with fsync, synchronous_commit and full_page_writes on; ` +
      `got ${r.rows.map((x) => `${x.name}=${x.setting}`).join(', ')}`);
  }
}

async function truncatePg(): Promise<void> {
  await withPgClient((c) => c.query('TRUNCATE effects, htmqc_partitions, htmqc_ranges, htmqc_absent, htmqc_dead_letters'));
}

async function countEffects(): Promise<{ rows: number; distinct: number }> {
  const r = await withPgClient((c) => c.query<{ rows: string; distinct: string }>(
    'SELECT count(*) AS rows, count(DISTINCT (p, o)) AS distinct FROM effects'));
  return { rows: Number(r.rows[0]!.rows), distinct: Number(r.rows[0]!.distinct) };
}

// 65,535 bind parameters per statement (the protocol's Int16 count), 3 per row.
const PG_ROWS_PER_INSERT = Math.floor(65535 / 3);

/**
 * (i): the at-least-once consumer a competent user writes against the same
 * server.  Per kafkajs batch (one partition's share of a fetch), on its own
 * pooled connection (one per concurrently consumed partition): BEGIN, the
 * batch's rows as ONE multi-row INSERT with bind parameters (chunked at the
 * protocol's parameter limit), COMMIT; then resolveOffset of the batch's last
 * offset and commitOffsetsIfNecessary.  A multi-row INSERT rather than a
 * prepared statement in a loop: node-postgres waits for each answer before
 * sending the next query, so a loop costs a round trip per record (and the
 * server a statement each), the multi-row INSERT one per batch.  A crash
 * between COMMIT and the Kafka offset commit inserts the batch again: the
 * duplicates at-least-once allows.
 */
async function drainKafkajsPg(kafka: Kafka, topic: string, group: string, n: number, valueBytes: number, partitions: number): Promise<DrainRun> {
  await truncatePg();
  const pool = new PgPool({ connectionString: pgUrl({ port: pgPort }), options: `-c search_path=${PG_SCHEMA}`, max: args.pgConnections });
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let joinedAt = 0;
  let transactions = 0;
  let trips = 0;
  const txMs: number[] = [];
  const statements = new Map<number, string>();
  const insertSql = (rows: number): string => {
    let sql = statements.get(rows);
    if (sql === undefined) {
      const values: string[] = [];
      for (let i = 0; i < rows; i++) values.push(`($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`);
      sql = `INSERT INTO effects (p, o, v) VALUES ${values.join(', ')}`;
      statements.set(rows, sql);
    }
    return sql;
  };
  consumer.on(consumer.events.GROUP_JOIN, () => { if (joinedAt === 0) joinedAt = performance.now(); });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  await new Promise<void>((resolve, reject) => {
    void consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, isRunning, isStale }) => {
        const messages = batch.messages;
        if (messages.length === 0 || !isRunning() || isStale()) return;
        const c = await pool.connect();
        const tx0 = performance.now();
        try {
          await c.query('BEGIN');
          for (let from = 0; from < messages.length; from += PG_ROWS_PER_INSERT) {
            const chunk = messages.slice(from, from + PG_ROWS_PER_INSERT);
            const params: unknown[] = [];
            for (const m of chunk) params.push(batch.partition, m.offset, m.value);
            await c.query(insertSql(chunk.length), params);
            trips++;
          }
          await c.query('COMMIT');
          trips += 2;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          reject(e);
          throw e;
        } finally {
          c.release();
        }
        txMs.push(performance.now() - tx0);
        transactions++;
        resolveOffset(messages[messages.length - 1]!.offset);
        await commitOffsetsIfNecessary();
        seen += messages.length;
        if (seen >= n) resolve();
      },
    });
  });
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  await consumer.disconnect();
  await pool.end();
  const rows = await countEffects();
  if (rows.distinct < n) throw new Error(`bench (i): ${n} records handled but the effect table holds only ${rows.distinct} distinct offsets`);
  const ms = t1 - (joinedAt || t0);
  const dur = Float64Array.from(txMs).sort();
  const txTotal = txMs.reduce((a, b) => a + b, 0);
  return {
    variant: 'kafkajsPg', records: seen, ms: r1(ms), totalMs: r1(t1 - t0),
    msgPerSec: Math.round((seen * 1000) / ms), mbPerSec: r2((seen * valueBytes) / 1e6 / (ms / 1000)),
    cpuMsPer1k: r3(((cpu.user + cpu.system) / 1000 / seen) * 1000), elu: r3(elu),
    ledgerCommits: transactions, ledgerMs: Math.round(txTotal), ledgerShare: r3(txTotal / ms), recordsPerCommit: r1(seen / Math.max(1, transactions)),
    ledgerCommitP50Ms: r3(pct(dur, 0.5)), ledgerCommitP99Ms: r3(pct(dur, 0.99)),
    roundTripsPerCommit: r2(trips / Math.max(1, transactions)), effectRows: rows.rows, distinctEffectRows: rows.distinct,
  };
}

/** kcat -C from the beginning to the end of every partition, counting printed offsets. */
function drainKcat(topic: string, n: number, valueBytes: number): Promise<DrainRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let lines = 0;
    const child = spawn('kcat', ['-C', '-b', brokerAddress(opts), '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o\n'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const t1 = performance.now();
      if (code !== 0 || lines < n) { reject(new Error(`kcat exit ${code}, ${lines}/${n} records: ${err}`)); return; }
      const ms = t1 - t0;
      resolve({
        variant: 'kcat', records: lines, ms: r1(ms), totalMs: r1(t1 - t0),
        msgPerSec: Math.round((lines * 1000) / ms), mbPerSec: r2((lines * valueBytes) / 1e6 / (ms / 1000)), cpuMsPer1k: null, elu: null,
      });
    });
  });
}

// ---------------------------------------------------------------- scenarios

interface ThroughputResult {
  bench: 'throughput';
  records: number;
  valueBytes: number;
  partitions: number;
  reps: number;
  fillMs: number;
  runs: DrainRun[];
  /** The rows run (--variants), in table order. */
  variants: Variant[];
  median: Partial<Record<Variant, {
    msgPerSec: number; mbPerSec: number; cpuMsPer1k: number | null; ledgerShare?: number;
    /** h and i: the median over the runs of each run's transaction p50 / p99, records and round trips per transaction. */
    commitP50Ms?: number; commitP99Ms?: number; recordsPerCommit?: number; roundTripsPerCommit?: number;
  }>>;
  /** A ratio whose rows were not both run is null. */
  ratios: {
    aOverC: number | null; aOverD: number | null; aOverB: number | null; cOverD: number | null; eOverC: number | null; eOverA: number | null;
    /** h/i: htmqc exactly-once on PostgreSQL over the hand-written at-least-once consumer on the same server. */
    hOverI: number | null; hOverE: number | null;
    /** The median of the per-round a/c (h/i): each pair ran back to back, so load from elsewhere on the host cancels more. */
    aOverCPaired: number | null;
    hOverIPaired: number | null;
    perRound: { aOverC: number | null; aOverD: number | null; eOverC: number | null; hOverI: number | null }[];
  };
  targets: { aOverCAtLeast09: boolean | null; hOverIAtLeast1: boolean | null };
}

/** x / y rounded, or null when a row was not run. */
function ratio(x: DrainRun | { msgPerSec: number } | undefined, y: DrainRun | { msgPerSec: number } | undefined): number | null {
  return x === undefined || y === undefined ? null : r3(x.msgPerSec / y.msgPerSec);
}

function medianOrNull(xs: readonly (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : r3(median(v));
}

let groupSeq = 0;

async function scenarioThroughput(kafka: Kafka, valueBytes: number): Promise<ThroughputResult> {
  const topic = `bench-tp-${valueBytes}`;
  const N = args.records;
  const P = args.partitions;
  const variants = ALL_VARIANTS.filter((v) => args.variants.has(LETTER[v]));
  log(`throughput ${valueBytes} B: filling ${fmtInt(N)} records`);
  const fillMs = await fillTopic(kafka, topic, N, valueBytes, P);
  log(`throughput ${valueBytes} B: filled in ${Math.round(fillMs)} ms`);
  // One unmeasured drain by kafkajs and by htmqc first: the first drains
  // after a fill ran ~35 % slower for every consumer alike (the broker's
  // and this process's JIT warming up), which lands on whichever variant
  // the first round puts first.
  log(`throughput ${valueBytes} B: warm-up drains (not measured)`);
  await drainKafkajs(kafka, topic, `bench-warmup-${valueBytes}-${groupSeq++}`, N, valueBytes, P);
  await drainHtmqc(kafka, topic, `warmup-${valueBytes}-${groupSeq++}`, valueBytes, { core: 'native', until: N });
  if (variants.includes('htmqcPg') || variants.includes('kafkajsPg')) {
    await drainHtmqc(kafka, topic, `warmup-pg-${valueBytes}-${groupSeq++}`, valueBytes, { core: 'native', ledger: 'postgres', until: N });
  }
  const runs: DrainRun[] = [];
  const perRound: ThroughputResult['ratios']['perRound'] = [];
  for (let rep = 0; rep < args.reps; rep++) {
    const order = variants.map((_, i) => variants[(i + rep) % variants.length]!);
    const round: Partial<Record<Variant, DrainRun>> = {};
    for (const v of order) {
      const name = `${v}-${valueBytes}-${rep}-${groupSeq++}`;
      let run: DrainRun;
      if (v === 'htmqcNative' || v === 'htmqcTs') run = await drainHtmqc(kafka, topic, name, valueBytes, { core: v === 'htmqcNative' ? 'native' : 'ts', until: N });
      else if (v === 'htmqcEffect') run = await drainHtmqc(kafka, topic, name, valueBytes, { core: 'native', effect: true, until: N });
      else if (v === 'htmqcPg') run = await drainHtmqc(kafka, topic, name, valueBytes, { core: 'native', ledger: 'postgres', until: N });
      else if (v === 'kafkajs') run = await drainKafkajs(kafka, topic, `bench-${name}`, N, valueBytes, P);
      else if (v === 'kafkajsPg') run = await drainKafkajsPg(kafka, topic, `bench-${name}`, N, valueBytes, P);
      else run = await drainKcat(topic, N, valueBytes);
      const tx = run.roundTripsPerCommit === undefined ? ''
        : `  tx ${run.ledgerCommits} p50 ${run.ledgerCommitP50Ms} p99 ${run.ledgerCommitP99Ms} ms, ${run.recordsPerCommit} rec, ${run.roundTripsPerCommit} trips` +
          (run.effectsPerStatement === undefined ? '' : `, ${run.effectsPerStatement} effects/statement`);
      log(`  round ${rep + 1}/${args.reps} ${v.padEnd(12)} ${fmtInt(run.msgPerSec).padStart(10)} msg/s  ${run.mbPerSec} MB/s  cpu ${run.cpuMsPer1k ?? '-'} ms/1k  ledger share ${run.ledgerShare ?? '-'}${tx}`);
      runs.push(run);
      round[v] = run;
    }
    perRound.push({
      aOverC: ratio(round.htmqcNative, round.kafkajs), aOverD: ratio(round.htmqcNative, round.kcat),
      eOverC: ratio(round.htmqcEffect, round.kafkajs), hOverI: ratio(round.htmqcPg, round.kafkajsPg),
    });
  }
  const med: ThroughputResult['median'] = {};
  for (const v of variants) {
    const rs = runs.filter((r) => r.variant === v);
    const cpu = rs.map((r) => r.cpuMsPer1k).filter((x): x is number => x !== null);
    const share = rs.map((r) => r.ledgerShare).filter((x): x is number => x !== undefined);
    const tx = rs.every((r) => r.roundTripsPerCommit !== undefined) ? {
      commitP50Ms: r3(median(rs.map((r) => r.ledgerCommitP50Ms!))), commitP99Ms: r3(median(rs.map((r) => r.ledgerCommitP99Ms!))),
      recordsPerCommit: r1(median(rs.map((r) => r.recordsPerCommit!))), roundTripsPerCommit: r2(median(rs.map((r) => r.roundTripsPerCommit!))),
    } : {};
    med[v] = {
      msgPerSec: Math.round(median(rs.map((r) => r.msgPerSec))), mbPerSec: r2(median(rs.map((r) => r.mbPerSec))),
      cpuMsPer1k: cpu.length ? r3(median(cpu)) : null, ...(share.length ? { ledgerShare: r3(median(share)) } : {}), ...tx,
    };
  }
  const ratios: ThroughputResult['ratios'] = {
    aOverC: ratio(med.htmqcNative, med.kafkajs), aOverD: ratio(med.htmqcNative, med.kcat),
    aOverB: ratio(med.htmqcNative, med.htmqcTs), cOverD: ratio(med.kafkajs, med.kcat),
    eOverC: ratio(med.htmqcEffect, med.kafkajs), eOverA: ratio(med.htmqcEffect, med.htmqcNative),
    hOverI: ratio(med.htmqcPg, med.kafkajsPg), hOverE: ratio(med.htmqcPg, med.htmqcEffect),
    aOverCPaired: medianOrNull(perRound.map((p) => p.aOverC)), hOverIPaired: medianOrNull(perRound.map((p) => p.hOverI)), perRound,
  };
  const result: ThroughputResult = {
    bench: 'throughput', records: N, valueBytes, partitions: P, reps: args.reps, fillMs: Math.round(fillMs), variants, runs, median: med, ratios,
    targets: {
      aOverCAtLeast09: ratios.aOverC === null ? null : ratios.aOverC >= 0.9,
      hOverIAtLeast1: ratios.hOverI === null ? null : ratios.hOverI >= 1.0,
    },
  };
  const met = (t: boolean | null): string => (t === null ? 'not run' : t ? 'met' : 'MISSED');
  console.log(`\nThroughput: ${fmtInt(N)} records x ${valueBytes} B, ${P} partitions, median of ${args.reps} interleaved rounds`);
  console.log('consumer'.padEnd(64) + 'msg/s'.padStart(11) + 'MB/s'.padStart(9) + 'CPU ms/1k'.padStart(11) + 'ledger%'.padStart(9));
  for (const v of variants) {
    const m = med[v]!;
    console.log(LABEL[v].padEnd(64) + fmtInt(m.msgPerSec).padStart(11) + m.mbPerSec.toFixed(2).padStart(9)
      + (m.cpuMsPer1k === null ? '-' : m.cpuMsPer1k.toFixed(3)).padStart(11) + (m.ledgerShare === undefined ? '-' : `${(m.ledgerShare * 100).toFixed(0)}%`).padStart(9));
  }
  for (const v of ['htmqcPg', 'kafkajsPg'] as const) {
    const m = med[v];
    if (m?.roundTripsPerCommit === undefined) continue;
    const what = v === 'htmqcPg' ? '(h) ledger commit (commit() call to answer)' : '(i) batch transaction (BEGIN to COMMIT answered)';
    console.log(`${what}: p50 ${m.commitP50Ms} ms, p99 ${m.commitP99Ms} ms, ${m.recordsPerCommit} records, ${m.roundTripsPerCommit} round trips each (medians over the runs)`);
  }
  const per = (k: 'aOverC' | 'eOverC' | 'hOverI'): string => perRound.map((p) => p[k] ?? '-').join(' ');
  console.log(`ratios: a/c ${ratios.aOverC ?? '-'} (target >= 0.9: ${met(result.targets.aOverCAtLeast09)}; median of the per-round a/c ${ratios.aOverCPaired ?? '-'}), ` +
    `a/d ${ratios.aOverD ?? '-'}, a/b ${ratios.aOverB ?? '-'}, c/d ${ratios.cOverD ?? '-'}, e/c ${ratios.eOverC ?? '-'}, e/a ${ratios.eOverA ?? '-'}; ` +
    `h/i ${ratios.hOverI ?? '-'} (target >= 1.0: ${met(result.targets.hOverIAtLeast1)}; median of the per-round h/i ${ratios.hOverIPaired ?? '-'}), h/e ${ratios.hOverE ?? '-'}; ` +
    `per round a/c ${per('aOverC')}, e/c ${per('eOverC')}, h/i ${per('hOverI')}`);
  console.log(JSON.stringify({ ...result, runs: undefined }));
  return result;
}

interface LatencySide { samples: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; meanMs: number }
interface LatencyResult {
  bench: 'latency';
  /** How the rate was chosen. */
  load: string;
  ratePerSec: number;
  seconds: number;
  partitions: number;
  valueBytes: number;
  warmupSeconds: number;
  htmqc: LatencySide & { ledgerCommits: number; ledgerMsMean: number; ledgerMsP50: number; ledgerMsP99: number; recordsPerCommit: number };
  /** htmqc's latency split at the handler: produce -> handler start (kafkajs' part) and handler start -> ledger commit (htmqc's). */
  htmqcToHandler: LatencySide;
  htmqcHandlerToCommit: LatencySide;
  kafkajs: LatencySide;
  /** kcat (librdkafka), produce -> line read by this process: the native consumer's floor on this host. */
  kcat: LatencySide;
  targets: { htmqcP99AtMost5ms: boolean };
}

function summarise(lat: number[]): LatencySide {
  const s = Float64Array.from(lat).sort();
  let sum = 0;
  for (const x of s) sum += x;
  return { samples: s.length, p50Ms: r2(pct(s, 0.5)), p99Ms: r2(pct(s, 0.99)), p999Ms: r2(pct(s, 0.999)), maxMs: r2(s[s.length - 1] ?? NaN), meanMs: r2(sum / s.length) };
}

/**
 * kcat from the start of a fresh topic (no group), printing each record's key,
 * the producer's ASCII monotonic stamp; latency is taken when this process
 * reads the line.  Resolves with the samples once stop resolves.
 */
function kcatLatency(topic: string, cutoff: () => number, stop: Promise<void>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const lat: number[] = [];
    const child = spawn('kcat', ['-C', '-b', brokerAddress(opts), '-t', topic, '-o', 'beginning', '-u', '-q', '-X', 'fetch.wait.max.ms=250', '-f', '%k\n'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let rest = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const at = monoMs();
      const lines = (rest + chunk.toString('latin1')).split('\n');
      rest = lines.pop()!;
      const from = cutoff();
      for (const l of lines) {
        const stamp = Number(l);
        if (stamp >= from) lat.push(at - stamp);
      }
    });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGTERM' && code !== 0) reject(new Error(`kcat exit ${code}: ${err}`));
      else resolve(lat);
    });
    void stop.then(() => child.kill('SIGTERM'));
  });
}

function runProducer(topic: string, rate: number, seconds: number, partitions: number): Promise<{ sent: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'latency-producer.js'), brokerAddress(opts), topic, String(partitions), String(rate), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) { reject(new Error(`latency producer exit ${code}`)); return; }
      resolve(JSON.parse(out.trim().split('\n').pop()!) as { sent: number });
    });
  });
}

async function scenarioLatency(kafka: Kafka, rate: number, what: string): Promise<LatencyResult> {
  const seconds = args.latencySeconds;
  const P = args.partitions;
  const warm = Math.min(3, seconds / 5);
  log(`latency: ${fmtInt(rate)} msg/s for ${seconds} s per consumer`);

  // htmqc: stamp of each handled record, matched to the ledger commit covering its offset.
  const topicA = `bench-lat-htmqc-${Date.now()}`;
  await createTopic(kafka, topicA, P);
  // Per partition and offset: the produce stamp and the time the handler saw the record.
  const stamps = Array.from({ length: P }, () => new Map<number, number>());
  const seenAt = Array.from({ length: P }, () => new Map<number, number>());
  const latA: number[] = [];
  const toHandlerA: number[] = [];
  const handlerToCommitA: number[] = [];
  let cutoff = Infinity;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => { stop = r; });
  let sentA: number;
  const runA = drainHtmqc(kafka, topicA, `lat-${Date.now()}`, 100, {
    core: 'native', until: stopped,
    onMessage: (p, off, v) => {
      if (v === null || v.length < 8) return;
      stamps[p]!.set(off, v.readDoubleLE(0));
      seenAt[p]!.set(off, monoMs());
    },
    onCommit: (writes, at) => {
      for (const w of writes) {
        if (!w.accepted) continue;
        const m = stamps[w.partition]!;
        const h = seenAt[w.partition]!;
        for (let o = w.from; o < w.upTo; o++) {
          const s = m.get(o);
          if (s === undefined) continue;
          const seen = h.get(o)!;
          m.delete(o);
          h.delete(o);
          if (s < cutoff) continue;
          latA.push(at - s);
          toHandlerA.push(seen - s);
          handlerToCommitA.push(at - seen);
        }
      }
    },
  });
  // drainHtmqc resolves start() inside; give the group a moment to join before producing.
  await sleep(3000);
  cutoff = monoMs() + warm * 1000;
  sentA = (await runProducer(topicA, rate, seconds, P)).sent;
  await sleep(1500);
  stop();
  const a = await runA;

  // kafkajs: stamp to the end of the eachBatch handler.
  const topicC = `bench-lat-kafkajs-${Date.now()}`;
  await createTopic(kafka, topicC, P);
  const latC: number[] = [];
  let cutoffC = Infinity;
  let stopC!: () => void;
  const stoppedC = new Promise<void>((r) => { stopC = r; });
  const runC = drainKafkajs(kafka, topicC, `bench-lat-kafkajs-${Date.now()}`, 0, 100, P, (values, at) => {
    for (const v of values) {
      if (v === null || v.length < 8) continue;
      const s = v.readDoubleLE(0);
      if (s >= cutoffC) latC.push(at - s);
    }
  }, stoppedC);
  await sleep(3000);
  cutoffC = monoMs() + warm * 1000;
  const sentC = (await runProducer(topicC, rate, seconds, P)).sent;
  await sleep(1500);
  stopC();
  await runC;

  // kcat: the native floor, same producer and rate.
  const topicD = `bench-lat-kcat-${Date.now()}`;
  await createTopic(kafka, topicD, P);
  let cutoffD = Infinity;
  let stopD!: () => void;
  const stoppedD = new Promise<void>((r) => { stopD = r; });
  const runD = kcatLatency(topicD, () => cutoffD, stoppedD);
  await sleep(3000);
  cutoffD = monoMs() + warm * 1000;
  const sentD = (await runProducer(topicD, rate, seconds, P)).sent;
  await sleep(1500);
  stopD();
  const latD = await runD;

  const commitMs = a.ledgerMs! / Math.max(1, a.ledgerCommits!);
  const res: LatencyResult = {
    bench: 'latency', load: what, ratePerSec: rate, seconds, partitions: P, valueBytes: 100, warmupSeconds: warm,
    htmqc: {
      ...summarise(latA), ledgerCommits: a.ledgerCommits!, ledgerMsMean: r3(commitMs), ledgerMsP50: a.ledgerCommitP50Ms!, ledgerMsP99: a.ledgerCommitP99Ms!,
      recordsPerCommit: a.recordsPerCommit!,
    },
    htmqcToHandler: summarise(toHandlerA),
    htmqcHandlerToCommit: summarise(handlerToCommitA),
    kafkajs: summarise(latC),
    kcat: summarise(latD),
    targets: { htmqcP99AtMost5ms: false },
  };
  res.targets.htmqcP99AtMost5ms = res.htmqc.p99Ms <= 5;
  console.log(`\nLatency: ${fmtInt(rate)} msg/s (${what}), ${seconds} s, ${P} partitions, first ${warm} s dropped`);
  console.log(`produced ${fmtInt(sentA)} (htmqc run), ${fmtInt(sentC)} (kafkajs run), ${fmtInt(sentD)} (kcat run)`);
  console.log('consumer'.padEnd(48) + 'samples'.padStart(9) + 'p50 ms'.padStart(9) + 'p99 ms'.padStart(9) + 'p99.9 ms'.padStart(10) + 'max ms'.padStart(9));
  const row = (name: string, s: LatencySide): void => console.log(name.padEnd(48) + String(s.samples).padStart(9) + s.p50Ms.toFixed(2).padStart(9) + s.p99Ms.toFixed(2).padStart(9) + s.p999Ms.toFixed(2).padStart(10) + s.maxMs.toFixed(2).padStart(9));
  row('htmqc, produce -> ledger commit', res.htmqc);
  row('  of which produce -> handler start', res.htmqcToHandler);
  row('  of which handler start -> ledger commit', res.htmqcHandlerToCommit);
  row('kafkajs eachBatch, produce -> handler done', res.kafkajs);
  row('kcat (librdkafka), produce -> record read', res.kcat);
  console.log(`htmqc ledger: ${res.htmqc.ledgerCommits} commits, transaction p50 ${res.htmqc.ledgerMsP50} / p99 ${res.htmqc.ledgerMsP99} / mean ${res.htmqc.ledgerMsMean} ms, ${res.htmqc.recordsPerCommit} records per commit; target p99 <= 5 ms: ${res.targets.htmqcP99AtMost5ms ? 'met' : 'MISSED'}`);
  console.log(JSON.stringify(res));
  return res;
}

interface EndToEndMaxResult {
  bench: 'endToEndMax';
  seconds: number;
  partitions: number;
  valueBytes: number;
  /** Records the flat-out producer sent per second while htmqc consumed. */
  producedPerSec: number;
  /** Records htmqc committed to the ledger per second in the same window. */
  committedPerSec: number;
  /** The lower of the two: the most this host carries end to end. */
  maxPerSec: number;
}

/**
 * The end-to-end maximum: a producer sends flat out for S seconds while htmqc
 * (native core, SQLite FULL) consumes the same topic; both share the host's
 * cores with the broker, as in the latency scenario, so the maximum is what
 * the three together sustain, not what either does alone.
 */
async function scenarioEndToEndMax(kafka: Kafka): Promise<EndToEndMaxResult> {
  const seconds = Math.max(5, Math.round(args.latencySeconds / 2));
  const P = args.partitions;
  const topic = `bench-e2e-max-${Date.now()}`;
  await createTopic(kafka, topic, P);
  log(`end-to-end maximum: producing flat out for ${seconds} s while htmqc consumes`);
  let committed = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => { stop = r; });
  const run = drainHtmqc(kafka, topic, `e2e-${Date.now()}`, 100, {
    core: 'native', until: stopped,
    onCommit: (writes) => { for (const w of writes) if (w.accepted) committed += w.upTo - w.from; },
  });
  await sleep(3000);
  const c0 = committed;
  const t0 = performance.now();
  const { sent } = await runProducer(topic, 0, seconds, P);
  const ms = performance.now() - t0;
  const c1 = committed;
  stop();
  await run;
  const producedPerSec = Math.round((sent * 1000) / ms);
  const committedPerSec = Math.round(((c1 - c0) * 1000) / ms);
  const res: EndToEndMaxResult = {
    bench: 'endToEndMax', seconds, partitions: P, valueBytes: 100, producedPerSec, committedPerSec, maxPerSec: Math.min(producedPerSec, committedPerSec),
  };
  console.log(`\nEnd-to-end maximum, ${seconds} s, ${P} partitions, 100 B: produced ${fmtInt(producedPerSec)} msg/s while htmqc committed ${fmtInt(committedPerSec)} msg/s -> max ${fmtInt(res.maxPerSec)} msg/s`);
  console.log(JSON.stringify(res));
  return res;
}

interface MemoryResult {
  bench: 'memory';
  /** maxInFlightPerPartition of the draining consumer. */
  window: number;
  records: number;
  valueBytes: number;
  partitions: number;
  fillMs: number;
  drainMs: number;
  msgPerSec: number;
  samples: number;
  rssMiB: { min: number; max: number; median: number; start: number };
  heapUsedMiB: { min: number; max: number; median: number };
  maxDeviationFromMedian: number;
  flatWithin10pct: boolean;
  /** Median RSS of the last quarter of the post-warm-up samples over that of the first quarter, minus 1. */
  drift: number;
  /** Least-squares slope of RSS over committed records, MiB per million records. */
  slopeMiBPerMillion: number;
  series: { tS: number; rssMiB: number; committed: number }[];
}

/** One backlog, drained by a fresh group at each window: the runtime's default, then --window. */
async function scenarioMemory(kafka: Kafka): Promise<MemoryResult[]> {
  const N = args.memoryRecords;
  const topic = 'bench-memory';
  log(`memory: filling ${fmtInt(N)} records`);
  const fillMs = await fillTopic(kafka, topic, N, 100, args.partitions);
  log(`memory: filled in ${Math.round(fillMs)} ms`);
  const out: MemoryResult[] = [];
  for (const window of [...new Set([DEFAULT_MAX_IN_FLIGHT_PER_PARTITION, args.window])]) out.push(await memoryDrain(kafka, topic, fillMs, window));
  return out;
}

async function memoryDrain(kafka: Kafka, topic: string, fillMs: number, window: number): Promise<MemoryResult> {
  const N = args.memoryRecords;
  const P = args.partitions;
  log(`memory: draining with window ${fmtInt(window)}`);
  const series: { tS: number; rssMiB: number; heapMiB: number; committed: number }[] = [];
  const t0 = performance.now();
  let last = 0;
  let lastLog = t0;
  const run = await drainHtmqc(kafka, topic, `memory-${window}-${Date.now()}`, 100, {
    core: 'native', until: N, window,
    onProgress: (committed) => {
      const now = performance.now();
      if (now - last < 250) return;
      last = now;
      const mu = process.memoryUsage();
      series.push({ tS: r2((now - t0) / 1000), rssMiB: r1(mu.rss / 1048576), heapMiB: r1(mu.heapUsed / 1048576), committed });
      if (now - lastLog > 15000) { lastLog = now; log(`  memory: ${fmtInt(committed)} committed, rss ${r1(mu.rss / 1048576)} MiB`); }
    },
  });
  const firstCommitted = series.find((s) => s.committed > 0)?.tS ?? 0;
  const endT = series.length ? series[series.length - 1]!.tS : 0;
  const warmEnd = firstCommitted + 0.2 * (endT - firstCommitted);
  const after = series.filter((s) => s.tS >= warmEnd);
  const rss = after.map((s) => s.rssMiB);
  const heap = after.map((s) => s.heapMiB);
  const med = median(rss);
  const dev = Math.max(...rss.map((x) => Math.abs(x - med) / med));
  const q = Math.max(1, Math.floor(rss.length / 4));
  const drift = median(rss.slice(-q)) / median(rss.slice(0, q)) - 1;
  const xs = after.map((s) => s.committed / 1e6);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = rss.reduce((a, b) => a + b, 0) / rss.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) { sxy += (xs[i]! - mx) * (rss[i]! - my); sxx += (xs[i]! - mx) ** 2; }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const res: MemoryResult = {
    bench: 'memory', window, records: N, valueBytes: 100, partitions: P, fillMs: Math.round(fillMs), drainMs: Math.round(run.ms), msgPerSec: run.msgPerSec,
    samples: rss.length,
    rssMiB: { min: Math.min(...rss), max: Math.max(...rss), median: r1(med), start: series[0]?.rssMiB ?? NaN },
    heapUsedMiB: { min: Math.min(...heap), max: Math.max(...heap), median: r1(median(heap)) },
    maxDeviationFromMedian: r3(dev), flatWithin10pct: dev <= 0.1, drift: r3(drift), slopeMiBPerMillion: r2(slope),
    series: series.filter((_, i) => i % Math.max(1, Math.ceil(series.length / 200)) === 0).map((s) => ({ tS: s.tS, rssMiB: s.rssMiB, committed: s.committed })),
  };
  console.log(`\nMemory: htmqc (native core, SQLite FULL) window ${fmtInt(window)} per partition, draining a backlog of ${fmtInt(N)} x 100 B, ${P} partitions, in ${(run.ms / 1000).toFixed(1)} s (${fmtInt(run.msgPerSec)} msg/s)`);
  console.log(`RSS after warm-up (${rss.length} samples, every 250 ms, first 20 % of the drain dropped): min ${res.rssMiB.min} MiB, median ${res.rssMiB.median} MiB, max ${res.rssMiB.max} MiB; at start ${res.rssMiB.start} MiB`);
  console.log(`heapUsed after warm-up: min ${res.heapUsedMiB.min}, median ${res.heapUsedMiB.median}, max ${res.heapUsedMiB.max} MiB`);
  console.log(`max deviation from the median: ${(dev * 100).toFixed(1)} % -> flat within +-10 %: ${res.flatWithin10pct ? 'yes' : 'NO'}`);
  console.log(`drift (median of last quarter / first quarter - 1): ${(drift * 100).toFixed(1)} %; slope ${res.slopeMiBPerMillion} MiB per million records`);
  console.log(JSON.stringify({ ...res, series: undefined }));
  return res;
}

interface CoreResult { bench: 'core'; rows: { core: string; trace: string; path: string; msgPerSec: number }[]; nativeOverTs: unknown; targetsMet: unknown; table: string }

function scenarioCore(): Promise<CoreResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, HTMQC_BENCH_MS: process.env['HTMQC_BENCH_MS'] ?? (args.quick ? '500' : '1500') };
    const child = spawn(process.execPath, [path.join(__dirname, 'core.js')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) { reject(new Error(`core bench exit ${code}`)); return; }
      const lines = out.trim().split('\n');
      const json = JSON.parse(lines.pop()!) as Omit<CoreResult, 'table'>;
      console.log('\nCore (node dist/bench/core.js):');
      console.log(lines.join('\n'));
      console.log(JSON.stringify(json));
      resolve({ ...json, table: lines.join('\n') });
    });
  });
}

interface FsyncResult {
  bench: 'fsync';
  commits: number;
  full: LatencySide;
  normal: LatencySide;
  /** Rows of 100 B / 1 KiB in transactions of 1,500 (the ledger's group-commit size under load), FULL: the per-row floor of an effect INSERT. */
  bulk: { valueBytes: number; rows: number; usPerRow: number; rowsPerSec: number }[];
}

/** One-row transactions on a WAL file: the per-commit floor of the ledger's latency. */
function scenarioFsync(): FsyncResult {
  fs.mkdirSync(work, { recursive: true });
  const n = args.quick ? 300 : 1000;
  const one = (sync: 'FULL' | 'NORMAL'): LatencySide => {
    const file = path.join(work, `fsync-${sync}.db`);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${sync}`);
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)');
    const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const tx = db.transaction((k: number) => { ins.run(k, Buffer.alloc(100)); });
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      tx(i);
      lat.push(performance.now() - t);
    }
    db.close();
    return summarise(lat);
  };
  const bulk = (valueBytes: number): FsyncResult['bulk'][number] => {
    const file = path.join(work, `bulk-${valueBytes}.db`);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE effects (p INTEGER NOT NULL, o INTEGER NOT NULL, v BLOB)');
    const ins = db.prepare('INSERT INTO effects (p, o, v) VALUES (?, ?, ?)');
    const value = Buffer.alloc(valueBytes, 120);
    const tx = db.transaction((base: number) => { for (let i = 0; i < 1500; i++) ins.run(base % 6, base + i, value); });
    const rows = args.quick ? 150_000 : 300_000;
    const t = performance.now();
    for (let b = 0; b < rows; b += 1500) tx(b);
    const ms = performance.now() - t;
    db.close();
    return { valueBytes, rows, usPerRow: r3((ms * 1000) / rows), rowsPerSec: Math.round((rows * 1000) / ms) };
  };
  const res: FsyncResult = { bench: 'fsync', commits: n, full: one('FULL'), normal: one('NORMAL'), bulk: [bulk(100), bulk(1024)] };
  console.log(`\nSQLite commit floor: ${n} one-row transactions, WAL (${os.platform()} ${os.release()})`);
  console.log('synchronous'.padEnd(14) + 'p50 ms'.padStart(9) + 'p99 ms'.padStart(9) + 'p99.9 ms'.padStart(10) + 'mean ms'.padStart(9));
  for (const [k, s] of [['FULL', res.full], ['NORMAL', res.normal]] as const) {
    console.log(k.padEnd(14) + s.p50Ms.toFixed(3).padStart(9) + s.p99Ms.toFixed(3).padStart(9) + s.p999Ms.toFixed(3).padStart(10) + s.meanMs.toFixed(3).padStart(9));
  }
  for (const b of res.bulk) console.log(`effect INSERT alone, ${b.valueBytes} B rows, 1,500 per FULL transaction: ${b.usPerRow} us/row (${fmtInt(b.rowsPerSec)} rows/s)`);
  console.log(JSON.stringify(res));
  return res;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const result: Record<string, unknown> = {
    startedAt: started, quick: args.quick,
    host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', node: process.version, loadavg: os.loadavg().map(r2) },
    args: { ...args, only: [...args.only] },
  };
  const write = (): void => {
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, `${JSON.stringify(result, null, 1)}\n`);
  };
  if (args.only.has('core')) { result['core'] = await scenarioCore(); write(); }
  if (args.only.has('fsync')) { result['fsync'] = scenarioFsync(); write(); }
  const needBroker = ['throughput', 'latency', 'memory'].some((s) => args.only.has(s));
  if (needBroker) {
    await wipeBroker(opts);
    const b = await startBroker(opts);
    log(`broker ready on ${b.address} after ${b.startupMs} ms`);
    let pgStarted = false;
    try {
      if (args.only.has('throughput') && (args.variants.has('h') || args.variants.has('i'))) {
        const pg = await startPg({ port: pgPort });
        pgStarted = !pg.alreadyRunning;
        log(`PostgreSQL ${pg.alreadyRunning ? 'already running' : `ready after ${pg.startupMs} ms`} on port ${pgPort} (fsync, synchronous_commit on)`);
        await checkPgDurable();
        // Creates the ledger's tables and the effect table once; every drain truncates them.
        await (await openPgLedger()).close();
      }
      const kafka = client('bench-main');
      const tp: ThroughputResult[] = [];
      if (args.only.has('throughput')) {
        for (const size of args.sizes) { tp.push(await scenarioThroughput(kafka, size)); result['throughput'] = tp; write(); }
      }
      if (args.only.has('latency')) {
        // 50 % of what producer, broker and htmqc sustain together on this host (measured, same run).
        const e2e = await scenarioEndToEndMax(kafka);
        result['endToEndMax'] = e2e;
        result['latency'] = await scenarioLatency(kafka, Math.max(100, Math.round(e2e.maxPerSec / 2)),
          `50 % of the end-to-end max ${fmtInt(e2e.maxPerSec)} msg/s (produced and committed at once)`);
        write();
        result['latencyLight'] = await scenarioLatency(kafka, 1000, 'light load, the floor');
        write();
      }
      if (args.only.has('memory')) {
        const [atDefault, ...wider] = await scenarioMemory(kafka);
        result['memory'] = atDefault;
        if (wider.length) result['memoryWideWindow'] = wider[0];
        write();
      }
    } finally {
      if (pgStarted) await stopPg({ port: pgPort });
      await stopBroker(opts);
    }
  }
  result['finishedAt'] = new Date().toISOString();
  write();
  log(`wrote ${path.relative(process.cwd(), args.out)}`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
