// Typed errors of the runtime.  Classify by class, never by message.

/** Root of the errors the consumer runtime throws or reports. */
export class HtmqcError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** createConsumer was given an invalid configuration; `field` names the offending field. */
export class ConfigError extends HtmqcError {
  constructor(readonly field: string, message: string) {
    super(`invalid consumer configuration: ${field} ${message}`);
  }
}

/** tx.execute was called after the handler's promise settled. */
export class TransactionClosedError extends HtmqcError {}

/** start() on a started consumer, or a call after stop(). */
export class ConsumerStateError extends HtmqcError {}

/** Where a fatal ledger error struck: the partition, and the offset of the write or statement (undefined for a fence). */
export interface FatalPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number | undefined;
}

/**
 * The consumer stopped because the ledger failed in a way a retry cannot
 * mend (a non-retriable LedgerError: a schema or argument error, a
 * deterministic effect statement failure).  The message names the topic,
 * partition and offset; `cause` is the ledger's error.  Reported once through
 * onError, and the value HtmqcConsumerHandle.stopped resolves with.
 */
export class ConsumerFatalError extends HtmqcError implements FatalPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number | undefined;

  constructor(at: FatalPosition, what: string, cause: unknown) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      `consumer stopped: ${what} of topic ${at.topic} partition ${at.partition}` +
      `${at.offset === undefined ? '' : ` offset ${at.offset}`} failed and cannot be retried: ${detail}`,
      { cause });
    this.topic = at.topic;
    this.partition = at.partition;
    this.offset = at.offset;
  }
}

/**
 * The ledger writer was about to send a write for a partition that a group
 * commit in flight already holds.  The core keeps one write per partition
 * in flight, so this is a bug of the runtime, never of the ledger: the
 * second write's next check would race the first's commit (a rejection
 * that drops the partition, or answers applied out of order), and a lost
 * answer could no longer be decided from the row (spec Recover assumes only
 * this write of its epoch moved it).  The writer halts and the consumer
 * stops (ConsumerFatalError, with this as its cause).
 */
export class OverlappingCommitError extends HtmqcError {
  constructor(readonly topic: string, readonly partition: number, readonly expectedNext: number) {
    super(`ledger writer: the write of ${topic}/${partition} from offset ${expectedNext} was about to be sent while a group commit ` +
      `holding ${topic}/${partition} is in flight; two commits in flight must never share a partition`);
  }
}
