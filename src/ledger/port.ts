// The ledger port: what the runtime, the relay, the service and the CLI see of
// a ledger, whatever the backend (src/ledger/sqlite/, src/ledger/postgres/).
//
// Every call is asynchronous: a server database answers over a socket, and
// the embedded SQLite backend runs its commits on a worker thread so the
// fsync never blocks the event loop.  A backend keeps the spec's acceptance
// test (CommitAccepted) inside its own transaction: a write applies only when
// the caller's epoch equals the row's epoch AND its expectedNext equals the
// row's next, and then applies whole, with its effects and dead letters.
//
// The lost answer.  With a server database the answer to a commit can be
// lost: the connection drops after COMMIT was sent, and the caller cannot
// know whether the transaction applied.  The backend then answers
// { status: 'unknown' } for every write of that commit; it never guesses.
// Resolving it is the core's job (spec LoseAnswer, then Recover): the caller
// reads the row with readSettled(), which answers only once the lost write
// has settled, applied or not, and the core decides from that row; the same
// write is never applied twice (spec/DCSM.tla says how).
//
// Errors.  A rejected promise carries a LedgerError (src/ledger/errors.ts).
// `retriable` says what the caller does: true, nothing of the call applied
// and the same call may succeed later (pause, back off, retry, never skip);
// false, the consumer stops with an error naming the partition and offset.
// A failing effect statement is a LedgerStatementError (topic, partition,
// offset) whose `retriable` is the backend's judgement of its cause: a
// deterministic failure (a syntax error, a constraint violation) is false.

import type { LedgerRow, LedgerWrite, OutboxEntry, PartitionRef, Statement } from './types';

/** What Assign's ledger step returns: the new epoch (a fencing token) and the partition's row after the fence. */
export interface Fenced {
  readonly epoch: number;
  /** The next offset to handle: every offset below it is committed. */
  readonly next: number;
}

/**
 * The answer to one write of a commit (spec: the answer the consumer receives
 * for WriteLedger): committed up to next, rejected with the row that refused
 * it, or unknown (the answer was lost; the write may or may not have applied).
 */
export type WriteResult =
  | { readonly status: 'committed'; readonly next: number }
  | { readonly status: 'rejected'; readonly reason: 'epoch' | 'next'; readonly ledger: LedgerRow }
  | { readonly status: 'unknown' };

/** The committed outcome of one offset (spec slot state of a committed offset). */
export type OffsetOutcome = 'Done' | 'DeadLettered' | 'Absent';

/** One accepted write: the offsets [first, next) of a partition, committed at epoch. */
export interface CommittedRange {
  readonly partition: number;
  readonly first: number;
  readonly next: number;
  readonly epoch: number;
}

/**
 * The ledger port.  E is the effect type the backend applies (SQL statements
 * for both SQL backends; each documents its placeholder dialect).
 */
export interface LedgerPort<E = Statement> {
  /** The backend's name, for errors, metrics and the service ('sqlite', 'postgres'). */
  readonly backend: string;
  /**
   * How many commit() calls the backend runs usefully at once, an integer
   * >= 1.  The runtime's ledger writer keeps up to this many group commits
   * in flight, each over partitions no other in-flight commit holds
   * (src/runtime/ledger-writer.ts): a backend must accept concurrent
   * commits over disjoint partitions without deadlock.  SQLite: 1 (its
   * commit thread runs one transaction at a time).  PostgreSQL: the pool's
   * connections but one, kept for fences and reads (src/ledger/postgres/).
   */
  readonly concurrentCommits: number;
  /**
   * Spec Assign's ledger step, in one transaction: increments the partition's
   * epoch (creating its row at next = 0 on first use) and returns the new
   * epoch and next.  Every later commit carrying an older epoch is rejected.
   */
  fence(ref: PartitionRef): Promise<Fenced>;
  /**
   * Group commit: every write in ONE transaction; results in the same order.
   * Each write is committed or rejected on its own; a rejected write applies
   * nothing.  If an effect statement fails, the whole transaction rolls back
   * and the promise rejects (LedgerStatementError names the offset).  A lost
   * answer is { status: 'unknown' } for every write.
   */
  commit(writes: readonly LedgerWrite<E>[]): Promise<WriteResult[]>;
  /** The partition's row, or undefined when it was never fenced. */
  read(ref: PartitionRef): Promise<LedgerRow | undefined>;
  /**
   * Command ReadLedger (spec Recover's read): the partition's row once no
   * write to it that was sent before this call is still unsettled -- a write
   * whose answer was lost has applied or has been dropped with its
   * connection, so the row tells which (spec WriteSettled).
   */
  readSettled(ref: PartitionRef): Promise<LedgerRow | undefined>;
  /** The committed outcome of one offset, undefined when no committed range covers it. */
  outcomeAt(ref: PartitionRef, offset: number): Promise<OffsetOutcome | undefined>;
  /** The committed ranges of a topic (of one partition when given), ascending. */
  committedRanges(topic: string, partition?: number): Promise<CommittedRange[]>;
  /** Dead letters of a partition with offset > after, ascending, at most limit. */
  deadLetters(ref: PartitionRef, after: number, limit: number): Promise<OutboxEntry[]>;
  /** The highest dead-lettered offset of a partition, or -1. */
  lastDeadLetter(ref: PartitionRef): Promise<number>;
  /** Waits for commits in flight, then releases connections and threads; idempotent. */
  close(): Promise<void>;
}
