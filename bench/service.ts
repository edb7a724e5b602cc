// The state service under load, on a real broker: N records over P partitions
// consumed by one in-process htmqc consumer (SQLite ledger, one INSERT per
// record via tx, transitions on, state service running), three runs:
//   (a) no client attached                     -> throughput
//   (b) one WatchTransitions client reading everything -> throughput, transitions received, dropped
//   (c) a client calling GetPartition back to back -> throughput, GetPartition p50/p99
// Each run uses a fresh topic and group; time is from start() to the last
// offset committed to the ledger.
//
//   node dist/bench/service.js [records=50000] [partitions=6]
//
// Starts its own broker on HTMQC_BENCH_SERVICE_PORT (default 19496), stops it
// afterwards.  Prints a table, then one JSON line.

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicReady } from '../tools/kafka/topics';
import { brokerAddress, repoRoot, startBroker, stopBroker, type BrokerOptions } from '../tools/kafka/broker';
import { createConsumer, openSqliteLedger } from '../src';
import { createStateClient, startStateService } from '../src/service';

const N = Number(process.argv[2] ?? 50000);
const P = Number(process.argv[3] ?? 6);
const port = Number(process.env['HTMQC_BENCH_SERVICE_PORT'] ?? 19496);
const opts: BrokerOptions = { port, controllerPort: port + 1, dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `test-service-bench-${port}`) };
const work = path.join(repoRoot(), '.cache', 'bench-service');

function client(id: string): Kafka {
  return new Kafka({ clientId: id, brokers: [brokerAddress(opts)], logLevel: logLevel.NOTHING, requestTimeout: 30000 });
}

async function produce(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await createTopicReady(admin, { topic, numPartitions: P, replicationFactor: 1 });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const pad = 'x'.repeat(90);
  for (let s = 0; s < N; s += 2000) {
    const messages = [];
    for (let i = s; i < Math.min(N, s + 2000); i++) messages.push({ partition: i % P, value: `${String(i).padStart(10, '0')}${pad}` });
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

function pct(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Result { run: string; seconds: number; perSec: number; watched?: number; dropped?: number; calls?: number; p50Ms?: number; p99Ms?: number }

async function runOnce(name: string, mode: 'none' | 'watch' | 'poll'): Promise<Result> {
  const kafka = client(`bench-service-${name}`);
  const topic = `bench-service-${name}-${Date.now()}`;
  await produce(kafka, topic);
  const db = path.join(work, `${name}.db`);
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  const ledger = openSqliteLedger({ path: db });
  const consumer = createConsumer({
    kafka, groupId: `${topic}-g`, topics: [topic], ledger, transitions: true,
    handler: (m, tx) => { tx.execute('INSERT INTO bench_effects (p, o) VALUES (?, ?)', [m.partition, m.offset]); },
  });
  const setup = new (require('better-sqlite3'))(db) as import('better-sqlite3').Database;
  setup.exec('CREATE TABLE IF NOT EXISTS bench_effects (p INTEGER, o INTEGER)');
  setup.close();
  const service = await startStateService(consumer, { ledger });
  const c = createStateClient(service.address);
  let watched = 0;
  let dropped = 0;
  let stream: ReturnType<typeof c.watch> | undefined;
  if (mode === 'watch') {
    stream = c.watch({});
    stream.on('data', (m: { transitions: unknown[]; dropped: number }) => { watched += m.transitions.length; dropped += m.dropped; });
    stream.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
  }
  const latencies: number[] = [];
  const t0 = performance.now();
  await consumer.start();
  let polling = mode === 'poll';
  const poller = (async () => {
    while (polling) {
      const held = consumer.snapshot().partitions;
      if (held.length === 0) { await new Promise((r) => setTimeout(r, 20)); continue; }
      const p = held[latencies.length % held.length]!;
      const s = performance.now();
      await c.call('GetPartition', { topic, partition: p.partition });
      latencies.push(performance.now() - s);
    }
  })();
  while (consumer.snapshot().counters.committed < N) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - t0) / 1000;
  polling = false;
  await poller;
  await new Promise((r) => setTimeout(r, 300));
  stream?.cancel();
  c.close();
  await consumer.stop();
  await service.close();
  await ledger.close();
  latencies.sort((a, b) => a - b);
  const r: Result = { run: name, seconds: +seconds.toFixed(2), perSec: Math.round(N / seconds) };
  if (mode === 'watch') Object.assign(r, { watched, dropped });
  if (mode === 'poll') Object.assign(r, { calls: latencies.length, p50Ms: +pct(latencies, 0.5).toFixed(2), p99Ms: +pct(latencies, 0.99).toFixed(2) });
  return r;
}

async function main(): Promise<void> {
  fs.mkdirSync(work, { recursive: true });
  const b = await startBroker(opts);
  try {
    const results = [await runOnce('no-client', 'none'), await runOnce('watch-all', 'watch'), await runOnce('getpartition-loop', 'poll')];
    process.stdout.write(`state service under load: ${N} records, ${P} partitions, 1 consumer (SQLite ledger, transitions on)\n`);
    process.stdout.write('run                 seconds  records/s  transitions watched  dropped  GetPartition calls  p50 ms  p99 ms\n');
    for (const r of results) {
      process.stdout.write(`${r.run.padEnd(18)} ${String(r.seconds).padStart(8)} ${String(r.perSec).padStart(10)} ${String(r.watched ?? '-').padStart(20)} ` +
        `${String(r.dropped ?? '-').padStart(8)} ${String(r.calls ?? '-').padStart(19)} ${String(r.p50Ms ?? '-').padStart(7)} ${String(r.p99Ms ?? '-').padStart(7)}\n`);
    }
    process.stdout.write(`${JSON.stringify({ bench: 'service', records: N, partitions: P, results })}\n`);
  } finally {
    if (!b.alreadyRunning) await stopBroker(opts);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/service failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
