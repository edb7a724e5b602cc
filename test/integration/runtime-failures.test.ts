// Failure scenarios of the runtime against a real broker: poison records
// (spec Fail, Retry, DeadLetter, then PublishDeadLetter through the outbox
// relay, across a SIGKILL and restart of the consumer that runs it) and a
// broker SIGKILL + restart mid-run (a delay the spec's interleavings cover),
// and a deterministic ledger failure that stops the consumer with an error
// naming its partition and offset.  Each scenario runs on every backend
// HTMQC_TEST_LEDGER names (runtime/ledger-backend.ts): SQLite by default
// (make test-integration), PostgreSQL in make test-integration-pg.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as assert from 'assert';
import * as crypto from 'crypto';
import * as path from 'path';
import type { IHeaders } from 'kafkajs';
import { brokerAddress, kill9Broker, restartBroker } from '../../tools/kafka/broker';
import { ConsumerFatalError, createConsumer, DLQ_HEADERS } from '../../src';
import {
  audit, brokerOptions, createTopic, forkWorker, kafkaClient, killWorker, ledgerBackends, NextWatch, openLedger, produce, stopWorker, totalNext,
  waitFor, whenReady, useSuiteBroker,
} from './runtime/harness';

const opts = brokerOptions(19296, 'failures');
const workDir = path.join(path.dirname(opts.dataDir!), 'test-runtime-failures-work');

interface DlqRecord { key: string; headers: Record<string, string> }

