#!/usr/bin/env node
// Shows the kafkajs 2.2.4 producer behaviour trace-check/harness/produce.ts
// works around, on the project's real three-broker cluster: after `kill -9`
// of a partition leader and its restart, one `producer.send` of records over
// every partition resolves (acks=all) with no answer for the partitions whose
// leader moved, and their records are absent from every replica.
//
//   tools/kafka/cluster.sh start            (HTMQC_KAFKA_CLUSTER_PORT as below)
//   node tools/kafka/partial-send.js        one send over all partitions: reports the loss, exit 1
//   node tools/kafka/partial-send.js --per-partition   one send per partition: nothing absent, exit 0
//
// It prints each send's answer and the partitions' end offsets.
'use strict';
const path = require('path');
const { execFileSync } = require('child_process');
const root = path.resolve(__dirname, '../..');
const { Kafka, logLevel } = require(path.join(root, 'node_modules/kafkajs'));
const perPartition = process.argv.includes('--per-partition');
const cluster = (...args) => execFileSync(path.join(root, 'tools/kafka/cluster.sh'), args, { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PARTITIONS = 6;

(async () => {
  const kafka = new Kafka({ brokers: cluster('addresses').split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `partial-send-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
  for (let p = 0; p < PARTITIONS; p++) {
    for (;;) { const s = JSON.parse(cluster('partition', topic, String(p))); if (s.leader > 0 && s.isr.length === 3) break; await sleep(200); }
  }
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let produced = 0;
  const send = async (n) => {
    const messages = [];
    for (let k = 0; k < n; k++, produced++) messages.push({ partition: produced % PARTITIONS, key: `k${produced}`, value: String(produced) });
    if (!perPartition) return producer.send({ topic, acks: -1, messages });
    const byP = new Map();
    for (const m of messages) (byP.get(m.partition) ?? byP.set(m.partition, []).get(m.partition)).push(m);
    return (await Promise.all([...byP.values()].map((ms) => producer.send({ topic, acks: -1, messages: ms })))).flat();
  };
  const ends = async () => (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
  await send(6000);
  const leader = Number(cluster('leader', topic, '0'));
  console.log(`sent 6000, end offsets ${JSON.stringify(await ends())}; kill -9 of node ${leader}, the leader of ${topic}[0]`);
  cluster('kill', String(leader));
  for (;;) { const s = JSON.parse(cluster('partition', topic, '0')); if (s.leader > 0 && s.leader !== leader) break; await sleep(200); }
  cluster('restart', String(leader));
  for (;;) { const s = JSON.parse(cluster('partition', topic, '0')); if (s.isr.length === 3) break; await sleep(200); }
  const answer = await send(6000);
  const answered = [...new Set(answer.filter((a) => a.errorCode === 0).map((a) => a.partition))].sort();
  const e = await ends();
  const absent = produced - e.reduce((a, b) => a + b, 0);
  console.log(`${perPartition ? 'one send per partition' : 'one send'} of 6000 resolved; partitions answered ${JSON.stringify(answered)}; end offsets ${JSON.stringify(e)}`);
  console.log(`acknowledged ${produced}, in the topic ${produced - absent}, absent ${absent}`);
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  process.exit(absent === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(2); });
