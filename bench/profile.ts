// Where htmqc's time goes: drains a pre-filled topic with htmqc (native
// core, SQLite FULL, one INSERT per record via tx, as bench/main.ts (a))
// under the V8 CPU profiler, then attributes every sample to categories
// (inclusive: a sample counts for each category on its stack) and lists the
// top self-time functions.  The raw .cpuprofile goes to .cache/bench-profile/.
//
//   node dist/bench/profile.js [records=300000] [valueBytes=100] [partitions=6] [--no-effect]
//   (HTMQC_BENCH_WINDOW=<maxInFlightPerPartition>, default 10000)
//
// Starts its own broker on HTMQC_BENCH_PROFILE_PORT (default 19694).  Prints
// a table and one JSON line; writes bench/results/profile.json.

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import * as fs from 'fs';
import * as inspector from 'inspector';
import * as path from 'path';
import { performance } from 'perf_hooks';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicReady } from '../tools/kafka/topics';
import { brokerAddress, repoRoot, startBroker, stopBroker, wipeBroker, type BrokerOptions } from '../tools/kafka/broker';
import { createConsumer, openSqliteLedger } from '../src';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const N = Number(positional[0] ?? 300000);
const SIZE = Number(positional[1] ?? 100);
const P = Number(positional[2] ?? 6);
const effect = !process.argv.includes('--no-effect');
/** Spec Window per partition (maxInFlightPerPartition), HTMQC_BENCH_WINDOW, default 10000 as bench/main.ts. */
const WINDOW = Number(process.env['HTMQC_BENCH_WINDOW'] ?? 10000);
const port = Number(process.env['HTMQC_BENCH_PROFILE_PORT'] ?? 19694);
const opts: BrokerOptions = { port, controllerPort: port + 1, dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `bench-${port}`) };
const work = path.join(repoRoot(), '.cache', 'bench-profile');
const outDir = path.join(repoRoot(), 'bench', 'results');

interface CpuProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Categories: a predicate on one stack frame. */
export const CATEGORIES: readonly [string, (fn: string, url: string) => boolean][] = [
  ['ledger commit (SQLite store: effects, outcomes, next, fsync; on the commit thread unless inline)', (fn, url) => fn === 'commit' && url.includes('/src/ledger/sqlite/')],
  ['kafkajs protocol decode', (_fn, url) => url.includes('kafkajs/src/protocol')],
  ['kafkajs (all)', (_fn, url) => url.includes('node_modules/kafkajs')],
  ['htmqc runtime (src/runtime)', (_fn, url) => url.includes('/src/runtime/')],
  ['htmqc core facade (src/core)', (_fn, url) => url.includes('/src/core/')],
  ['bench handler (tx.execute per record)', (fn) => fn === 'handler'],
  ['garbage collector', (fn) => fn === '(garbage collector)'],
  ['idle (waiting: fetch, fsync off-thread none)', (fn) => fn === '(idle)'],
  ['program (V8/native outside JS)', (fn) => fn === '(program)'],
];

export function summariseProfile(p: CpuProfile): { totalMs: number; categories: { name: string; ms: number; share: number }[]; topSelf: { fn: string; where: string; ms: number; share: number }[] } {
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cat = new Array<number>(CATEGORIES.length).fill(0);
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
    const hit = new Array<boolean>(CATEGORIES.length).fill(false);
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      CATEGORIES.forEach(([, pred], k) => { if (!hit[k] && pred(f.functionName, f.url)) hit[k] = true; });
    }
    hit.forEach((h, k) => { if (h) cat[k]! += dt; });
  }
  const agg = new Map<string, { fn: string; where: string; ms: number }>();
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    const where = f.url === '' ? '' : `${f.url.replace(/^.*?(node_modules\/|\/src\/|\/bench\/)/, '$1')}:${f.lineNumber + 1}`;
    const key = `${f.functionName}@${where}`;
    const a = agg.get(key) ?? { fn: f.functionName || '(anonymous)', where, ms: 0 };
    a.ms += ms;
    agg.set(key, a);
  }
  const topSelf = [...agg.values()].sort((a, b) => b.ms - a.ms).slice(0, 25).map((a) => ({ ...a, ms: Math.round(a.ms), share: Math.round((a.ms / total) * 1000) / 1000 }));
  return {
    totalMs: Math.round(total),
    categories: CATEGORIES.map(([name], k) => ({ name, ms: Math.round(cat[k]!), share: Math.round((cat[k]! / total) * 1000) / 1000 })),
    topSelf,
  };
}

function post<T>(session: inspector.Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
}

