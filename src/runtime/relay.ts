// The dead-letter outbox relay (spec PublishDeadLetter).
//
// A dead letter is committed to the ledger's outbox (htmqc_dead_letters) in
// the same transaction as its offset; this relay copies the outbox of each
// source partition, in offset order, to the dead-letter topic.  Its position
// is read from the dead-letter topic itself, never stored elsewhere, and the
// relay of a source partition is fenced by Kafka transactions:
//
//  1. the holder of source partition (t, p) creates a transactional producer
//     with transactionalId htmqc-dlq.<group>.<t>.<p>; its first transaction()
//     runs InitProducerId, which aborts any open transaction of an older relay
//     of (t, p) and fences it (its later sends and commits fail);
//  2. only then it reads, with read_committed, the highest source offset of
//     (t, p) in the dead-letter partition: the relay's position;
//  3. it publishes the outbox rows after that position in one transaction
//     per chunk, and moves the position when the commit returns.
//
// A crash anywhere leaves either a committed transaction (step 2 of the next
// relay sees it: no repeat) or an aborted one (invisible to read_committed,
// republished: no skip).  Every record carries its source in headers.

import { randomBytes } from 'crypto';
import type { Kafka, Producer } from 'kafkajs';
import type { LedgerPort, OutboxEntry, PartitionRef } from '../ledger';

/** Headers the relay adds to every dead letter. */
export const DLQ_HEADERS = {
  sourceTopic: 'htmqc-source-topic',
  sourcePartition: 'htmqc-source-partition',
  sourceOffset: 'htmqc-source-offset',
  error: 'htmqc-error',
  attempts: 'htmqc-attempts',
  timestamp: 'htmqc-source-timestamp',
} as const;

const CHUNK = 100;
const SCAN_TIMEOUT_MS = 30000;

class SourceRelay {
  active = true;
  kicked = false;
  running = false;
  producer: Producer | undefined;
  /** The highest source offset of this partition in the dead-letter topic; undefined = not read yet. */
  position: number | undefined;

  constructor(readonly ref: PartitionRef) {}
}

export class DeadLetterRelay {
  private readonly sources = new Map<string, SourceRelay>();
  private partitionCount: number | undefined;
  private stopped = false;
  private readonly loops = new Set<Promise<void>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly ledger: LedgerPort<unknown>,
    readonly topic: string,
    private readonly groupId: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** A new assignment of a source partition: a fresh relay (and producer) for it. */
  onAssigned(ref: PartitionRef): void {
    const key = keyOf(ref);
    const old = this.sources.get(key);
    if (old !== undefined) old.active = false;
    const s = new SourceRelay({ topic: ref.topic, partition: ref.partition });
    this.sources.set(key, s);
    this.ledger.lastDeadLetter(ref).then((last) => last >= 0, (e: unknown) => {
      this.onError(e);
      return true;
    }).then((pending) => { if (pending && s.active) this.kickSource(s); }, this.onError);
  }

  onRevoked(ref: PartitionRef): void {
    const s = this.sources.get(keyOf(ref));
    if (s === undefined) return;
    s.active = false;
    this.sources.delete(keyOf(ref));
    if (!s.running) void this.dropProducer(s);
  }

