// The independent audit of a soak run: every record of the topic as the
// broker serves it, against every row of the ledger.  It uses neither the
// traces nor the checker, so it sees what the traces may hide (an effect
// written outside the ledger transaction, a position recovered from the
// wrong place).
//
// The ledger (schema version 2, src/ledger/sqlite/store.ts, and the same
// tables in PostgreSQL, src/ledger/postgres/sql.ts) holds one range row per
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
import { Client } from 'pg';
import {
  committedRanges, exceptionalOffsets, OUTCOME_ABSENT, OUTCOME_DEAD_LETTERED, type CommittedRange, type ExceptionalOffset,
} from '../../src/ledger';
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
export async function readTopic(brokers: string | readonly string[], topic: string, endOffsets: Record<string, number>): Promise<Map<number, Int32Array>> {
  const kafka = new Kafka({ clientId: 'htmqc-audit', brokers: typeof brokers === 'string' ? [brokers] : [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 30 } });
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

/** Where a run's ledger lives: one SQLite file, or a schema of a PostgreSQL database. */
export type LedgerLocation =
  | { readonly kind: 'sqlite'; readonly db: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };

/**
 * Every ledger row of one topic the audit and the checker read, the same for
 * both backends (their tables and columns are the same), so the audit and
 * the dump never depend on where the rows came from.
 */
export interface LedgerContents {
  readonly ranges: readonly CommittedRange[];
  readonly exceptional: readonly ExceptionalOffset[];
  readonly effects: readonly { partition: number; offset: number; value: number }[];
  readonly rows: readonly { partition: number; next: number; epoch: number }[];
}

function readSqliteContents(db: string, topic: string): LedgerContents {
  const d = new Database(db, { readonly: true, timeout: 20000 });
  try {
    return {
      ranges: [...committedRanges(d, topic)],
      exceptional: [...exceptionalOffsets(d, topic)],
      effects: d.prepare('SELECT partition, offset, value FROM soak_effects').all() as LedgerContents['effects'],
      rows: d.prepare('SELECT partition, next, epoch FROM htmqc_partitions WHERE topic = ?').all(topic) as LedgerContents['rows'],
    };
  } finally {
    d.close();
  }
}

async function readPostgresContents(url: string, schema: string, topic: string): Promise<LedgerContents> {
  const c = new Client({ connectionString: url, application_name: 'htmqc-audit', options: `-c search_path=${schema}` });
  await c.connect();
  try {
    const n = (rows: Record<string, unknown>[]): never[] =>
      rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && k !== 'outcome' ? Number(v) : v]))) as never[];
    // One REPEATABLE READ snapshot: the four reads see the same committed state.
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const ranges = n((await c.query('SELECT partition, first, next, epoch FROM htmqc_ranges WHERE topic = $1 ORDER BY partition, first', [topic])).rows);
    const exceptional = n((await c.query(
      `SELECT partition, "offset", '${OUTCOME_DEAD_LETTERED}' AS outcome FROM htmqc_dead_letters WHERE topic = $1 ` +
      `UNION ALL SELECT partition, "offset", '${OUTCOME_ABSENT}' AS outcome FROM htmqc_absent WHERE topic = $1 ORDER BY 1, 2`, [topic])).rows);
    const effects = n((await c.query('SELECT partition, "offset", value FROM soak_effects')).rows);
    const rows = n((await c.query('SELECT partition, next, epoch FROM htmqc_partitions WHERE topic = $1', [topic])).rows);
    await c.query('COMMIT');
    return { ranges, exceptional, effects, rows };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The ledger's rows of `topic`, from either backend. */
export async function readLedgerContents(where: LedgerLocation, topic: string): Promise<LedgerContents> {
  return where.kind === 'sqlite' ? readSqliteContents(where.db, topic) : readPostgresContents(where.url, where.schema, topic);
}

