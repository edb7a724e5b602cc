#!/usr/bin/env node
// Prints, as one JSON line, who leads a partition and which replicas are in
// sync, as the cluster's metadata says now (kafkajs admin fetchTopicMetadata):
//
//   node tools/kafka/partition.js <host:port,...> <topic> <partition>
//   -> {"topic":"t","partition":0,"leader":2,"replicas":[1,2,3],"isr":[2,3]}
//
// Any live broker of the list answers, so it works with nodes down. leader is
// -1 while the partition has none. Exit codes: 0 printed, 1 no broker answered
// or the topic/partition does not exist, 3 bad arguments.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

function usage(msg) {
  process.stderr.write(`partition: ${msg}\nusage: partition.js <host:port,...> <topic> <partition>\n`);
  process.exit(3);
}

const [brokerList, topic, partitionArg] = process.argv.slice(2);
if (!brokerList) usage('missing broker list');
if (!topic) usage('missing topic');
const partition = Number(partitionArg);
if (!Number.isInteger(partition) || partition < 0) usage(`bad partition '${partitionArg}'`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A node that has not yet read a new topic from the metadata log answers
// UNKNOWN_TOPIC_OR_PARTITION; ask again for a few seconds before giving up.
async function main() {
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      return await describe();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await sleep(200);
    }
  }
}

async function describe() {
  const kafka = new Kafka({
    clientId: 'htmqc-partition',
    brokers: brokerList.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 3, initialRetryTime: 100 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = topics[0] && topics[0].partitions.find((x) => x.partitionId === partition);
    if (!p) throw new Error(`topic ${topic} has no partition ${partition}`);
    process.stdout.write(JSON.stringify({
      topic, partition, leader: p.leader, replicas: [...p.replicas].sort((a, b) => a - b), isr: [...p.isr].sort((a, b) => a - b),
    }) + '\n');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`partition: ${topic}[${partition}] via ${brokerList}: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
