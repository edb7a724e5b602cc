// Throughput of htmqc against a plain kafkajs consumer, from one run on one
// broker and one topic: N records of 100 bytes over P partitions, consumed
// (a) by kafkajs eachBatch with auto-commit (at-least-once, no effects), and
// (b) by htmqc with the SQLite ledger (WAL, synchronous=FULL), a handler that
//     queues one INSERT per record via tx (exactly-once effects), and
// (c) by htmqc with a handler that queues nothing (the ledger still writes
//     one outcome row per offset).
// Each run starts a fresh consumer group; the time is from run() to the last
// record handled (kafkajs) or committed to the ledger (htmqc).
//
//   node dist/bench/throughput.js [records=100000] [partitions=4]
//
// Starts its own broker (tools/kafka) on HTMQC_BENCH_PORT (default 19392) and
// stops it afterwards.  Prints a table, then one JSON line.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicReady } from '../tools/kafka/topics';
import { brokerAddress, repoRoot, startBroker, stopBroker, wipeBroker, type BrokerOptions } from '../tools/kafka/broker';
import { createConsumer, openSqliteLedger } from '../src';

const N = Number(process.argv[2] ?? 100000);
const P = Number(process.argv[3] ?? 4);
const port = Number(process.env['HTMQC_BENCH_PORT'] ?? 19392);
const opts: BrokerOptions = { port, controllerPort: port + 1, dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `bench-throughput-${port}`) };
const work = path.join(repoRoot(), '.cache', 'bench-throughput');

function client(id: string): Kafka {
  return new Kafka({ clientId: id, brokers: [brokerAddress(opts)], logLevel: logLevel.NOTHING, requestTimeout: 30000 });
}

async function produce(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  await createTopicReady(admin, { topic, numPartitions: P, replicationFactor: 1 });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(100, 120);
  const t0 = Date.now();
  for (let start = 0; start < N; start += 5000) {
    const messages = [];
    for (let i = start; i < Math.min(N, start + 5000); i++) messages.push({ partition: i % P, key: null, value });
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  return Date.now() - t0;
}

async function plainKafkajs(kafka: Kafka, topic: string): Promise<number> {
  const consumer = kafka.consumer({ groupId: 'bench-plain', maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  const t0 = Date.now();
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: true,
      partitionsConsumedConcurrently: P,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= N) resolve();
      },
    });
  });
  const ms = Date.now() - t0;
  await consumer.disconnect();
  return ms;
}

async function htmqc(kafka: Kafka, topic: string, name: string, withEffect: boolean): Promise<number> {
  const file = path.join(work, `${name}.db`);
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  const db = new Database(file);
  db.exec('CREATE TABLE effects (p INTEGER NOT NULL, o INTEGER NOT NULL, v BLOB)');
  db.close();
  const ledger = openSqliteLedger(file);
  const consumer = createConsumer({
    kafka, groupId: `bench-${name}`, topics: [topic], ledger, maxInFlightPerPartition: 2000,
    handler: withEffect
      ? (m, tx) => { tx.execute('INSERT INTO effects (p, o, v) VALUES (?, ?, ?)', [m.partition, m.offset, m.value]); }
      : () => undefined,
  });
  const t0 = Date.now();
  await consumer.start();
  while (consumer.snapshot().counters.committed < N) await new Promise((r) => setTimeout(r, 20));
  const ms = Date.now() - t0;
  await consumer.stop();
  await ledger.close();
  return ms;
}

async function main(): Promise<void> {
  fs.mkdirSync(work, { recursive: true });
  await wipeBroker(opts);
  await startBroker(opts);
  try {
    const kafka = client('bench');
    const topic = 'bench-throughput';
    const produceMs = await produce(kafka, topic);
    const plainMs = await plainKafkajs(kafka, topic);
    const effectMs = await htmqc(kafka, topic, 'htmqc-effect', true);
    const noEffectMs = await htmqc(kafka, topic, 'htmqc-no-effect', false);
    const rate = (ms: number): number => Math.round((N * 1000) / ms);
    const core = process.env['HTMQC_CORE'] ?? 'native';
    const rows: [string, number][] = [
      ['kafkajs eachBatch, autoCommit (at-least-once)', plainMs],
      [`htmqc, SQLite FULL, one INSERT per record (${core} core)`, effectMs],
      [`htmqc, SQLite FULL, no effects (${core} core)`, noEffectMs],
    ];
    console.log(`${N} records x 100 B, ${P} partitions, one local KRaft broker (produced in ${produceMs} ms)`);
    console.log('consumer'.padEnd(58) + 'ms'.padStart(8) + 'msg/s'.padStart(10));
    for (const [name, ms] of rows) console.log(name.padEnd(58) + String(ms).padStart(8) + String(rate(ms)).padStart(10));
    console.log(JSON.stringify({
      bench: 'throughput', records: N, partitions: P, valueBytes: 100, core,
      kafkajsAutoCommit: { ms: plainMs, msgPerSec: rate(plainMs) },
      htmqcSqliteEffect: { ms: effectMs, msgPerSec: rate(effectMs) },
      htmqcSqliteNoEffect: { ms: noEffectMs, msgPerSec: rate(noEffectMs) },
    }));
  } finally {
    await stopBroker(opts);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
