// The JSON shapes of the conformance protocol (PROTOCOL.md) and of the
// committed vectors (conformance/vectors/), shared by the generator, the
// runner and the Node adapters.

export const PROTOCOL_VERSION = 1;
export const VECTOR_FORMAT = 'htmqc-conformance-vectors/1';

/** Configuration sent with `reset` (spec constants and the implementation's timing). */
export interface ResetConfig {
  /** Spec Window: bound of the in-flight window per partition. */
  readonly window: number;
  /** Spec MaxRetries: retries after the first failure before dead-lettering. */
  readonly maxRetries: number;
  /** Ticks between HandlerFailed and the Tick at which the Retry is due. */
  readonly retryBackoff: number;
  /** Partitions are 0..partitions-1. */
  readonly partitions: number;
}

export type Input =
  | { readonly kind: 'Assigned'; readonly p: number; readonly epoch: number; readonly ledgerNext: number; readonly gen: number }
  | { readonly kind: 'Revoked'; readonly p: number }
  | { readonly kind: 'Fetched'; readonly p: number; readonly base: number; readonly count: number }
  | { readonly kind: 'HandlerSucceeded'; readonly p: number; readonly o: number }
  | { readonly kind: 'HandlerFailed'; readonly p: number; readonly o: number }
  | { readonly kind: 'LedgerCommitted'; readonly p: number; readonly next: number }
  | { readonly kind: 'LedgerRejected'; readonly p: number }
  | { readonly kind: 'LedgerUnknown'; readonly p: number }
  | { readonly kind: 'LedgerRead'; readonly p: number; readonly epoch: number; readonly next: number }
  | { readonly kind: 'Tick'; readonly now: number };

export type Command =
  | { readonly kind: 'RunHandler'; readonly p: number; readonly o: number }
  | { readonly kind: 'WriteLedger'; readonly p: number; readonly epoch: number; readonly expectedNext: number; readonly upTo: number }
  | { readonly kind: 'CommitBroker'; readonly p: number; readonly offset: number }
  | { readonly kind: 'Pause'; readonly p: number }
  | { readonly kind: 'Resume'; readonly p: number }
  | { readonly kind: 'Seek'; readonly p: number; readonly offset: number }
  | { readonly kind: 'DeadLetter'; readonly p: number; readonly o: number }
  | { readonly kind: 'ReadLedger'; readonly p: number; readonly epoch: number };

export const SLOT_STATES = ['Pending', 'Processing', 'Done', 'Failed', 'DeadLettered'] as const;
export type SlotState = typeof SLOT_STATES[number];

export interface Slot { readonly st: SlotState; readonly tries: number }

/** What the process knows of its write in flight: Unknown from LedgerUnknown to LedgerRead. */
export const ANSWERS = ['NoAnswer', 'Unknown'] as const;
export type Answer = typeof ANSWERS[number];

/** One held partition: the spec's local[c][p] with p a number. */
export interface HeldPartition {
  readonly p: number;
  readonly epoch: number;
  readonly gen: number;
  readonly base: number;
  readonly win: readonly Slot[];
  /** Absent means NoAnswer (PROTOCOL.md, "Observable state"). */
  readonly answer?: Answer;
}

/** The observable state: the held partitions, ascending by p. */
export interface ObservableState { readonly partitions: readonly HeldPartition[] }

/** Error codes of an `error` reply to `step` (PROTOCOL.md, "Rejected inputs"). */
export const ERROR_CODES = [
  'InvalidArgument', 'UnheldPartition', 'PartitionAlreadyHeld', 'StaleEpoch', 'OffsetOutsideWindow',
  'HandlerNotRunning', 'NoLedgerWriteInFlight', 'AnswerLost', 'AnswerNotLost', 'LedgerNextMismatch', 'ClockWentBackwards',
] as const;
export type ErrorCode = typeof ERROR_CODES[number];

// ------------------------------------------------------------ vectors --

