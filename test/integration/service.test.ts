// The state service and the metrics of a real consumer on a real broker:
// records consumed and committed (spec Fetch..Commit) are visible through
// ListPartitions/GetPartition/GetMessage, the transition stream and the
// Prometheus counters, and the broker view (high watermark, lag, members)
// agrees with the ledger.

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import * as assert from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { brokerAddress, repoRoot, startBroker, stopBroker, type BrokerOptions } from '../../tools/kafka/broker';
import { createConsumer, openSqliteLedger, type HtmqcConsumerHandle, type SqliteLedger } from '../../src';
import { startMetricsServer, type MetricsServer } from '../../src/metrics';
import { BrokerPoller, createStateClient, startStateService, type StateClient, type StateService } from '../../src/service';
import { createTopicReady } from '../../tools/kafka/topics';

const PORT = Number(process.env['HTMQC_TEST_SERVICE_KAFKA_PORT'] ?? 19492);
const opts: BrokerOptions = { port: PORT, controllerPort: PORT + 1, dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `test-service-${PORT}`) };
const N = 3000;
const P = 3;

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => { let b = ''; res.on('data', (c) => { b += String(c); }); res.on('end', () => resolve(b)); }).on('error', reject);
  });
}

async function until<T>(f: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('state service and metrics on a real broker', function () {
  this.timeout(180000);
  const topic = `service-it-${Date.now()}`;
  const db = path.join(repoRoot(), '.cache', 'test-service-it', 'ledger.db');
  let startedBroker = false;
  let kafka: Kafka;
  let ledger: SqliteLedger;
  let consumer: HtmqcConsumerHandle;
  let poller: BrokerPoller;
  let service: StateService;
  let metrics: MetricsServer;
  let client: StateClient;
  const watched: { action: string; partition: number; offset: number; arg: number }[] = [];

  before(async () => {
    startedBroker = !(await startBroker(opts)).alreadyRunning;
    kafka = new Kafka({ clientId: 'service-it', brokers: [brokerAddress(opts)], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await createTopicReady(admin, { topic, numPartitions: P, replicationFactor: 1 });
    await admin.disconnect();
    fs.mkdirSync(path.dirname(db), { recursive: true });
    for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
    const d = new Database(db);
    d.exec('CREATE TABLE it_effects (partition INTEGER, offset INTEGER)');
    d.close();
    ledger = openSqliteLedger({ path: db });
    consumer = createConsumer({
      kafka, groupId: `${topic}-g`, topics: [topic], ledger, transitions: true,
      handler: (m, tx) => { tx.execute('INSERT INTO it_effects (partition, offset) VALUES (?, ?)', [m.partition, m.offset]); },
    });
    poller = new BrokerPoller({ kafka, groupId: `${topic}-g`, topics: [topic], intervalMs: 300 });
    service = await startStateService(consumer, { brokerView: poller, ledger, snapshotIntervalMs: 50 });
    metrics = await startMetricsServer(consumer, { brokerView: poller });
    client = createStateClient(service.address);
  });

  after(async () => {
    client?.close();
    await consumer?.stop();
    await service?.close();
    await metrics?.close();
    await poller?.stop();
    ledger?.close();
    if (startedBroker) await stopBroker(opts);
  });

  it('shows a consumer at work and at rest: partitions, messages, transitions, group and metrics', async () => {
    const stream = client.watch({ actions: ['COMMIT'] });
    stream.on('data', (m: { transitions: typeof watched }) => { watched.push(...m.transitions); });
    stream.on('error', () => undefined);
    await consumer.start();
    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: N }, (_, i) => ({ partition: i % P, value: `v${i}` }));
    await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();

    const rows = await until(async () => {
      const list = await client.call<{ partitions: { partition: number; ledger_next: number; high_watermark: number; lag: number; committed: number }[] }>('ListPartitions', {});
      const done = list.partitions.length === P && list.partitions.every((p) => p.ledger_next === N / P && p.high_watermark === N / P);
      return done ? list.partitions : undefined;
    }, 90000, 'every partition committed to its end');
    assert.deepStrictEqual(rows.map((p) => [p.partition, p.lag, p.committed]), [[0, 0, N / P], [1, 0, N / P], [2, 0, N / P]]);

    const p1 = await client.call('GetPartition', { topic, partition: 1 });
    assert.deepStrictEqual(p1['in_flight'], { pending: 0, processing: 0, done: 0, failed: 0, dead_lettered: 0 });
    const msg = await client.call('GetMessage', { topic, partition: 2, offset: 7 });
    assert.deepStrictEqual([msg['location'], msg['state']], ['COMMITTED', 'DONE']);
    const future = await client.call('GetMessage', { topic, partition: 2, offset: N });
    assert.strictEqual(future['location'], 'NOT_FETCHED');

    const group = await until(async () => {
      const g = await client.call<{ members: unknown[]; generation: number; group_state: string }>('GetGroup', {});
      return g.members.length === 1 && g.group_state === 'Stable' ? g : undefined;
    }, 20000, 'the coordinator describes the group');
    assert.ok(group.generation >= 1);

    // Every committed offset was announced by a COMMIT transition, once.
    await until(() => {
      const covered = watched.reduce((n, t) => n + (t.arg - t.offset), 0);
      return covered >= N ? true : undefined;
    }, 10000, 'COMMIT transitions cover every offset');
    assert.strictEqual(watched.reduce((n, t) => n + (t.arg - t.offset), 0), N);
    stream.cancel();

    const text = await get(metrics.url);
    let processed = 0;
    for (const m of text.matchAll(/^htmqc_messages_processed_total\{[^}]*\} (\d+)$/gm)) processed += Number(m[1]);
    assert.strictEqual(processed, N);
    assert.match(text, /^htmqc_consumer_lag\{topic="[^"]+",partition="0"\} 0$/m);
    assert.match(text, /^htmqc_end_to_end_latency_seconds_count \d+$/m);
    const health = await client.health();
    assert.strictEqual(health, 'SERVING');
  });
});
