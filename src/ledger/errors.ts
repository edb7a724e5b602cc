// Typed ledger errors.  Classify by class (or `retriable`), never by message.

export interface LedgerErrorOptions {
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

/** Root of every error a ledger throws. */
export class LedgerError extends Error {
  /** True when the same call may succeed later (a lock, an I/O hiccup). */
  readonly retriable: boolean;

  constructor(message: string, options: LedgerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** Another process holds the database lock beyond busy_timeout (SQLITE_BUSY / SQLITE_LOCKED). */
export class LedgerBusyError extends LedgerError {
  constructor(message: string, cause?: unknown) { super(message, { retriable: true, cause }); }
}

/** The storage failed (SQLITE_IOERR, SQLITE_FULL, ...); retried with backoff. */
export class LedgerIoError extends LedgerError {
  constructor(message: string, cause?: unknown) { super(message, { retriable: true, cause }); }
}

/**
 * A handler's effect statement failed inside the ledger transaction; the whole
 * transaction was rolled back.  `retriable` is the backend's judgement of the
 * cause: a lock or an I/O failure inside the statement may pass (retried with
 * backoff); a statement that fails deterministically (a syntax error, a
 * constraint violation) fails every time, so the consumer stops, naming the
 * offset, instead of stalling its partition for ever.
 */
export class LedgerStatementError extends LedgerError {
  constructor(
    message: string,
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    cause?: unknown,
    retriable = false,
  ) { super(message, { retriable, cause }); }
}

/** The database holds a schema this version does not know. */
export class LedgerSchemaError extends LedgerError {}

/** A write that breaks the ledger's contract (wrong outcome count, upTo <= expectedNext). */
export class LedgerArgumentError extends LedgerError {}
