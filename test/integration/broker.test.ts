// Exercises tools/kafka/broker.sh (through tools/kafka/broker.ts) against a
// real Kafka 3.9 KRaft broker: create a topic, produce with acks=-1, consume;
// then kill -9 the JVM, restart it on the same data and read the record again.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as assert from 'assert';
import * as crypto from 'crypto';
import * as path from 'path';
import { Kafka, logLevel } from 'kafkajs';
import {
  BrokerOptions,
  brokerAddress,
  brokerTimings,
  kill9Broker,
  repoRoot,
  restartBroker,
  startBroker,
  stopBroker,
  wipeBroker,
} from '../../tools/kafka/broker';

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

describe('broker scripts: real KRaft round-trip, kill -9 and restart (tools/kafka/broker.sh)', function () {
  this.timeout(120000);

  const run = crypto.randomBytes(4).toString('hex');
  const topic = `htmqc-broker-test-${run}`;
  const value = `htmqc-${run}-${Date.now()}`;
  let firstPid = 0;

  before(async function () {
    await wipeBroker(opts);
    const started = await startBroker(opts);
    firstPid = started.pid;
    console.log(`      broker started on ${started.address} (pid ${started.pid}) in ${started.startupMs} ms ` +
      `(script wall time ${started.wallMs} ms, includes formatting)`);
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
      const created = await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      });
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
