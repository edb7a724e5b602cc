// The vocabulary of the DCSM, spelled as in spec/DCSM.tla.
//
// The numeric codes below are a wire contract shared with the native core
// (native/src/core/codes.h) and with the trace schema (trace-check/SCHEMA.md):
// change them in all three places or in none.

/** Per-offset states of the in-flight window (spec: OffsetStates). */
export enum OffsetState {
  Pending = 0,
  Processing = 1,
  Done = 2,
  Failed = 3,
  DeadLettered = 4,
}

export const OFFSET_STATE_NAMES: readonly string[] = ['Pending', 'Processing', 'Done', 'Failed', 'DeadLettered'];

/** Spec: Finished(s) == s.st \in {Done, DeadLettered}. */
export function isFinished(st: OffsetState): boolean {
  return st === OffsetState.Done || st === OffsetState.DeadLettered;
}

// ---------------------------------------------------------------- inputs --

export interface Assigned { readonly kind: 'Assigned'; readonly p: number; readonly epoch: number; readonly ledgerNext: number; readonly gen: number }
export interface Revoked { readonly kind: 'Revoked'; readonly p: number }
export interface Fetched { readonly kind: 'Fetched'; readonly p: number; readonly base: number; readonly count: number }
export interface HandlerSucceeded { readonly kind: 'HandlerSucceeded'; readonly p: number; readonly o: number }
export interface HandlerFailed { readonly kind: 'HandlerFailed'; readonly p: number; readonly o: number }
export interface LedgerCommitted { readonly kind: 'LedgerCommitted'; readonly p: number; readonly next: number }
export interface LedgerRejected { readonly kind: 'LedgerRejected'; readonly p: number }
/** Spec LoseAnswer: the connection of the write in flight dropped; its outcome is unknown. */
export interface LedgerUnknown { readonly kind: 'LedgerUnknown'; readonly p: number }
/** Spec Recover: the ledger row of p (its epoch and next), read after the lost write settled. */
export interface LedgerRead { readonly kind: 'LedgerRead'; readonly p: number; readonly epoch: number; readonly next: number }
export interface Tick { readonly kind: 'Tick'; readonly now: number }

export type Input =
  | Assigned | Revoked | Fetched | HandlerSucceeded | HandlerFailed
  | LedgerCommitted | LedgerRejected | LedgerUnknown | LedgerRead | Tick;

export const Inputs = {
  Assigned: (p: number, epoch: number, ledgerNext: number, gen: number): Assigned => ({ kind: 'Assigned', p, epoch, ledgerNext, gen }),
  Revoked: (p: number): Revoked => ({ kind: 'Revoked', p }),
  Fetched: (p: number, base: number, count: number): Fetched => ({ kind: 'Fetched', p, base, count }),
  HandlerSucceeded: (p: number, o: number): HandlerSucceeded => ({ kind: 'HandlerSucceeded', p, o }),
  HandlerFailed: (p: number, o: number): HandlerFailed => ({ kind: 'HandlerFailed', p, o }),
  LedgerCommitted: (p: number, next: number): LedgerCommitted => ({ kind: 'LedgerCommitted', p, next }),
  LedgerRejected: (p: number): LedgerRejected => ({ kind: 'LedgerRejected', p }),
  LedgerUnknown: (p: number): LedgerUnknown => ({ kind: 'LedgerUnknown', p }),
  LedgerRead: (p: number, epoch: number, next: number): LedgerRead => ({ kind: 'LedgerRead', p, epoch, next }),
  Tick: (now: number): Tick => ({ kind: 'Tick', now }),
} as const;

// -------------------------------------------------------------- commands --

/** Command opcodes; the packed form is [op, p, a, b, c] (see commands.ts). */
export enum CommandOp {
  RunHandler = 1,
  WriteLedger = 2,
  CommitBroker = 3,
  Pause = 4,
  Resume = 5,
  Seek = 6,
  DeadLetter = 7,
  ReadLedger = 8,
}

export type Command =
  | { readonly kind: 'RunHandler'; readonly p: number; readonly o: number }
  | { readonly kind: 'WriteLedger'; readonly p: number; readonly epoch: number; readonly expectedNext: number; readonly upTo: number }
  | { readonly kind: 'CommitBroker'; readonly p: number; readonly offset: number }
  | { readonly kind: 'Pause'; readonly p: number }
  | { readonly kind: 'Resume'; readonly p: number }
  | { readonly kind: 'Seek'; readonly p: number; readonly offset: number }
  | { readonly kind: 'DeadLetter'; readonly p: number; readonly o: number }
  | { readonly kind: 'ReadLedger'; readonly p: number; readonly epoch: number };

// ---------------------------------------------------------------- config --

export interface CoreConfig {
  /** Spec: Window.  Bound of the in-flight window of each partition (1..2^20). */
  readonly maxInFlightPerPartition: number;
  /** Spec: MaxRetries.  Retries after the first failure before dead-lettering (0..254). */
  readonly maxRetries: number;
  /** Delay between a Fail and its Retry, in the units of Tick(now). */
  readonly retryBackoffMs: number;
  /** Partitions are the integers 0..maxPartitions-1 (default 4096). */
  readonly maxPartitions?: number;
}

export const DEFAULT_MAX_PARTITIONS = 4096;
export const MAX_WINDOW = 1 << 20;
export const MAX_RETRIES_LIMIT = 254;

// --------------------------------------------------------------- answers --

/**
 * Spec Answers: what the core knows of the outcome of its write in flight, in
 * the spec's order (the numeric codes are the native snapshot's).  Committed
 * and Rejected last only inside the step that takes them (LedgerCommitted,
 * LedgerRejected, LedgerRead), so a snapshot shows NoAnswer or Unknown.
 */
export enum Answer {
  NoAnswer = 0,
  Committed = 1,
  Rejected = 2,
  Unknown = 3,
}

export const ANSWER_NAMES = ['NoAnswer', 'Committed', 'Rejected', 'Unknown'] as const;

/** The answers a snapshot can show. */
export type SnapshotAnswer = 'NoAnswer' | 'Unknown';

// -------------------------------------------------------------- snapshots --

export interface SlotSnapshot { readonly st: OffsetState; readonly tries: number }

/** A held partition: the spec's local[c][p] plus the core's bookkeeping. */
export interface PartitionSnapshot {
  readonly p: number;
  readonly epoch: number;
  readonly gen: number;
  readonly base: number;
  /** Spec: Position(c, p) = base + Len(win). */
  readonly pos: number;
  /** Spec: FinishedPrefixLen(win); the head slot is win[head] when head < Len(win). */
  readonly head: number;
  readonly paused: boolean;
  /** upTo of the WriteLedger awaiting its answer, 0 when none is in flight. */
  readonly writeUpTo: number;
  /** Spec local[c][p].answer: Unknown after LedgerUnknown until LedgerRead, else NoAnswer. */
  readonly answer: SnapshotAnswer;
  /** Due time of the Retry of a Failed head with retries left, else 0. */
  readonly retryDueAt: number;
  readonly win: readonly SlotSnapshot[];
}

export interface CoreSnapshot {
  readonly now: number;
  /** Number of trace records emitted so far (the last record's seq). */
  readonly seq: number;
  /** Held partitions, ascending by p. */
  readonly partitions: readonly PartitionSnapshot[];
  /** [p, highest epoch ever assigned to p in this process], ascending by p. */
  readonly fences: ReadonlyArray<readonly [number, number]>;
}
