// Exercises tools/kafka/cluster.sh (through tools/kafka/cluster.ts) against a
// real three-node KRaft cluster of the generation HTMQC_KAFKA_VERSION selects:
// a topic with replication factor 3 and min.insync.replicas 2 takes acks=all
// writes, survives kill -9 of its partition leader (a new leader is elected and
// the next acks=all write succeeds on two in-sync replicas), and the restarted
// node catches up and rejoins the ISR. This is the broker fault of the
// multi-host soak (issue 15); the timings it prints are the README's.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as assert from 'assert';
import * as crypto from 'crypto';
import * as path from 'path';
import { ConfigResourceTypes, Kafka, KafkaJSProtocolError, logLevel, Producer } from 'kafkajs';
import { repoRoot, resolveKafkaVersion } from '../../tools/kafka/broker';
import { CLUSTER_NODES, ClusterNode, KafkaCluster } from '../../tools/kafka/cluster';

const BASE_PORT = 19820;
const selected = resolveKafkaVersion();
const cluster = new KafkaCluster({
  basePort: BASE_PORT,
  dir: path.join(repoRoot(), '.cache', 'kafka-cluster', `test-cluster-${BASE_PORT}`),
  stopGraceSec: 10,
});

function client(clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: cluster.addresses(),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 10000,
    // Enough to ride out a leader election (about 3 s: broker.session.timeout.ms).
    retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

function asNode(id: number): ClusterNode {
  const node = CLUSTER_NODES.find((n) => n === id);
  if (node === undefined) throw new Error(`node id ${id} is not one of ${CLUSTER_NODES.join(', ')}`);
  return node;
}

async function produce(producer: Producer, topic: string, from: number, count: number, run: string): Promise<void> {
  const messages = Array.from({ length: count }, (_, i) => ({ key: run, value: `${run}-${from + i}` }));
  const meta = await producer.send({ topic, acks: -1, messages });
  assert.strictEqual(meta.length, 1);
  assert.strictEqual(meta[0].errorCode, 0);
  assert.strictEqual(meta[0].baseOffset, String(from), `batch ${from}..${from + count - 1} landed at offset ${meta[0].baseOffset}`);
}

/** Calls fn until it resolves; rethrows its last error after timeoutMs. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The broker's error code inside kafkajs's retry wrappers (they chain it as cause). */
function protocolError(e: unknown): KafkaJSProtocolError | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof KafkaJSProtocolError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Reads the topic from the beginning with a fresh group until `count` values arrived. */
async function readValues(topic: string, groupId: string, count: number, timeoutMs = 30000): Promise<string[]> {
  const consumer = client(`test-${groupId}`).consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${values.length}/${count} records of ${topic} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value ? message.value.toString('utf8') : '');
            if (values.length >= count) {
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
  return values;
}

describe(`cluster scripts: three-node Kafka ${selected.version} KRaft cluster, kill -9 of a partition leader (tools/kafka/cluster.sh)`, function () {
  this.timeout(90000);

  const run = crypto.randomBytes(4).toString('hex');
  const topic = `htmqc-cluster-${run}`;
  // min.insync.replicas=3 on this one: with a node down, acks=all must be refused.
  const strictTopic = `htmqc-cluster-strict-${run}`;
  const timings: Record<string, number> = {};
  let producer: Producer;
  let killed: ClusterNode;

  before(async function () {
    await cluster.wipe();
    const t0 = Date.now();
    await cluster.start();
    timings.startMs = Date.now() - t0;
    console.log(`      cluster of Kafka ${selected.version} ready on ${cluster.addresses().join(',')} in ${timings.startMs} ms`);
    producer = client('test-cluster-producer').producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  after(async function () {
    this.timeout(60000);
    await producer?.disconnect().catch(() => undefined);
    const t0 = Date.now();
    await cluster.stop().catch((e: unknown) => console.error(`      stopping the test cluster failed: ${String(e)}`));
    timings.stopMs = Date.now() - t0;
    console.log(`      cluster timings (ms): ${JSON.stringify(timings)}`);
  });

  it('creates a topic replicated on all three nodes with min.insync.replicas=2 and takes acks=all writes', async function () {
    const admin = client('test-cluster-admin').admin();
    await admin.connect();
    try {
      const created = await admin.createTopics({
        topics: [
          { topic, numPartitions: 1 },
          { topic: strictTopic, numPartitions: 1, configEntries: [{ name: 'min.insync.replicas', value: '3' }] },
        ],
        // kafkajs waits for leaders by asking one node, which may not know the
        // topic yet (UNKNOWN_TOPIC_OR_PARTITION is not retried); waitForPartition below does.
        waitForLeaders: false,
      });
      assert.strictEqual(created, true, `topic ${topic} already existed`);
      await cluster.waitForPartition(strictTopic, 0, (s) => s.leader !== -1 && s.isr.length === 3, 15000);
      const state = await cluster.waitForPartition(topic, 0, (s) => s.leader !== -1 && s.isr.length === 3, 15000);
      assert.deepStrictEqual(state.replicas, [1, 2, 3], 'default.replication.factor 3 places a replica on every node');
      assert.deepStrictEqual(state.isr, [1, 2, 3]);
      // A node learns a new topic from the metadata log a moment after the
      // controller; describeConfigs goes to any node, so ask until one knows.
      const minIsr = await eventually(async () => {
        const described = await admin.describeConfigs({
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
          includeSynonyms: false,
        });
        return described.resources[0].configEntries.find((c) => c.configName === 'min.insync.replicas');
      }, 10000);
      assert.strictEqual(minIsr?.configValue, '2', 'the cluster default min.insync.replicas is 2');
    } finally {
      await admin.disconnect();
    }
    await produce(producer, topic, 0, 50, run);
  });

  it('elects a new leader after kill -9 of the leader, and acks=all succeeds on the two remaining replicas', async function () {
    killed = asNode(await cluster.leaderOf(topic, 0));
    const t0 = Date.now();
    const pid = await cluster.kill(killed);
    assert.ok(pid !== null && pid > 0, `cluster.sh kill ${killed} killed a process`);

    // The send is issued at once: kafkajs retries NOT_LEADER / connection errors
    // until the controller has fenced the dead node and moved leadership.
    await produce(producer, topic, 50, 50, run);
    timings.killToProducedMs = Date.now() - t0;

    const state = await cluster.waitForPartition(topic, 0, (s) => s.leader !== -1 && s.leader !== killed, 15000);
    timings.killToNewLeaderSeenMs = Date.now() - t0;
    console.log(`      killed leader node ${killed}; node ${state.leader} leads, ISR ${JSON.stringify(state.isr)}; ` +
      `acks=all write done ${timings.killToProducedMs} ms after the kill`);
    assert.ok(!state.isr.includes(killed), `the killed node ${killed} left the ISR ${JSON.stringify(state.isr)}`);
    assert.strictEqual(state.isr.length, 2);
  });

  it('refuses acks=all on a topic whose min.insync.replicas (3) exceeds the live replicas', async function () {
    await cluster.waitForPartition(strictTopic, 0, (s) => s.leader !== -1 && s.isr.length === 2, 15000);
    const strict = client('test-cluster-strict').producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await strict.connect();
    try {
      await assert.rejects(strict.send({ topic: strictTopic, acks: -1, messages: [{ value: 'must not land' }] }), (e: unknown) => {
        const cause = protocolError(e);
        assert.ok(cause, `expected a protocol error, got ${String(e)}`);
        assert.match(cause.type, /^NOT_ENOUGH_REPLICAS/);
        return true;
      });
    } finally {
      await strict.disconnect();
    }
  });

  it('restarts the killed node, which catches up and rejoins the ISR; every record is readable', async function () {
    const t0 = Date.now();
    await cluster.restart(killed);
    timings.restartMs = Date.now() - t0;
    const state = await cluster.waitForPartition(topic, 0, (s) => s.isr.length === 3, 30000);
    timings.restartToIsrMs = Date.now() - t0;
    console.log(`      node ${killed} restarted in ${timings.restartMs} ms and back in the ISR ${JSON.stringify(state.isr)} ` +
      `after ${timings.restartToIsrMs} ms`);
    assert.deepStrictEqual(state.isr, [1, 2, 3]);

    const t1 = Date.now();
    const values = await readValues(topic, `g-${run}`, 100);
    timings.readAllMs = Date.now() - t1;
    assert.deepStrictEqual(values, Array.from({ length: 100 }, (_, i) => `${run}-${i}`));
  });
});
