// The ledger's data types: the only durable consumer state (spec: ledger[p]).
// The calls on it are the port (port.ts); each backend has its own folder.
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

/**
 * One effect queued by a handler: a SQL statement run inside the ledger
 * transaction (the effect type of both SQL backends; each documents its
 * placeholders).
 */
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

/** A committed dead letter waiting in (or already relayed from) the outbox. */
export interface OutboxEntry extends DeadLetterEntry {
  readonly offset: number;
}
