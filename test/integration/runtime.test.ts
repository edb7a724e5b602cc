// The kafkajs runtime end to end against a real Kafka 3.9 broker
// (tools/kafka): spec scenarios Assign/Fetch/Begin/Succeed/Commit/
// CommitBroker in one process, then Rebalance (a member added and removed),
// Crash (SIGKILL mid-batch) and Restart across two consumer processes that
// share one SQLite ledger, checked by the exactly-once audit
// (NoDuplicateInv, NoGapInv) on the ledger itself.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { brokerAddress } from '../../tools/kafka/broker';
import { createConsumer, openSqliteLedger } from '../../src';
import {
  audit, brokerOptions, createTopic, effectsByPid, forkWorker, kafkaClient, killWorker, prepareDb, produce, stopWorker, totalNext, waitFor, whenReady, whenStats,
  useSuiteBroker,
} from './runtime/harness';

const opts = brokerOptions(19292, 'main');
const workDir = path.join(path.dirname(opts.dataDir!), 'test-runtime-main-work');

describe('runtime: kafkajs consumer on the DCSM core with the SQLite ledger (real broker)', function () {
  this.timeout(170000);
  const run = crypto.randomBytes(3).toString('hex');

  useSuiteBroker(opts, workDir);

  it('consumes every record exactly once in one process, with a trace (Assign, Fetch, Commit, CommitBroker)', async function () {
    const kafka = kafkaClient(opts, 'single');
    const topic = `single-${run}`;
    const N = 2000;
    await createTopic(kafka, topic, 4);
    const counts = await produce(kafka, topic, 4, N);
    const db = path.join(workDir, 'single.db');
    prepareDb(db);
    const ledger = openSqliteLedger(db);
    const trace = path.join(workDir, `single-${process.pid}.ndjson`);
    const consumer = createConsumer({
      kafka, groupId: `g-single-${run}`, topics: [topic], ledger, trace, maxInFlightPerPartition: 300,
      consumerOptions: { sessionTimeout: 6000, heartbeatInterval: 500 },
      handler: async (m, tx) => {
        tx.execute('INSERT INTO test_effects (topic, partition, offset, pid, value) VALUES (?, ?, ?, ?, ?)',
          [m.topic, m.partition, m.offset, process.pid, m.value?.toString().slice(0, 10) ?? '']);
      },
    });
    const t0 = Date.now();
    await consumer.start();
    try {
      await waitFor(() => totalNext(db, topic) === N, 60000, () => `ledger next sum ${totalNext(db, topic)} of ${N}`);
    } finally {
      await consumer.stop();
      await ledger.close();
    }
    console.log(`      ${N} records in ${Date.now() - t0} ms; snapshot counters ${JSON.stringify(consumer.snapshot().counters)}`);
    const a = audit(db, topic, counts);
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
    const db = path.join(workDir, 'multi.db');
    prepareDb(db);
    const worker = { brokers: brokerAddress(opts), groupId: `g-multi-${run}`, topic, db, delayMs: 4, window: 200 };
    const t0 = Date.now();
    const progress = (): string => `ledger next sum ${totalNext(db, topic)} of ${N} after ${Date.now() - t0} ms`;

    const a = forkWorker(worker);
    await whenReady(a);
    await waitFor(() => totalNext(db, topic) >= 600, 60000, progress);
    console.log(`      A alone: ${progress()}`);

    const b = forkWorker(worker);
    await whenReady(b);
    // B's join revokes A's partitions; wait until both hold some and A has records in flight.
    await whenStats(b, (s) => s.held > 0, 60000);
    const aStats = await whenStats(a, (s) => s.held > 0 && s.inFlight > 0, 60000);
    await killWorker(a);
    console.log(`      SIGKILLed A with ${aStats.inFlight} records in flight (${aStats.held} partitions held): ${progress()}`);
    await waitFor(() => totalNext(db, topic) >= 2800, 90000, progress);

    const a2 = forkWorker(worker);
    await whenReady(a2);
    await waitFor(() => totalNext(db, topic) >= 3800, 90000, progress);
    console.log(`      B + A': ${progress()}`);

    assert.strictEqual(await stopWorker(b), 0, 'B stops gracefully (member removed)');
    console.log(`      B left the group: ${progress()}`);
    await waitFor(() => totalNext(db, topic) === N, 90000, progress);
    assert.strictEqual(await stopWorker(a2), 0);
    console.log(`      done: ${progress()}`);

    const byPid = effectsByPid(db, topic);
    console.log(`      effects per process: A ${byPid.get(a.pid!) ?? 0}, B ${byPid.get(b.pid!) ?? 0}, A' ${byPid.get(a2.pid!) ?? 0}`);
    for (const [name, child] of [['A', a], ['B', b], ["A'", a2]] as const) {
      assert.ok((byPid.get(child.pid!) ?? 0) > 0, `${name} committed some effects`);
    }
    const r = audit(db, topic, counts);
    assert.strictEqual(r.duplicates, 0, 'no offset has two effects');
    assert.strictEqual(r.effects, N, 'every record has exactly one effect');
    for (let p = 0; p < P; p++) assert.strictEqual(r.ledgerNext[p], counts[p], `partition ${p}: ledger next is the log end`);
  });
});