  /** New dead letters of ref were committed: relay them. */
  kick(ref: PartitionRef): void {
    const s = this.sources.get(keyOf(ref));
    if (s !== undefined) this.kickSource(s);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.sources.values()) s.active = false;
    await Promise.allSettled([...this.loops]);
    await Promise.allSettled([...this.sources.values()].map((s) => this.dropProducer(s)));
    this.sources.clear();
  }

  // ------------------------------------------------------------ helpers --

  private kickSource(s: SourceRelay): void {
    s.kicked = true;
    if (s.running || this.stopped) return;
    s.running = true;
    const loop = this.loop(s).finally(() => {
      s.running = false;
      this.loops.delete(loop);
    });
    this.loops.add(loop);
  }

  private async loop(s: SourceRelay): Promise<void> {
    let backoff = 250;
    while (s.active && s.kicked && !this.stopped) {
      s.kicked = false;
      try {
        await this.publishPending(s);
        backoff = 250;
      } catch (e) {
        this.onError(e);
        await this.dropProducer(s);
        s.kicked = true;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
    if (!s.active || this.stopped) await this.dropProducer(s);
  }

  /** Spec PublishDeadLetter, repeated until the topic holds the whole outbox of s.ref. */
  private async publishPending(s: SourceRelay): Promise<void> {
    if (s.producer === undefined) {
      const producer = this.kafka.producer({
        transactionalId: `htmqc-dlq.${this.groupId}.${s.ref.topic}.${s.ref.partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      s.producer = producer;
      s.position = undefined;
    }
    const dlqPartition = await this.partitionFor(s.ref);
    while (s.active && !this.stopped) {
      const tx = await s.producer.transaction();
      try {
        s.position ??= await this.readPosition(s.ref, dlqPartition);
        const rows = await this.ledger.deadLetters(s.ref, s.position, CHUNK);
        if (rows.length === 0 || !s.active) {
          await tx.abort();
          return;
        }
        const answer = await tx.send({ topic: this.topic, acks: -1, messages: rows.map((r) => this.record(s.ref, dlqPartition, r)) });
        // kafkajs can resolve a send without having sent a partition whose
        // leader moved during its retries (tools/kafka/partial-send.js); one
        // partition per send avoids that path, and an answer that does not
        // name the partition is never taken for a write.
        if (!answer.some((a) => a.partition === dlqPartition && a.errorCode === 0)) {
          throw new Error(`dead-letter relay of ${s.ref.topic}[${s.ref.partition}]: the send of ${rows.length} records to ` +
            `${this.topic}[${dlqPartition}] resolved without an answer for that partition; aborting and sending again`);
        }
        await tx.commit();
        s.position = rows[rows.length - 1]!.offset;
      } catch (e) {
        if (tx.isActive()) await tx.abort().catch(() => undefined);
        throw e;
      }
    }
  }

  private record(ref: PartitionRef, partition: number, r: OutboxEntry): {
    partition: number; key: Buffer | null; value: Buffer | null; headers: Record<string, string>;
  } {
    return {
      partition,
      key: r.key,
      value: r.value,
      headers: {
        ...r.headers,
        [DLQ_HEADERS.sourceTopic]: ref.topic,
        [DLQ_HEADERS.sourcePartition]: String(ref.partition),
        [DLQ_HEADERS.sourceOffset]: String(r.offset),
        [DLQ_HEADERS.error]: r.error,
        [DLQ_HEADERS.attempts]: String(r.attempts),
        [DLQ_HEADERS.timestamp]: r.timestamp,
      },
    };
  }

  /** The dead-letter partition of a source partition: fixed, so one partition orders its dead letters. */
  private async partitionFor(ref: PartitionRef): Promise<number> {
    if (this.partitionCount === undefined) {
      const admin = this.kafka.admin();
      await admin.connect();
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [this.topic] });
        this.partitionCount = meta.topics[0]!.partitions.length;
      } finally {
        await admin.disconnect();
      }
    }
    return (fnv1a(ref.topic) + ref.partition) % this.partitionCount;
  }

  /**
   * The highest source offset of ref in the dead-letter partition, read with
   * read_committed from the beginning of the partition (-1 if none).
   */
  private async readPosition(ref: PartitionRef, dlqPartition: number): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    let high: number;
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic);
      high = Number(offsets.find((o) => o.partition === dlqPartition)?.high ?? '0');
    } finally {
      await admin.disconnect();
    }
    if (high === 0) return -1;
    const groupId = `htmqc-dlq-scan.${this.groupId}.${randomBytes(6).toString('hex')}`;
    const consumer = this.kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100, sessionTimeout: 10000 });
    let max = -1;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`reading ${this.topic}[${dlqPartition}] up to ${high} timed out`)), SCAN_TIMEOUT_MS);
        consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
          if (e.payload.partition === dlqPartition && Number(e.payload.lastOffset) >= high - 1) {
            clearTimeout(timer);
            resolve();
          }
        });
        consumer.run({
          eachBatch: async ({ batch }) => {
            if (batch.partition !== dlqPartition) return;
            for (const m of batch.messages) {
              const h = m.headers ?? {};
              if (String(h[DLQ_HEADERS.sourceTopic]) !== ref.topic || String(h[DLQ_HEADERS.sourcePartition]) !== String(ref.partition)) continue;
              max = Math.max(max, Number(String(h[DLQ_HEADERS.sourceOffset])));
            }
          },
        }).catch((e: unknown) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); });
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      const admin2 = this.kafka.admin();
      await admin2.connect().then(() => admin2.deleteGroups([groupId])).catch(() => undefined);
      await admin2.disconnect().catch(() => undefined);
    }
    return max;
  }

  private async dropProducer(s: SourceRelay): Promise<void> {
    const p = s.producer;
    s.producer = undefined;
    s.position = undefined;
    if (p !== undefined) await p.disconnect().catch(() => undefined);
  }
}

function keyOf(ref: PartitionRef): string {
  return ref.topic + '\u0000' + ref.partition;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
