// Exercises tools/kafka/broker.sh (through tools/kafka/broker.ts) against a
// real KRaft broker of the generation HTMQC_KAFKA_VERSION selects (3.9.1 by
// default; `make test-integration-kafka4` runs it against 4.x): create a topic,
// produce with acks=-1, consume; then kill -9 the JVM, restart it on the same
// data and read the record again.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { createTopicReady } from '../../tools/kafka/topics';
import {
  BrokerOptions,
  BrokerScriptError,
  brokerAddress,
  brokerTimings,
  kill9Broker,
  repoRoot,
  resolveKafkaVersion,
  restartBroker,
  startBroker,
  stopBroker,
  wipeBroker,
} from '../../tools/kafka/broker';

const selected = resolveKafkaVersion();

const PORT = 19192;
const opts: BrokerOptions = {
  port: PORT,
  controllerPort: PORT + 1,
  dataDir: path.join(repoRoot(), '.cache', 'kafka-run', `test-broker-${PORT}`),
};

function client(clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [brokerAddress(opts)],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10000,
  });
}

interface Seen {
  offset: string;
  value: string;
}

/** Reads the topic from the beginning with a fresh group until `count` records arrived. */
async function readAll(topic: string, groupId: string, count: number, timeoutMs = 45000): Promise<Seen[]> {
  const consumer = client(`test-${groupId}`).consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });
  const seen: Seen[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${seen.length}/${count} records of ${topic} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            seen.push({ offset: message.offset, value: message.value ? message.value.toString('utf8') : '' });
            if (seen.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch((e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        });
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return seen;
}

describe(`broker scripts: real Kafka ${selected.version} KRaft round-trip, kill -9 and restart (tools/kafka/broker.sh)`, function () {
  this.timeout(120000);

  const run = crypto.randomBytes(4).toString('hex');
  const topic = `htmqc-broker-test-${run}`;
  const value = `htmqc-${run}-${Date.now()}`;
  let firstPid = 0;

  before(async function () {
    await wipeBroker(opts);
    const started = await startBroker(opts);
    firstPid = started.pid;
    console.log(`      Kafka ${started.kafkaVersion} started on ${started.address} (pid ${started.pid}) in ${started.startupMs} ms ` +
      `(script wall time ${started.wallMs} ms, includes formatting)`);
    assert.strictEqual(started.kafkaVersion, selected.version, 'the broker runs the release HTMQC_KAFKA_VERSION selects');
  });

  after(async function () {
    this.timeout(60000);
    await stopBroker(opts).catch((e: unknown) => console.error(`      stopping the test broker failed: ${String(e)}`));
    console.log(`      broker timings (ms): ${JSON.stringify(brokerTimings)}`);
  });

  it('creates a topic, produces with acks=-1 and consumes the record', async function () {
    const admin = client('test-admin').admin();
    await admin.connect();
    try {
      const created = await createTopicReady(admin, { topic, numPartitions: 1, replicationFactor: 1 });
      assert.strictEqual(created, true, `topic ${topic} already existed`);
    } finally {
      await admin.disconnect();
    }

    const producer = client('test-producer').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const meta = await producer.send({ topic, acks: -1, messages: [{ key: run, value }] });
      assert.strictEqual(meta.length, 1);
      assert.strictEqual(meta[0].errorCode, 0);
      assert.strictEqual(meta[0].baseOffset, '0');
    } finally {
      await producer.disconnect();
    }

    const seen = await readAll(topic, `g1-${run}`, 1);
    assert.deepStrictEqual(seen, [{ offset: '0', value }]);
  });

  it('formats a log dir of its own for the selected release, so generations never share Kafka data', function () {
    const logDir = selected.generation === 3 ? 'logs' : `logs-${selected.version}`;
    const meta = fs.readFileSync(path.join(opts.dataDir!, logDir, 'meta.properties'), 'utf8');
    assert.match(meta, /^version=1$/m, `${logDir}/meta.properties is a KRaft (version 1) log dir`);
    assert.match(meta, /^node\.id=1$/m);
  });

  it('refuses to start another generation on the data dir of a running broker, naming both', async function () {
    const other = selected.generation === 3 ? '4' : '3.9.1';
    const otherVersion = resolveKafkaVersion(other).version;
    await assert.rejects(startBroker({ ...opts, kafkaVersion: other }), (e: unknown) => {
      assert.ok(e instanceof BrokerScriptError, String(e));
      const expected = `a Kafka ${selected.version} broker of ${opts.dataDir} runs (pid ${firstPid}), ` +
        `not the requested ${otherVersion} (HTMQC_KAFKA_VERSION); stop it first`;
      assert.ok(e.output.includes(expected), `expected "${expected}" in:\n${e.output}`);
      return true;
    });
  });

  it('rejects an unknown HTMQC_KAFKA_VERSION with a message naming the variable and the valid values', async function () {
    assert.throws(() => resolveKafkaVersion('5.0.0'), /HTMQC_KAFKA_VERSION='5\.0\.0' is not a release these scripts run: use 3\.9\.1/);
    assert.throws(() => resolveKafkaVersion('4.1'), /HTMQC_KAFKA_VERSION='4\.1'/);
    await assert.rejects(startBroker({ ...opts, kafkaVersion: '3.8.0' }), (e: unknown) => {
      assert.ok(e instanceof BrokerScriptError && e.exitCode === 2, String(e));
      assert.match(e.output, /HTMQC_KAFKA_VERSION='3\.8\.0'/);
      return true;
    });
  });

  it('enables the KIP-848 consumer group protocol on Kafka 4.x (group.coordinator.rebalance.protocols)', async function () {
    const admin = client('test-admin-config').admin();
    await admin.connect();
    let protocols: string;
    try {
      const described = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['group.coordinator.rebalance.protocols'] }],
        includeSynonyms: false,
      });
      const entry = described.resources[0].configEntries.find((c) => c.configName === 'group.coordinator.rebalance.protocols');
      assert.ok(entry, `broker 1 reports no group.coordinator.rebalance.protocols: ${JSON.stringify(described)}`);
      protocols = entry.configValue;
    } finally {
      await admin.disconnect();
    }
    console.log(`      Kafka ${selected.version}: group.coordinator.rebalance.protocols=${protocols}`);
    const list = protocols.split(',').map((x) => x.trim());
    assert.ok(list.includes('classic'), `kafkajs needs the classic protocol, broker has ${protocols}`);
    if (selected.generation === 4) assert.ok(list.includes('consumer'), `Kafka 4.x must offer the consumer protocol, broker has ${protocols}`);
  });

  it('keeps the record across kill -9 of the broker JVM and a restart on the same data', async function () {
    const killed = await kill9Broker(opts);
    assert.strictEqual(killed, firstPid, 'kill9 killed the broker that start launched');

    const restarted = await restartBroker(opts);
    console.log(`      broker restarted after kill -9 (pid ${restarted.pid}) in ${restarted.startupMs} ms`);
    assert.notStrictEqual(restarted.pid, firstPid, 'a new broker process serves after the restart');
    assert.strictEqual(restarted.alreadyRunning, false);

    const admin = client('test-admin-2').admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      assert.deepStrictEqual(
        offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high })),
        [{ partition: 0, low: '0', high: '1' }],
      );
    } finally {
      await admin.disconnect();
    }

    const seen = await readAll(topic, `g2-${run}`, 1);
    assert.deepStrictEqual(seen, [{ offset: '0', value }]);
  });
});
