// One consumer process for the runtime integration tests: createConsumer on
// the ledger its options name (SQLite or PostgreSQL: ledger-backend.ts) with
// a handler that inserts one row per record via tx (its effect), stopped by
// an IPC {type:'stop'} or killed by the test.  Options arrive as argv[2] JSON.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import { Kafka, logLevel } from 'kafkajs';
import { createConsumer } from '../../../src';
import type { WorkerOptions } from './harness';
import { openLedger } from './ledger-backend';

const options = JSON.parse(process.argv[2]!) as WorkerOptions;
const poison = new Set(options.poisonKeys ?? []);
const delayMs = options.delayMs ?? 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const kafka = new Kafka({
    clientId: `htmqc-worker-${process.pid}`, brokers: [options.brokers], logLevel: logLevel.NOTHING,
    connectionTimeout: 3000, requestTimeout: 15000, retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 3000 },
  });
  const ledger = await openLedger(options.ledger);
  const consumer = createConsumer({
    kafka, groupId: options.groupId, topics: [options.topic], ledger,
    maxInFlightPerPartition: options.window ?? 500,
    maxRetries: options.maxRetries ?? 2,
    retryBackoff: options.retryBackoff ?? 50,
    ...(options.deadLetterTopic === undefined ? {} : { deadLetterTopic: options.deadLetterTopic }),
    ...(options.trace === undefined ? {} : { trace: options.trace }),
    consumerOptions: { sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000 },
    handler: async (message, tx) => {
      if (delayMs > 0) await sleep(delayMs);
      const key = message.key?.toString() ?? '';
      if (poison.has(key)) throw new Error(`poison record ${key}`);
      tx.execute(options.effectSql, [message.topic, message.partition, message.offset, process.pid, message.value?.toString().slice(0, 10) ?? '']);
    },
  });
  // A fatal ledger error stops the consumer on its own: this process ends with it (onError printed nothing).
  void consumer.stopped.then((cause) => {
    if (cause === undefined) return;
    console.error(`worker ${process.pid}: ${cause.message}`);
    process.exit(4);
  });
  process.on('message', (m: { type?: string }) => {
    if (m.type !== 'stop') return;
    consumer.stop().then(() => ledger.close()).then(() => {
      process.send?.({ type: 'stopped', counters: consumer.snapshot().counters });
      process.exit(0);
    }, (e: unknown) => {
      console.error(`worker ${process.pid}: stop failed: ${String(e)}`);
      process.exit(2);
    });
  });
  await consumer.start();
  process.send?.({ type: 'ready' });
  setInterval(() => {
    if (!process.connected) return;
    const snap = consumer.snapshot();
    const inFlight = snap.partitions.reduce((n, p) => n + p.inFlight, 0);
    process.send?.({ type: 'stats', inFlight, held: snap.partitions.length, counters: snap.counters });
  }, 100).unref();
}

main().catch((e: unknown) => {
  console.error(`worker ${process.pid} failed: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
