// The kafkajs runtime end to end against a real Kafka 3.9 broker
// (tools/kafka): spec scenarios Assign/Fetch/Begin/Succeed/Commit/
// CommitBroker in one process, then Rebalance (a member added and removed),
// Crash (SIGKILL mid-batch) and Restart across two consumer processes that
// share one ledger, checked by the exactly-once audit (NoDuplicateInv,
// NoGapInv) on the ledger's tables.  Each scenario runs on every backend
// HTMQC_TEST_LEDGER names (runtime/ledger-backend.ts): SQLite by default
// (make test-integration), PostgreSQL in make test-integration-pg.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { brokerAddress } from '../../tools/kafka/broker';
import { createConsumer } from '../../src';
import {
  audit, brokerOptions, createTopic, effectsByPid, forkWorker, kafkaClient, killWorker, ledgerBackends, NextWatch, openLedger, produce, stopWorker,
  whenReady, whenStats, useSuiteBroker,
} from './runtime/harness';

const opts = brokerOptions(19292, 'main');
const workDir = path.join(path.dirname(opts.dataDir!), 'test-runtime-main-work');

describe('runtime: kafkajs consumer on the DCSM core with a ledger (real broker)', function () {
  this.timeout(170000);

  useSuiteBroker(opts, workDir);

  for (const backend of ledgerBackends()) describe(`on the ${backend.name} ledger`, function () {
    const run = `${backend.name}-${crypto.randomBytes(3).toString('hex')}`;
    before(async function () {
      this.timeout(90000);
      await backend.up();
    });

    it('consumes every record exactly once in one process, with a trace (Assign, Fetch, Commit, CommitBroker)', async function () {
      const kafka = kafkaClient(opts, 'single');
      const topic = `single-${run}`;
      const N = 2000;
      await createTopic(kafka, topic, 4);
      const counts = await produce(kafka, topic, 4, N);
      const spec = await backend.prepare(workDir, `single-${run}`);
      const ledger = await openLedger(spec);
      const trace = path.join(workDir, `single-${run}-${process.pid}.ndjson`);
      const consumer = createConsumer({
        kafka, groupId: `g-single-${run}`, topics: [topic], ledger, trace, maxInFlightPerPartition: 300,
        consumerOptions: { sessionTimeout: 6000, heartbeatInterval: 500 },
        handler: async (m, tx) => {
          tx.execute(backend.insertEffect, [m.topic, m.partition, m.offset, process.pid, m.value?.toString().slice(0, 10) ?? '']);
        },
      });
      const t0 = Date.now();
      const watch = new NextWatch(spec, topic, N);
      await consumer.start();
      try {
        await watch.reach(N, 60000, true);
      } finally {
        await consumer.stop();
        await ledger.close();
      }
      console.log(`      ${N} records in ${Date.now() - t0} ms; snapshot counters ${JSON.stringify(consumer.snapshot().counters)}`);
      const a = await audit(spec, topic, counts);
      assert.strictEqual(a.effects, N);
      assert.strictEqual(a.duplicates, 0);
      assert.deepStrictEqual(a.ledgerNext, { 0: counts[0], 1: counts[1], 2: counts[2], 3: counts[3] });
      const records = fs.readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; upTo?: number });
      assert.ok(records.some((r) => r.action === 'Assign'), 'trace has Assign records');
      assert.ok(records.some((r) => r.action === 'Commit'), 'trace has Commit records');
      const seqs = records.map((r) => (r as unknown as { seq: number }).seq);
      assert.deepStrictEqual(seqs, seqs.map((_, i) => i + 1), 'trace seq numbers are consecutive');
      // The advisory group offset never runs ahead of the ledger (OffsetOrderInv).
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [committed] = await admin.fetchOffsets({ groupId: `g-single-${run}`, topics: [topic] });
        for (const p of committed!.partitions) assert.ok(Number(p.offset) <= counts[p.partition]!, `broker offset ${p.offset} <= ledger next`);
      } finally {
        await admin.disconnect();
      }
    });

    it('keeps exactly-once across two processes, a member added and removed, SIGKILL mid-batch and a restart', async function () {
      const kafka = kafkaClient(opts, 'multi');
      const topic = `multi-${run}`;
      const N = 5000;
      const P = 4;
      await createTopic(kafka, topic, P);
      const counts = await produce(kafka, topic, P, N);
      const spec = await backend.prepare(workDir, `multi-${run}`);
      const worker = {
        brokers: brokerAddress(opts), groupId: `g-multi-${run}`, topic, ledger: spec, effectSql: backend.insertEffect, delayMs: 4, window: 200,
      };
      const watch = new NextWatch(spec, topic, N);
      const progress = (): string => watch.describe();

      const a = forkWorker(worker);
      await whenReady(a);
      await watch.reach(600, 60000);
      console.log(`      A alone: ${progress()}`);

      const b = forkWorker(worker);
      await whenReady(b);
      // B's join revokes A's partitions; wait until both hold some and A has records in flight.
      await whenStats(b, (s) => s.held > 0, 60000);
      const aStats = await whenStats(a, (s) => s.held > 0 && s.inFlight > 0, 60000);
      await killWorker(a);
      console.log(`      SIGKILLed A with ${aStats.inFlight} records in flight (${aStats.held} partitions held): ${progress()}`);
      await watch.reach(2800, 90000);

      const a2 = forkWorker(worker);
      await whenReady(a2);
      await watch.reach(3800, 90000);
      console.log(`      B + A': ${progress()}`);

      assert.strictEqual(await stopWorker(b), 0, 'B stops gracefully (member removed)');
      console.log(`      B left the group: ${progress()}`);
      await watch.reach(N, 90000, true);
      assert.strictEqual(await stopWorker(a2), 0);
      console.log(`      done: ${progress()}`);

      const byPid = await effectsByPid(spec, topic);
      console.log(`      effects per process: A ${byPid.get(a.pid!) ?? 0}, B ${byPid.get(b.pid!) ?? 0}, A' ${byPid.get(a2.pid!) ?? 0}`);
      for (const [name, child] of [['A', a], ['B', b], ["A'", a2]] as const) {
        assert.ok((byPid.get(child.pid!) ?? 0) > 0, `${name} committed some effects`);
      }
      const r = await audit(spec, topic, counts);
      assert.strictEqual(r.duplicates, 0, 'no offset has two effects');
      assert.strictEqual(r.effects, N, 'every record has exactly one effect');
      for (let p = 0; p < P; p++) assert.strictEqual(r.ledgerNext[p], counts[p], `partition ${p}: ledger next is the log end`);
    });
  });
});