/** First line of a vector file. */
export interface VectorHeader {
  readonly format: string;
  readonly header: string;
  readonly source: string;
  readonly config: ResetConfig;
  readonly graph: {
    readonly states: number;
    readonly edges: number;
    /** Every action name that labels an edge of the graph. */
    readonly actions: readonly string[];
  };
  readonly suite: {
    readonly vectors: number;
    readonly steps: number;
    readonly probes: number;
    readonly edgesCovered: number;
    readonly actionsCovered: number;
  };
}

/**
 * One line per step.  op:
 *  - step:  send input; expect commands (or error), then state;
 *  - reset: the spec's Crash of the tested process: send reset, then state;
 *  - state: no input (only harness actions happened): expect state.
 */
export interface VectorStep {
  /** Vector number, from 1. */
  readonly v: number;
  /** Step number within the vector, from 1. */
  readonly n: number;
  readonly op: 'step' | 'reset' | 'state';
  /** The spec actions this step stands for, harness actions first. */
  readonly spec: readonly string[];
  /** Ids of the graph edges those actions are (coverage accounting). */
  readonly edges: readonly number[];
  /** For a probe: the spec guard that makes the input invalid here, or why nothing may happen. */
  readonly probe?: string;
  readonly input?: Input;
  readonly expect: {
    readonly commands?: readonly Command[];
    readonly error?: ErrorCode;
    /** Absent: the same as the expected state of the step before (nothing held before step 1). */
    readonly state?: ObservableState;
  };
}

// -------------------------------------------------------- formatting --

export function formatInput(i: Input): string {
  switch (i.kind) {
    case 'Assigned': return `Assigned(p=${i.p}, epoch=${i.epoch}, ledgerNext=${i.ledgerNext}, gen=${i.gen})`;
    case 'Revoked': return `Revoked(p=${i.p})`;
    case 'Fetched': return `Fetched(p=${i.p}, base=${i.base}, count=${i.count})`;
    case 'HandlerSucceeded': return `HandlerSucceeded(p=${i.p}, o=${i.o})`;
    case 'HandlerFailed': return `HandlerFailed(p=${i.p}, o=${i.o})`;
    case 'LedgerCommitted': return `LedgerCommitted(p=${i.p}, next=${i.next})`;
    case 'LedgerRejected': return `LedgerRejected(p=${i.p})`;
    case 'LedgerUnknown': return `LedgerUnknown(p=${i.p})`;
    case 'LedgerRead': return `LedgerRead(p=${i.p}, epoch=${i.epoch}, next=${i.next})`;
    case 'Tick': return `Tick(now=${i.now})`;
  }
}

export function formatCommand(c: Command): string {
  switch (c.kind) {
    case 'RunHandler': return `RunHandler(${c.p}, ${c.o})`;
    case 'WriteLedger': return `WriteLedger(${c.p}, epoch=${c.epoch}, expectedNext=${c.expectedNext}, upTo=${c.upTo})`;
    case 'CommitBroker': return `CommitBroker(${c.p}, ${c.offset})`;
    case 'Pause': return `Pause(${c.p})`;
    case 'Resume': return `Resume(${c.p})`;
    case 'Seek': return `Seek(${c.p}, ${c.offset})`;
    case 'DeadLetter': return `DeadLetter(${c.p}, ${c.o})`;
    case 'ReadLedger': return `ReadLedger(${c.p}, epoch=${c.epoch})`;
  }
}

export function formatState(s: ObservableState): string {
  if (s.partitions.length === 0) return 'nothing held';
  return s.partitions.map((h) =>
    `p${h.p}: epoch ${h.epoch}, gen ${h.gen}, base ${h.base}, win <<${h.win.map((x) => `${x.st}/${x.tries}`).join(', ')}>>` +
    (h.answer === undefined || h.answer === 'NoAnswer' ? '' : `, answer ${h.answer}`),
  ).join('; ');
}