async function main(): Promise<void> {
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(outDir, { recursive: true });
  await wipeBroker(opts);
  await startBroker(opts);
  try {
    const kafka = new Kafka({ clientId: 'bench-profile', brokers: [brokerAddress(opts)], logLevel: logLevel.NOTHING, requestTimeout: 60000 });
    const topic = 'bench-profile';
    const admin = kafka.admin();
    await admin.connect();
    await createTopicReady(admin, { topic, numPartitions: P, replicationFactor: 1 });
    await admin.disconnect();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const value = Buffer.alloc(SIZE, 120);
    const chunk = Math.max(500, Math.floor(2_000_000 / SIZE));
    for (let s = 0; s < N; s += chunk) {
      const messages = [];
      for (let i = s; i < Math.min(N, s + chunk); i++) messages.push({ partition: i % P, key: null, value });
      await producer.send({ topic, acks: 1, messages });
    }
    await producer.disconnect();

    const file = path.join(work, 'ledger.db');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    const db = new Database(file);
    db.exec('CREATE TABLE effects (p INTEGER NOT NULL, o INTEGER NOT NULL, v BLOB)');
    db.close();
    const ledger = openSqliteLedger(file);
    const consumer = createConsumer({
      kafka, groupId: 'bench-profile', topics: [topic], ledger, maxInFlightPerPartition: WINDOW, core: 'native',
      handler: effect
        ? function handler(m, tx) { tx.execute('INSERT INTO effects (p, o, v) VALUES (?, ?, ?)', [m.partition, m.offset, m.value]); }
        : function handler() { return undefined; },
    });
    let ledgerMs = 0;
    let commits = 0;
    let committed = 0;
    consumer.observe({
      ledgerCommit: (e) => {
        ledgerMs += e.durationMs;
        commits++;
        for (const w of e.writes) if (w.accepted) committed += w.upTo - w.from;
      },
    });
    const session = new inspector.Session();
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await consumer.start();
    await post(session, 'Profiler.start');
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    // Not consumer.snapshot(): it decodes the core's whole window (O(in-flight)).
    while (committed < N) await new Promise((r) => setTimeout(r, 20));
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const { profile } = await post<{ profile: CpuProfile }>(session, 'Profiler.stop');
    session.disconnect();
    await consumer.stop();
    await ledger.close();
    fs.writeFileSync(path.join(repoRoot(), '.cache', 'bench-profile', `htmqc${effect ? '' : '-no-effect'}-w${WINDOW}.cpuprofile`), JSON.stringify(profile));
    const s = summariseProfile(profile);
    const rate = Math.round((N * 1000) / wall);
    console.log(`htmqc (native core, SQLite FULL, ${effect ? 'one INSERT per record' : 'no effects'}) draining ${N.toLocaleString('en-US')} x ${SIZE} B, ${P} partitions, window ${WINDOW}: ${rate.toLocaleString('en-US')} msg/s, wall ${Math.round(wall)} ms, CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms (${(((cpu.user + cpu.system) / 1000 / N) * 1000).toFixed(2)} ms per 1k records)`);
    console.log(`ledger: ${commits} transactions, ${Math.round(ledgerMs)} ms (${((ledgerMs / wall) * 100).toFixed(1)} % of wall, ${((ledgerMs / N) * 1000).toFixed(2)} us per record, ${(N / commits).toFixed(0)} records per transaction)`);
    console.log(`\nprofile, ${s.totalMs} ms sampled; inclusive by category:`);
    for (const c of s.categories) console.log(`  ${c.name.padEnd(56)} ${String(c.ms).padStart(7)} ms ${(c.share * 100).toFixed(1).padStart(6)} %`);
    console.log('top self time:');
    for (const t of s.topSelf) console.log(`  ${t.fn.slice(0, 40).padEnd(40)} ${t.where.slice(0, 60).padEnd(60)} ${String(t.ms).padStart(6)} ms ${(t.share * 100).toFixed(1).padStart(5)} %`);
    const json = {
      bench: 'profile', records: N, valueBytes: SIZE, partitions: P, effect, window: WINDOW, msgPerSec: rate, wallMs: Math.round(wall),
      cpuMsPer1k: Math.round(((cpu.user + cpu.system) / 1000 / N) * 1000 * 1000) / 1000,
      ledger: { commits, ms: Math.round(ledgerMs), shareOfWall: Math.round((ledgerMs / wall) * 1000) / 1000, usPerRecord: Math.round((ledgerMs / N) * 1000 * 100) / 100 },
      ...s,
    };
    fs.writeFileSync(path.join(outDir, `profile${effect ? '' : '-no-effect'}${WINDOW === 2000 ? '' : `-window${WINDOW}`}.json`), `${JSON.stringify(json, null, 1)}\n`);
    console.log(JSON.stringify({ ...json, topSelf: undefined }));
  } finally {
    await stopBroker(opts);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
