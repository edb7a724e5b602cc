// The ledger: the only durable consumer state (spec: ledger[p]).
//
// A ledger keeps, per partition (topic + partition), the next offset to handle,
// the fencing epoch and the committed outcomes.  Its acceptance test is the
// spec's CommitAccepted, in one place: a write is applied only when the
// caller's epoch equals the ledger's epoch AND the caller's expectedNext
// equals the ledger's next; otherwise nothing of it is applied.

/** A partition of a topic; the ledger's unit of fencing. */
export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/** One effect queued by a handler: a SQL statement run inside the ledger transaction. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** What the outbox keeps of a dead-lettered record (spec: ledger[p].dlq). */
export interface DeadLetterEntry {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** The source record's headers, values as UTF-8 strings. */
  readonly headers: Readonly<Record<string, string>>;
  /** The source record's timestamp (ms since the epoch, as kafkajs gives it). */
  readonly timestamp: string;
  /** The last error the handler threw, rendered as text. */
  readonly error: string;
  /** How many times the handler ran (MaxRetries + 1). */
  readonly attempts: number;
}

/**
 * Outcome codes of a committed offset (spec slot states).  The SQLite ledger
 * stores them implicitly: an offset inside a committed range is Done unless
 * it has a dead-letter row (DeadLettered) or an absent row (Absent).
 */
export const OUTCOME_DONE = 'Done';
export const OUTCOME_DEAD_LETTERED = 'DeadLettered';
/** No record exists at this offset (a transaction marker or a compacted record). */
export const OUTCOME_ABSENT = 'Absent';

/**
 * The committed outcome of one offset.  Exactly one of: effects (Done, possibly
 * empty), a dead letter (DeadLettered), or absent (no record at the offset).
 */
export interface Outcome<E = Statement> {
  readonly effects: readonly E[] | null;
  readonly deadLetter: DeadLetterEntry | null;
  readonly absent: boolean;
}

/** WriteLedger(p, epoch, expectedNext, upTo) with the outcomes of [expectedNext, upTo). */
export interface LedgerWrite<E = Statement> extends PartitionRef {
  readonly epoch: number;
  readonly expectedNext: number;
  readonly upTo: number;
  /** outcomes[i] is the outcome of offset expectedNext + i; length upTo - expectedNext. */
  readonly outcomes: readonly Outcome<E>[];
}

/** The ledger row of a partition (spec LedgerRec without the effect sequences). */
export interface LedgerRow {
  readonly epoch: number;
  readonly next: number;
  /** The epoch of the last accepted commit since the latest fence, 0 if none (spec: writer). */
  readonly writer: number;
}

/** The answer to a write: LedgerCommitted(p, next) or LedgerRejected(p). */
export type CommitResult =
  | { readonly accepted: true; readonly next: number }
  | { readonly accepted: false; readonly reason: 'epoch' | 'next'; readonly ledger: LedgerRow };

/** A committed dead letter waiting in (or already relayed from) the outbox. */
export interface OutboxEntry extends DeadLetterEntry {
  readonly offset: number;
}

/** The ledger interface (spec: the ledger's part of Assign, Commit, PublishDeadLetter). */
export interface Ledger {
  /**
   * Spec Assign's ledger step: increments the partition's epoch (creating the
   * row at next = 0 on first use) and returns the new epoch and the next offset.
   * Every later commit carrying an older epoch is rejected.
   */
  fence(ref: PartitionRef): { readonly epoch: number; readonly next: number };
  /** The partition's row, or undefined when it was never fenced. */
  read(ref: PartitionRef): LedgerRow | undefined;
  /** Spec Commit / CommitRejected for one write, in its own transaction. */
  commit(write: LedgerWrite): CommitResult;
  /**
   * Group commit: every write in ONE transaction; results in the same order.
   * Each write is accepted or rejected on its own; a rejected write applies
   * nothing.  If any statement fails, the whole transaction rolls back and the
   * error is thrown (nothing of any write is applied).
   */
  commitMany(writes: readonly LedgerWrite[]): CommitResult[];
  /**
   * Optional: commitMany off the caller's event loop (the SQLite ledger runs it
   * on a worker thread, so the fsync does not block).  Same contract and errors
   * as commitMany; done is called exactly once, from the event loop or from
   * settle().  The consumer prefers it when present and keeps one in flight.
   */
  startCommitMany?(writes: readonly LedgerWrite[], done: (error: unknown, results?: CommitResult[]) => void): void;
  /**
   * With startCommitMany: blocks until every started commit is answered, their
   * done callbacks having run.  The consumer calls it before a Revoke, so that
   * no commit of the revoked holder lands unobserved after it.
   */
  settle?(): void;
  /** Dead letters of a partition with offset > after, ascending, at most limit. */
  deadLetters(ref: PartitionRef, after: number, limit: number): OutboxEntry[];
  /** The highest dead-lettered offset of a partition, or -1. */
  lastDeadLetter(ref: PartitionRef): number;
  close(): void;
}
