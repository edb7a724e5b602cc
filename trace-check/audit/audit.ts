// The independent audit of a soak run: every record of the topic as the
// broker serves it, against every row of the ledger.  It uses neither the
// traces nor the checker, so it sees what the traces may hide (an effect
// written outside the ledger transaction, a position recovered from the
// wrong place).
//
// The ledger (schema version 2, src/ledger/sqlite/store.ts) holds one range row per
// accepted write; an offset a range covers is DeadLettered when it has an
// outbox row, Absent when it has an absent row, and Done otherwise.
//
//   expected      records in the topic (read back from the broker)
//   committed     records a committed range covers and, if Done, with exactly
//                 one effect row carrying that record's value
//   duplicated    records with more than one effect row
//   lost          records no committed range covers, or Done without their effect
//   deadLettered  records whose outcome is DeadLettered
//   orphans       effect rows for offsets no committed range covers, or whose
//                 value is not the record's; committed offsets beyond the
//                 topic's end or in a partition it does not have

import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { committedRanges, exceptionalOffsets, OUTCOME_DEAD_LETTERED } from '../../src/ledger';
import type { LedgerDump } from '../checker/replay';

export interface AuditReport {
  readonly expected: number;
  readonly committed: number;
  readonly duplicated: number;
  readonly lost: number;
  readonly deadLettered: number;
  readonly orphans: number;
  /** Per partition: the topic's end offset and the ledger's next. */
  readonly partitions: Record<string, { end: number; ledgerNext: number }>;
  readonly seconds: number;
}

/** Per partition, the value (record index) of every offset, read from the broker. */
export async function readTopic(brokers: string, topic: string, endOffsets: Record<string, number>): Promise<Map<number, Int32Array>> {
  const kafka = new Kafka({ clientId: 'htmqc-audit', brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 30 } });
  const values = new Map<number, Int32Array>();
  const remaining = new Map<number, number>();
  for (const [p, end] of Object.entries(endOffsets)) {
    values.set(Number(p), new Int32Array(end).fill(-2));
    if (end > 0) remaining.set(Number(p), end);
  }
  if (remaining.size === 0) return values;
  const consumer = kafka.consumer({ groupId: `htmqc-audit-${process.pid}-${Date.now()}`, maxBytes: 32 << 20 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const p = batch.partition;
          const arr = values.get(p);
          if (arr === undefined) return;
          for (const m of batch.messages) {
            const o = Number(m.offset);
            if (o < arr.length) arr[o] = m.value === null ? -1 : Number(m.value.toString('latin1', 0, 10));
          }
          const last = Number(batch.lastOffset());
          if (last + 1 >= arr.length && remaining.delete(p) && remaining.size === 0) resolve();
        },
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

/** Audits a run: the topic's records (from readTopic) against the ledger database. */
export function auditLedger(db: string, topic: string, values: Map<number, Int32Array>): Omit<AuditReport, 'seconds'> {
  const d = new Database(db, { readonly: true, timeout: 20000 });
  try {
    const outcome = new Map<number, Uint8Array>(); // 0 none, 1 Done, 2 DeadLettered, 3 Absent
    const effects = new Map<number, Uint8Array>(); // effect rows per offset, saturating at 255
    for (const [p, arr] of values) {
      outcome.set(p, new Uint8Array(arr.length));
      effects.set(p, new Uint8Array(arr.length));
    }
    let orphans = 0;
    for (const r of committedRanges(d, topic)) {
      const o = outcome.get(r.partition);
      const inTopic = o === undefined ? 0 : Math.max(0, Math.min(r.next, o.length) - r.first);
      orphans += r.next - r.first - inTopic;
      if (inTopic > 0) o!.fill(1, r.first, r.first + inTopic);
    }
    // An outbox or absent row beyond the topic was counted with its range; one outside every range is no outcome.
    for (const r of exceptionalOffsets(d, topic)) {
      const o = outcome.get(r.partition);
      if (o === undefined || r.offset >= o.length || o[r.offset] === 0) continue;
      o[r.offset] = r.outcome === OUTCOME_DEAD_LETTERED ? 2 : 3;
    }
    for (const r of d.prepare('SELECT partition, offset, value FROM soak_effects').iterate() as
      IterableIterator<{ partition: number; offset: number; value: number }>) {
      const e = effects.get(r.partition);
      const v = values.get(r.partition);
      if (e === undefined || v === undefined || r.offset >= e.length || v[r.offset] !== r.value) { orphans++; continue; }
      if (e[r.offset]! < 255) e[r.offset]!++;
    }
    let expected = 0, committed = 0, duplicated = 0, lost = 0, deadLettered = 0;
    const partitions: Record<string, { end: number; ledgerNext: number }> = {};
    const nextOf = d.prepare('SELECT next FROM htmqc_partitions WHERE topic = ? AND partition = ?');
    for (const [p, arr] of values) {
      const o = outcome.get(p)!;
      const e = effects.get(p)!;
      for (let i = 0; i < arr.length; i++) {
        if (arr[i] === -2) continue; // no record at this offset (none in this test topic)
        expected++;
        if (e[i]! > 1) duplicated++;
        if (o[i] === 0) { lost++; if (e[i] === 1) orphans++; continue; }
        if (o[i] === 1) {
          if (e[i] === 0) lost++;
          else committed++;
        } else {
          if (e[i]! > 0) orphans++;
          if (o[i] === 2) deadLettered++;
          committed++;
        }
      }
      const row = nextOf.get(topic, p) as { next: number } | undefined;
      partitions[p] = { end: arr.length, ledgerNext: row?.next ?? 0 };
    }
    return { expected, committed, duplicated, lost, deadLettered, orphans, partitions };
  } finally {
    d.close();
  }
}

export async function audit(brokers: string, topic: string, db: string, endOffsets: Record<string, number>): Promise<AuditReport> {
  const t0 = Date.now();
  const values = await readTopic(brokers, topic, endOffsets);
  return { ...auditLedger(db, topic, values), seconds: (Date.now() - t0) / 1000 };
}

/** The ledger's account for the checker (LedgerDump): final rows and each epoch's committed range. */
export function dumpLedger(db: string, topic: string): LedgerDump {
  const d = new Database(db, { readonly: true, timeout: 20000 });
  try {
    const partitions: Record<string, { next: number; epoch: number }> = {};
    for (const r of d.prepare('SELECT partition, next, epoch FROM htmqc_partitions WHERE topic = ?').all(topic) as
      { partition: number; next: number; epoch: number }[]) partitions[r.partition] = { next: r.next, epoch: r.epoch };
    const epochRanges: Record<string, { epoch: number; lo: number; hi: number }[]> = {};
    for (const r of d.prepare(
      'SELECT partition, epoch, min(first) AS lo, max(next) - 1 AS hi FROM htmqc_ranges WHERE topic = ? GROUP BY partition, epoch',
    ).all(topic) as { partition: number; epoch: number; lo: number; hi: number }[]) {
      (epochRanges[r.partition] ??= []).push({ epoch: r.epoch, lo: r.lo, hi: r.hi });
    }
    return { partitions, epochRanges };
  } finally {
    d.close();
  }
}

export function formatAudit(a: AuditReport): string {
  return `audit: expected ${a.expected}, committed ${a.committed}, duplicated ${a.duplicated}, lost ${a.lost}, ` +
    `dead-lettered ${a.deadLettered}, orphan effects ${a.orphans} (${a.seconds.toFixed(1)} s)`;
}
