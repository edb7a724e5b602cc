#!/usr/bin/env node
// Waits until the local Kafka broker on 127.0.0.1:<port> really serves
// requests: a metadata round-trip (kafkajs admin describeCluster) that lists a
// live broker on that port and, with --cluster-id, reports that cluster id (so
// an unrelated broker on the same port does not count).
//
//   node tools/kafka/wait-ready.js <port> <deadline-epoch-ms> [--pid N] [--cluster-id ID]
//
// Exit codes: 0 ready, 1 not ready by the deadline, 2 the process --pid exited,
// 3 bad arguments. kafkajs logging is off; only the final error is printed.
'use strict';

const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

function usage(msg) {
  process.stderr.write(`wait-ready: ${msg}\nusage: wait-ready.js <port> <deadline-epoch-ms> [--pid N] [--cluster-id ID]\n`);
  process.exit(3);
}

const argv = process.argv.slice(2);
const port = Number(argv[0]);
const deadline = Number(argv[1]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) usage(`bad port '${argv[0]}'`);
if (!Number.isFinite(deadline)) usage(`bad deadline '${argv[1]}'`);
let pid = null;
let clusterId = null;
for (let i = 2; i < argv.length; i += 2) {
  const value = argv[i + 1];
  if (value === undefined) usage(`missing value for ${argv[i]}`);
  if (argv[i] === '--pid') pid = Number(value);
  else if (argv[i] === '--cluster-id') clusterId = value || null;
  else usage(`unknown option ${argv[i]}`);
}

// Alive = /proc/<pid> exists and is not a zombie (an orphaned JVM that was
// killed may linger unreaped in a container without an init).
function alive(p) {
  try {
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (e) {
    if (e && e.code === 'ENOENT') return false;
    try { process.kill(p, 0); return true; } catch { return false; }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function probe() {
  const kafka = new Kafka({
    clientId: 'htmqc-wait-ready',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (clusterId && cluster.clusterId !== clusterId) {
      throw new Error(`127.0.0.1:${port} belongs to cluster ${cluster.clusterId}, expected ${clusterId}`);
    }
    // A KRaft broker lists itself only once it is registered and unfenced.
    if (!cluster.brokers.some((b) => b.port === port)) {
      throw new Error(`metadata lists no live broker on port ${port} yet (brokers: ${JSON.stringify(cluster.brokers)})`);
    }
    return cluster;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function main() {
  let lastError = null;
  for (;;) {
    if (pid !== null && !alive(pid)) {
      process.stderr.write(`wait-ready: broker process ${pid} exited` +
        (lastError ? ` (last probe error: ${lastError.message})` : '') + '\n');
      return 2;
    }
    const attempt = Date.now();
    try {
      await probe();
      return 0;
    } catch (e) {
      lastError = e instanceof Error ? e : new Error(String(e));
    }
    if (Date.now() >= deadline) {
      process.stderr.write(`wait-ready: 127.0.0.1:${port} not ready by the deadline; last error: ${lastError.message}\n`);
      return 1;
    }
    await sleep(Math.max(0, 200 - (Date.now() - attempt)));
  }
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`wait-ready: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
