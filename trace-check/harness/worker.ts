// One consumer process of a soak run (trace-check/harness/main.ts): the
// htmqc consumer with tracing on, a ledger shared by the group (a SQLite file,
// or a PostgreSQL database of which the worker knows only the URL and its
// schema), and a handler whose effect is one row of soak_effects per record
// (written through tx, so it commits with the offset).  Every poisonEvery-th record of each
// partition (value v goes to partition v % partitions, so the index of v in
// its partition is floor(v / partitions)) always throws and ends
// dead-lettered.  Tells the parent over IPC {type:'assigned', partitions, joins}
// whenever the number of partitions it holds changes (the harness produces
// the next chunk only once an armed member holds partitions, so it must reach
// its fault point).  Stopped by an IPC {type:'stop'}; killed by the harness or
// by its own HTMQC_FAULT point.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import { Kafka, logLevel } from 'kafkajs';
import { createConsumer, openSqliteLedger } from '../../src';
import { openPostgresLedger } from '../../src/ledger/postgres';

export interface SoakWorkerOptions {
  brokers: readonly string[];
  groupId: string;
  topic: string;
  ledger: { readonly kind: 'sqlite'; readonly db: string } | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };
  trace: string;
  window: number;
  maxRetries: number;
  retryBackoff: number;
  /** 0 = no poison records. */
  poisonEvery: number;
  /** Partitions of the topic (the producer sends value v to partition v % partitions). */
  partitions: number;
  sessionTimeout: number;
  heartbeatInterval: number;
}

/** What a worker tells the harness over IPC. */
export type SoakWorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'assigned'; readonly partitions: number; readonly joins: number };

/** The record of value v is poison when it is the poisonEvery-th of its partition. */
export function isPoison(value: number, poisonEvery: number, partitions: number): boolean {
  if (poisonEvery <= 0 || value < 0) return false;
  const index = partitions > 0 ? Math.floor(value / partitions) : value;
  return index % poisonEvery === poisonEvery - 1;
}

export const EFFECTS_DDL =
  'CREATE TABLE IF NOT EXISTS soak_effects (partition INTEGER NOT NULL, offset INTEGER NOT NULL, pid INTEGER NOT NULL, value INTEGER NOT NULL)';
/** The same table in PostgreSQL, where offset is a reserved word. */
export const EFFECTS_DDL_PG =
  'CREATE TABLE IF NOT EXISTS soak_effects (partition integer NOT NULL, "offset" bigint NOT NULL, pid integer NOT NULL, value integer NOT NULL)';

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as SoakWorkerOptions;
  const kafka = new Kafka({
    clientId: `htmqc-soak-${process.pid}`, brokers: [...o.brokers], logLevel: logLevel.NOTHING,
    connectionTimeout: 3000, requestTimeout: 10000, retry: { retries: 100, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  const pg = o.ledger.kind === 'postgres';
  const ledger = o.ledger.kind === 'sqlite'
    ? openSqliteLedger({ path: o.ledger.db, busyTimeoutMs: 20000 })
    : await openUntilUp(() => openPostgresLedger({ connectionString: (o.ledger as { url: string }).url,
      schema: (o.ledger as { schema: string }).schema, userSchema: EFFECTS_DDL_PG, connectTimeoutMs: 3000 }));
  const insert = pg
    ? 'INSERT INTO soak_effects (partition, "offset", pid, value) VALUES ($1, $2, $3, $4)'
    : 'INSERT INTO soak_effects (partition, offset, pid, value) VALUES (?, ?, ?, ?)';
  const consumer = createConsumer({
    kafka, groupId: o.groupId, topics: [o.topic], ledger, trace: o.trace,
    maxInFlightPerPartition: o.window, maxRetries: o.maxRetries, retryBackoff: o.retryBackoff,
    brokerCommitIntervalMs: 500, stopTimeoutMs: 5000,
    consumerOptions: {
      sessionTimeout: o.sessionTimeout, heartbeatInterval: o.heartbeatInterval, rebalanceTimeout: o.sessionTimeout * 2,
      retry: { retries: 100, initialRetryTime: 200, maxRetryTime: 2000 },
    },
    handler: (m, tx) => {
      const value = m.value === null ? -1 : Number(m.value.toString('latin1', 0, 10));
      if (isPoison(value, o.poisonEvery, o.partitions)) throw new Error(`poison record ${value}`);
      tx.execute(insert, [m.partition, m.offset, process.pid, value]);
    },
  });
  // A fatal ledger error stops the consumer on its own: this process ends with it (onError printed nothing).
  void consumer.stopped.then((cause) => {
    if (cause === undefined) return;
    console.error(`soak worker ${process.pid}: ${cause.message}`);
    process.exit(4);
  });
  process.on('message', (msg: { type?: string }) => {
    if (msg.type !== 'stop') return;
    consumer.stop().then(() => ledger.close()).then(() => {
      process.exit(0);
    }, (e: unknown) => {
      console.error(`soak worker ${process.pid}: stop failed: ${String(e)}`);
      process.exit(2);
    });
  });
  // A dead broker makes kafkajs give up after its retries: start again, as a supervisor would.
  process.on('unhandledRejection', (e) => {
    console.error(`soak worker ${process.pid}: ${String(e)}`);
    process.exit(3);
  });
  const send = (msg: SoakWorkerMessage): void => { if (process.connected) process.send?.(msg); };
  let held = 0;
  const watch = setInterval(() => {
    const s = consumer.snapshot();
    if (s.partitions.length === held) return;
    held = s.partitions.length;
    send({ type: 'assigned', partitions: held, joins: s.joins });
  }, 25);
  watch.unref();
  await consumer.start();
  send({ type: 'ready' });
}

/** A member started while PostgreSQL restarts waits for it, as a supervised process would. */
async function openUntilUp<T>(open: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (e) {
      if (attempt >= 60) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(`soak worker ${process.pid} failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
