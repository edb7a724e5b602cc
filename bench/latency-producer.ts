// Child process of bench/main.ts (latency scenario): produces to one topic at
// a fixed rate for a fixed time.  Each record's value starts with the produce
// stamp, process.hrtime (CLOCK_MONOTONIC, shared by every process on the
// host) in ms as a little-endian float64, padded to the value size.  Records
// are sent in ticks of 2 ms; a tick's records carry the stamp taken right
// before their send().  The key carries the same stamp as ASCII text (ms with
// three decimals), for consumers that print keys, not values (kcat -f %k).
//
// Rate 0 is flat out: batches of FLAT_BATCH records, FLAT_INFLIGHT sends in
// flight, for the end-to-end maximum (how fast records can be produced and
// consumed at the same time on this host).
//
//   node dist/bench/latency-producer.js <broker> <topic> <partitions> <rate/s | 0> <seconds> [valueBytes=100]
//
// Prints one JSON line when done: {"sent":N,"ms":T,"lateTicks":K}.

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import { Kafka, logLevel } from 'kafkajs';

const [broker, topic, partitionsArg, rateArg, secondsArg, bytesArg] = process.argv.slice(2);
const P = Number(partitionsArg);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const valueBytes = Number(bytesArg ?? 100);
const TICK_MS = 2;
const FLAT_BATCH = 1000;
const FLAT_INFLIGHT = 8;

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function main(): Promise<void> {
  const kafka = new Kafka({ clientId: 'bench-latency-producer', brokers: [broker!], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 64 });
  await producer.connect();
  const t0 = nowMs();
  const end = t0 + seconds * 1000;
  let sent = 0;
  let lateTicks = 0;
  let seq = 0;
  const inflight = new Set<Promise<unknown>>();
  const send = (n: number): void => {
    const stamp = nowMs();
    const key = stamp.toFixed(3);
    const messages = [];
    for (let i = 0; i < n; i++) {
      const value = Buffer.alloc(valueBytes, 120);
      value.writeDoubleLE(stamp, 0);
      messages.push({ partition: seq++ % P, key, value });
    }
    const p = producer.send({ topic, acks: 1, messages }).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  if (rate === 0) {
    while (nowMs() < end) {
      if (inflight.size >= FLAT_INFLIGHT) await Promise.race(inflight);
      send(FLAT_BATCH);
      sent += FLAT_BATCH;
    }
  }
  for (let tick = 1; rate > 0; tick++) {
    const due = Math.min(Math.floor(((Math.min(nowMs(), end) - t0) / 1000) * rate), Math.floor(seconds * rate));
    const n = due - sent;
    if (n > 0) {
      send(n);
      sent = due;
    }
    if (nowMs() >= end) break;
    const next = t0 + tick * TICK_MS;
    const wait = next - nowMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else lateTicks++;
  }
  await Promise.all(inflight);
  await producer.disconnect();
  console.log(JSON.stringify({ sent, ms: Math.round(nowMs() - t0), lateTicks }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
