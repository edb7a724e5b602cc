/**
 * htmqc: a Kafka consumer for Node.js whose consumer state machine is
 * specified in TLA+ (spec/DCSM.tla) and whose message effects are committed
 * exactly once through a ledger.
 *
 * ## What is exactly-once, and what is not
 *
 * Exactly once (never lost, never duplicated, across SIGKILL of consumers at
 * any point, broker restarts, rebalances and zombie members of an old
 * generation):
 * - the statements a handler queues with `tx.execute(sql, params)`: they run
 *   in ONE ledger transaction together with the partition's next offset, the
 *   committed range of offsets and the epoch check (the ledger issues a fencing
 *   epoch on every assignment and rejects commits of older epochs);
 * - the dead-letter outbox row of a record whose retries are spent, written
 *   in that same transaction; and its copy in the dead-letter topic, relayed
 *   with a Kafka transaction whose position is read from the topic itself.
 *
 * Not exactly once:
 * - the handler invocation itself: a handler may run more than once for one
 *   offset (retries, crashes, rebalances), so anything it does outside `tx`
 *   (HTTP calls, mails, other databases) is at-least-once; make it idempotent
 *   with `tx.idempotencyKey` (`topic/partition/offset`);
 * - the Kafka group offset: an advisory hint, committed after the ledger and
 *   possibly behind it; recovery always starts from the ledger's next.
 *
 * @example
 * ```ts
 * import { Kafka } from 'kafkajs';
 * import { createConsumer, openSqliteLedger } from 'htmqc';
 *
 * const ledger = openSqliteLedger('orders.db');
 * const consumer = createConsumer({
 *   kafka: new Kafka({ brokers: ['127.0.0.1:9092'] }),
 *   groupId: 'orders', topics: ['orders'], ledger,
 *   handler: async (message, tx) => {
 *     tx.execute('INSERT INTO orders (id, body) VALUES (?, ?)', [tx.idempotencyKey, message.value]);
 *   },
 *   maxRetries: 3, retryBackoff: 1000, deadLetterTopic: 'orders.dlq',
 * });
 * await consumer.start();
 * // ...
 * await consumer.stop();
 * await ledger.close();
 * ```
 *
 * @packageDocumentation
 */

import { HtmqcConsumer, type ConsumerObserver, type ConsumerSnapshot } from './runtime/consumer';
import type { ConsumerConfig } from './runtime/config';
import type { ConsumerFatalError } from './runtime/errors';

export type { ConsumerConfig, Handler, Message, Tx } from './runtime/config';
export { ConfigError, ConsumerFatalError, ConsumerStateError, HtmqcError, TransactionClosedError, type FatalPosition } from './runtime/errors';
export { DLQ_HEADERS } from './runtime/relay';
export type {
  ConsumerSnapshot, ConsumerCounters, PartitionView, ConsumerObserver, CommittedWrite, LedgerCommitEvent,
} from './runtime/consumer';
export { startStateService, type StateService, type StateServiceOptions } from './service';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './metrics';
export {
  openSqliteLedger, SqliteLedger, openPostgresLedger, PostgresStatementError, LedgerError, LedgerBusyError, LedgerIoError, LedgerStatementError, LedgerSchemaError,
  LedgerArgumentError, OUTCOME_ABSENT, OUTCOME_DEAD_LETTERED, OUTCOME_DONE, outcomeAt, committedRanges, exceptionalOffsets,
  type SqliteLedgerOptions, type PostgresLedger, type PostgresLedgerOptions, type PostgresLedgerStats, type OffsetOutcome, type CommittedRange, type ExceptionalOffset, type LedgerPort, type Fenced,
  type WriteResult, type LedgerWrite, type LedgerRow, type Outcome,
  type PartitionRef, type Statement, type DeadLetterEntry, type OutboxEntry,
} from './ledger';

/** A running (or runnable) htmqc consumer. */
export interface HtmqcConsumerHandle {
  /** Connects, joins the group and starts consuming (resolves after the first group join). */
  start(): Promise<void>;
  /**
   * Graceful stop: stops fetching and starting handlers, waits up to
   * `stopTimeoutMs` for running handlers (abandoning them after that: their
   * records are redone by the next holder), commits every finished record to
   * the ledger, commits the advisory group offsets and leaves the group.
   * The ledger is not closed: it belongs to the caller.
   */
  stop(): Promise<void>;
  /** Held partitions, counters and the core's state; cheap, never blocks the consumer. */
  snapshot(): ConsumerSnapshot;
  /** Adds an observer of transitions and ledger commits; returns the function that removes it. */
  observe(observer: ConsumerObserver): () => void;
  /** Whether transitions are observable (config.transitions or config.trace). */
  readonly transitions: boolean;
  /**
   * Resolves once the consumer has stopped, never rejects: with undefined
   * after stop(), or with the ConsumerFatalError that stopped it on its own
   * (a non-retriable ledger error; its message names the topic, partition
   * and offset, and onError received it first).  Await it next to your own
   * shutdown signal to learn that the consumer ended.
   */
  readonly stopped: Promise<ConsumerFatalError | undefined>;
}

/**
 * Creates a consumer.  The configuration is validated here: an invalid field
 * throws {@link ConfigError} whose `field` names it.  Nothing connects until
 * `start()`.
 */
export function createConsumer(config: ConsumerConfig): HtmqcConsumerHandle {
  const consumer = new HtmqcConsumer(config);
  return {
    start: () => consumer.start(),
    stop: () => consumer.stop(),
    snapshot: () => consumer.snapshot(),
    observe: (observer) => consumer.observe(observer),
    transitions: consumer.config.transitions || consumer.config.trace !== undefined,
    stopped: consumer.stopped,
  };
}
