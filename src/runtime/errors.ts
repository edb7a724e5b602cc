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
