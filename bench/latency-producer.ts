// Child process of bench/main.ts (latency scenario): produces to one topic at
// a fixed rate for a fixed time.  Each record's value starts with the produce
// stamp, process.hrtime (CLOCK_MONOTONIC, shared by every process on the
// host) in ms as a little-endian float64, padded to the value size.  Records
// are sent in ticks of 2 ms; a tick's records carry the stamp taken right
// before their send().
//
//   node dist/bench/latency-producer.js <broker> <topic> <partitions> <rate/s> <seconds> [valueBytes=100]
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
  for (let tick = 1; ; tick++) {
    const due = Math.min(Math.floor(((Math.min(nowMs(), end) - t0) / 1000) * rate), Math.floor(seconds * rate));
    const n = due - sent;
    if (n > 0) {
      const stamp = nowMs();
      const messages = [];
      for (let i = 0; i < n; i++) {
        const value = Buffer.alloc(valueBytes, 120);
        value.writeDoubleLE(stamp, 0);
        messages.push({ partition: seq++ % P, key: null, value });
      }
      const p = producer.send({ topic, acks: 1, messages }).finally(() => inflight.delete(p));
      inflight.add(p);
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