/** Audits a run: the topic's records (from readTopic) against the ledger's rows. */
export function auditContents(l: LedgerContents, values: Map<number, Int32Array>): Omit<AuditReport, 'seconds'> {
  const outcome = new Map<number, Uint8Array>(); // 0 none, 1 Done, 2 DeadLettered, 3 Absent
  const effects = new Map<number, Uint8Array>(); // effect rows per offset, saturating at 255
  for (const [p, arr] of values) {
    outcome.set(p, new Uint8Array(arr.length));
    effects.set(p, new Uint8Array(arr.length));
  }
  let orphans = 0;
  for (const r of l.ranges) {
    const o = outcome.get(r.partition);
    const inTopic = o === undefined ? 0 : Math.max(0, Math.min(r.next, o.length) - r.first);
    orphans += r.next - r.first - inTopic;
    if (inTopic > 0) o!.fill(1, r.first, r.first + inTopic);
  }
  // An outbox or absent row beyond the topic was counted with its range; one outside every range is no outcome.
  for (const r of l.exceptional) {
    const o = outcome.get(r.partition);
    if (o === undefined || r.offset >= o.length || o[r.offset] === 0) continue;
    o[r.offset] = r.outcome === OUTCOME_DEAD_LETTERED ? 2 : 3;
  }
  for (const r of l.effects) {
    const e = effects.get(r.partition);
    const v = values.get(r.partition);
    if (e === undefined || v === undefined || r.offset >= e.length || v[r.offset] !== r.value) { orphans++; continue; }
    if (e[r.offset]! < 255) e[r.offset]!++;
  }
  let expected = 0, committed = 0, duplicated = 0, lost = 0, deadLettered = 0;
  const partitions: Record<string, { end: number; ledgerNext: number }> = {};
  const nextOf = new Map(l.rows.map((r) => [r.partition, r.next]));
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
    partitions[p] = { end: arr.length, ledgerNext: nextOf.get(p) ?? 0 };
  }
  return { expected, committed, duplicated, lost, deadLettered, orphans, partitions };
}

/** Audits a run against a SQLite ledger file. */
export function auditLedger(db: string, topic: string, values: Map<number, Int32Array>): Omit<AuditReport, 'seconds'> {
  return auditContents(readSqliteContents(db, topic), values);
}

export async function audit(brokers: string | readonly string[], topic: string, where: LedgerLocation | string,
  endOffsets: Record<string, number>): Promise<AuditReport> {
  const t0 = Date.now();
  const values = await readTopic(brokers, topic, endOffsets);
  const contents = await readLedgerContents(typeof where === 'string' ? { kind: 'sqlite', db: where } : where, topic);
  return { ...auditContents(contents, values), seconds: (Date.now() - t0) / 1000 };
}

/** The ledger's account for the checker (LedgerDump): final rows and each epoch's committed range. */
export function dumpContents(l: LedgerContents): LedgerDump {
  const partitions: Record<string, { next: number; epoch: number }> = {};
  for (const r of l.rows) partitions[r.partition] = { next: r.next, epoch: r.epoch };
  const byEpoch = new Map<string, { partition: number; epoch: number; lo: number; hi: number }>();
  for (const r of l.ranges) {
    const k = `${r.partition}/${r.epoch}`;
    const e = byEpoch.get(k);
    if (e === undefined) byEpoch.set(k, { partition: r.partition, epoch: r.epoch, lo: r.first, hi: r.next - 1 });
    else { e.lo = Math.min(e.lo, r.first); e.hi = Math.max(e.hi, r.next - 1); }
  }
  const epochRanges: Record<string, { epoch: number; lo: number; hi: number }[]> = {};
  for (const r of byEpoch.values()) (epochRanges[r.partition] ??= []).push({ epoch: r.epoch, lo: r.lo, hi: r.hi });
  return { partitions, epochRanges };
}

/** dumpContents of a SQLite ledger file. */
export function dumpLedger(db: string, topic: string): LedgerDump {
  return dumpContents(readSqliteContents(db, topic));
}

export function formatAudit(a: AuditReport): string {
  return `audit: expected ${a.expected}, committed ${a.committed}, duplicated ${a.duplicated}, lost ${a.lost}, ` +
    `dead-lettered ${a.deadLettered}, orphan effects ${a.orphans} (${a.seconds.toFixed(1)} s)`;
}