/** Reads a topic (read_committed) from the beginning for settleMs after the last record or until timeoutMs. */
async function readTopic(topic: string, expected: number, settleMs: number, timeoutMs = 45000): Promise<DlqRecord[]> {
  const kafka = kafkaClient(opts, 'dlq-reader');
  const consumer = kafka.consumer({ groupId: `reader-${crypto.randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 100 });
  const seen: DlqRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? ({} as IHeaders))) headers[k] = String(v);
        seen.push({ key: message.key?.toString() ?? '', headers });
      },
    });
    await waitFor(() => seen.length >= expected, timeoutMs, () => `read ${seen.length}/${expected} records of ${topic}`);
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe('runtime failures: poison records to the dead-letter topic, broker restart, a fatal ledger error (real broker)', function () {
  this.timeout(170000);

  useSuiteBroker(opts, workDir);

  for (const backend of ledgerBackends()) describe(`on the ${backend.name} ledger`, function () {
    const run = `${backend.name}-${crypto.randomBytes(3).toString('hex')}`;
    before(async function () {
      this.timeout(90000);
      await backend.up();
    });

    it('dead-letters poison records exactly once with their source in headers; the partition keeps going (Fail, Retry, DeadLetter, PublishDeadLetter)', async function () {
      const kafka = kafkaClient(opts, 'poison');
      const topic = `poison-${run}`;
      const dlq = `poison-${run}.dlq`;
      const N = 400;
      const P = 2;
      await createTopic(kafka, topic, P);
      await createTopic(kafka, dlq, 1);
      const poisonKeys = Array.from({ length: 8 }, (_, i) => `k${i * 50 + 7}`);
      const counts = await produce(kafka, topic, P, N);
      const spec = await backend.prepare(workDir, `poison-${run}`);
      const worker = {
        brokers: brokerAddress(opts), groupId: `g-poison-${run}`, topic, ledger: spec, effectSql: backend.insertEffect, poisonKeys, deadLetterTopic: dlq, maxRetries: 2, retryBackoff: 20,
      };
      const t0 = Date.now();
      const first = forkWorker(worker);
      await whenReady(first);
      await new NextWatch(spec, topic, N).reach(N, 60000, true);
      console.log(`      ${N} records (${poisonKeys.length} poison) committed in ${Date.now() - t0} ms`);
      const published = await readTopic(dlq, poisonKeys.length, 1500);
      // The relay of a restarted consumer reads its position from the topic: it must not publish again.
      await killWorker(first);
      const second = forkWorker(worker);
      await whenReady(second);
      await new Promise((r) => setTimeout(r, 4000));
      assert.strictEqual(await stopWorker(second), 0);
      const after = await readTopic(dlq, poisonKeys.length, 1500);

      for (const records of [published, after]) {
        assert.deepStrictEqual(records.map((r) => r.key).sort(), [...poisonKeys].sort(), 'each poison record is in the topic exactly once');
        for (const r of records) {
          const i = Number(r.key.slice(1));
          assert.strictEqual(r.headers[DLQ_HEADERS.sourceTopic], topic);
          assert.strictEqual(r.headers[DLQ_HEADERS.sourcePartition], String(i % P));
          assert.strictEqual(r.headers[DLQ_HEADERS.sourceOffset], String(Math.floor(i / P)));
          assert.strictEqual(r.headers[DLQ_HEADERS.attempts], '3');
          assert.match(r.headers[DLQ_HEADERS.error]!, /poison record/);
        }
      }
      const a = await audit(spec, topic, counts);
      assert.strictEqual(a.duplicates, 0);
      assert.strictEqual(a.deadLettered, poisonKeys.length);
      assert.strictEqual(a.effects, N - poisonKeys.length, 'every other record has exactly one effect');
      assert.deepStrictEqual(a.ledgerNext, { 0: counts[0], 1: counts[1] }, 'both partitions went past their poison records');
    });

    it('resumes after the broker is SIGKILLed and restarted mid-run, exactly once', async function () {
      const kafka = kafkaClient(opts, 'restart');
      const topic = `restart-${run}`;
      const N = 3000;
      const N2 = 1000;
      const P = 4;
      await createTopic(kafka, topic, P);
      const counts = await produce(kafka, topic, P, N);
      const spec = await backend.prepare(workDir, `restart-${run}`);
      const worker = forkWorker({
        brokers: brokerAddress(opts), groupId: `g-restart-${run}`, topic, ledger: spec, effectSql: backend.insertEffect, delayMs: 3, window: 200,
      });
      const watch = new NextWatch(spec, topic, N + N2);
      const progress = (): string => watch.describe();
      try {
        await whenReady(worker);
        await watch.reach(600, 60000);
        await kill9Broker(opts);
        console.log(`      broker SIGKILLed: ${progress()}`);
        await new Promise((r) => setTimeout(r, 2000));
        const before = await totalNext(spec, topic);
        const restarted = await restartBroker(opts);
        console.log(`      broker restarted in ${restarted.startupMs} ms: ${progress()}`);
        // Records the consumer can only get from the restarted broker (what it had fetched
        // before the kill may all have been handled while the broker was down).
        const more = await produce(kafka, topic, P, N2);
        for (let p = 0; p < P; p++) counts[p]! += more[p]!;
        await watch.reach(Math.max(before, N) + 1, 90000);
        await watch.reach(N + N2, 120000, true);
        console.log(`      done: ${progress()}`);
      } finally {
        assert.strictEqual(await stopWorker(worker), 0, 'the consumer stops gracefully after the outage');
      }
      const a = await audit(spec, topic, counts);
      assert.strictEqual(a.duplicates, 0);
      assert.strictEqual(a.effects, N + N2);
      for (let p = 0; p < P; p++) assert.strictEqual(a.ledgerNext[p], counts[p]);
    });

    it('stops on a deterministic effect failure, naming topic, partition and offset; nothing of that write applies, nothing is skipped', async function () {
      const kafka = kafkaClient(opts, 'fatal');
      const topic = `fatal-${run}`;
      const N = 200;
      const P = 2;
      await createTopic(kafka, topic, P);
      await produce(kafka, topic, P, N);
      const spec = await backend.prepare(workDir, `fatal-${run}`);
      const ledger = await openLedger(spec);
      // k21 is partition 1, offset 10 (produce sends k<i> to partition i % P).
      const bad = 'k21';
      const errors: unknown[] = [];
      const consumer = createConsumer({
        kafka, groupId: `g-fatal-${run}`, topics: [topic], ledger, maxInFlightPerPartition: 50,
        consumerOptions: { sessionTimeout: 6000, heartbeatInterval: 500 },
        onError: (e) => errors.push(e),
        handler: (m, tx) => {
          if (m.key?.toString() === bad) tx.execute(backend.insertEffect.replace('test_effects', 'no_such_table'), [m.topic, m.partition, m.offset, 0, '']);
          else tx.execute(backend.insertEffect, [m.topic, m.partition, m.offset, process.pid, '']);
        },
      });
      const t0 = Date.now();
      await consumer.start();
      let cause: ConsumerFatalError | undefined;
      try {
        cause = await Promise.race([
          consumer.stopped,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the consumer did not stop within 60 s')), 60000)),
        ]);
      } finally {
        await consumer.stop();
        await ledger.close();
      }
      console.log(`      stopped after ${Date.now() - t0} ms: ${cause?.message}`);
      assert.ok(cause instanceof ConsumerFatalError, 'stopped resolves with the ConsumerFatalError');
      assert.deepStrictEqual([cause.topic, cause.partition, cause.offset], [topic, 1, 10]);
      assert.match(cause.message, new RegExp(`topic ${topic} partition 1 offset 10 .*${backend.missingTable('no_such_table').source}`));
      assert.strictEqual(errors.filter((e) => e instanceof ConsumerFatalError).length, 1, 'onError received it once');
      assert.strictEqual(consumer.snapshot().running, false);
      const a = await audit(spec, topic, [N / P, N / P]);
      assert.strictEqual(a.duplicates, 0);
      assert.ok(a.ledgerNext[1]! <= 10, `partition 1 committed nothing at or past the failing offset (next ${a.ledgerNext[1]})`);
    });
  });
});
