// A known-wrong design, switched on only by HTMQC_UNSAFE=broker-commit-first,
// so that the harness can show that the trace checker and the audit catch it
// (trace-check/README.md, "Teeth").  Never set in production.
//
// broker-commit-first: the consumer's position is committed "to the broker"
// before the ledger transaction (when the write is queued), and a new holder
// recovers from that position instead of the ledger's next -- the design the
// spec's mutants refute.  The broker offset is emulated by a side table in the
// ledger database, written on the caller's connection when the write is
// queued (before the commit thread sees the write) and read after the fence.
// A crash between the two commits then skips the records in between (lost).

import type {
  CommittedRange, Fenced, LedgerPort, LedgerRow, LedgerWrite, OffsetOutcome, OutboxEntry, PartitionRef, Statement, WriteResult,
} from '../ledger';

export const UNSAFE_MODE = process.env.HTMQC_UNSAFE;

interface SqliteLike {
  prepare(sql: string): { run(...a: unknown[]): unknown; get(...a: unknown[]): unknown };
  exec(sql: string): unknown;
}

export class BrokerCommitFirstLedger implements LedgerPort<Statement> {
  readonly backend: string;
  readonly concurrentCommits: number;
  private readonly db: SqliteLike;

  constructor(private readonly inner: LedgerPort<Statement>) {
    const db = (inner as unknown as { database?: SqliteLike }).database;
    if (db === undefined) throw new Error('HTMQC_UNSAFE=broker-commit-first needs the SQLite ledger');
    this.backend = inner.backend;
    this.concurrentCommits = inner.concurrentCommits;
    this.db = db;
    this.db.exec('CREATE TABLE IF NOT EXISTS htmqc_unsafe_broker (topic TEXT, partition INTEGER, offset INTEGER, PRIMARY KEY (topic, partition))');
  }

  /** The advisory commit, made before the ledger's. */
  commitBrokerFirst(ref: PartitionRef, offset: number): void {
    this.db.prepare('INSERT OR REPLACE INTO htmqc_unsafe_broker (topic, partition, offset) VALUES (?, ?, ?)').run(ref.topic, ref.partition, offset);
  }

  async fence(ref: PartitionRef): Promise<Fenced> {
    const fenced = await this.inner.fence(ref);
    const row = this.db.prepare('SELECT offset FROM htmqc_unsafe_broker WHERE topic = ? AND partition = ?').get(ref.topic, ref.partition) as
      { offset: number } | undefined;
    // The broker offset is written when a write is queued, with its upTo, so it
    // is never behind the ledger's next; if it is, recover from the ledger.
    if (row === undefined || row.offset <= fenced.next) return fenced;
    // Recover from the broker offset (ahead of the ledger: the records in
    // between are skipped); the ledger is told to continue from there.
    this.db.prepare('UPDATE htmqc_partitions SET next = ? WHERE topic = ? AND partition = ?').run(row.offset, ref.topic, ref.partition);
    return { epoch: fenced.epoch, next: row.offset };
  }

  commit(writes: readonly LedgerWrite<Statement>[]): Promise<WriteResult[]> { return this.inner.commit(writes); }
  read(ref: PartitionRef): Promise<LedgerRow | undefined> { return this.inner.read(ref); }
  readSettled(ref: PartitionRef): Promise<LedgerRow | undefined> { return this.inner.readSettled(ref); }
  outcomeAt(ref: PartitionRef, offset: number): Promise<OffsetOutcome | undefined> { return this.inner.outcomeAt(ref, offset); }
  committedRanges(topic: string, partition?: number): Promise<CommittedRange[]> { return this.inner.committedRanges(topic, partition); }
  deadLetters(ref: PartitionRef, after: number, limit: number): Promise<OutboxEntry[]> { return this.inner.deadLetters(ref, after, limit); }
  lastDeadLetter(ref: PartitionRef): Promise<number> { return this.inner.lastDeadLetter(ref); }
  close(): Promise<void> { return this.inner.close(); }
}
