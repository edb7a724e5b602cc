// The consumer's public configuration and its validation.  Every check names
// the field it rejects (ConfigError.field), before anything connects.

import type { ConsumerConfig as KafkaConsumerConfig, IHeaders, Kafka } from 'kafkajs';
import { MAX_RETRIES_LIMIT, MAX_WINDOW } from '../core';

/** maxInFlightPerPartition when the config leaves it out (spec Window per partition). */
export const DEFAULT_MAX_IN_FLIGHT_PER_PARTITION = 1000;
import type { LedgerPort, Statement } from '../ledger';
import { describeValue, unknownKeys } from '../util/options';
import { ConfigError } from './errors';

/** Every key ConsumerConfig declares; any other key is refused (a typo would otherwise keep a default). */
export const CONSUMER_CONFIG_KEYS: readonly (keyof ConsumerConfig)[] = [
  'kafka', 'groupId', 'topics', 'ledger', 'handler', 'maxInFlightPerPartition', 'maxRetries', 'retryBackoff',
  'deadLetterTopic', 'trace', 'transitions', 'core', 'stopTimeoutMs', 'brokerCommitIntervalMs', 'ledgerRetryBackoffMs',
  'consumerOptions', 'onError',
];

/**
 * The keys of ConsumerConfig that are plain data, so a config file can hold
 * them (`htmqc run`); validateSettings checks exactly these.  The others are
 * objects or functions a program builds (kafka, ledger, handler, onError,
 * consumerOptions) or a switch a host decides (transitions).
 */
export const CONSUMER_SETTING_KEYS = [
  'groupId', 'topics', 'maxInFlightPerPartition', 'maxRetries', 'retryBackoff', 'deadLetterTopic', 'trace', 'core',
  'stopTimeoutMs', 'brokerCommitIntervalMs', 'ledgerRetryBackoffMs',
] as const satisfies readonly (keyof ConsumerConfig)[];

export type ConsumerSettings = Pick<NormalisedConfig, (typeof CONSUMER_SETTING_KEYS)[number]>;

/** A consumed record as the handler sees it. */
export interface Message {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset (below 2^53). */
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
  /** The record's timestamp as kafkajs reports it (ms since the epoch, a string). */
  readonly timestamp: string;
}

/**
 * The transaction context of one handler run.  Statements queued with
 * `execute` are the message's effects: they run inside the ledger transaction
 * that also records the offset, so they are committed exactly once.
 */
export interface Tx {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** 1 on the first run, 2 on the first retry, ... */
  readonly attempt: number;
  /**
   * `topic/partition/offset`: stable across retries, crashes and rebalances.
   * Use it to make work done OUTSIDE the ledger idempotent (such work is
   * at-least-once: a handler may run more than once for one offset).
   */
  readonly idempotencyKey: string;
  /** Queues one SQL statement to run in the ledger transaction with the offset. */
  execute(sql: string, params?: readonly unknown[]): void;
}

/**
 * Handles one record.  Resolve to commit the queued effects; throw to fail
 * (the effects of a failed run are dropped, and the record is retried, then
 * dead-lettered).  Records of one partition are handled in offset order, one
 * at a time; partitions run in parallel.
 */
export type Handler = (message: Message, tx: Tx) => Promise<void> | void;

export interface ConsumerConfig {
  /** A kafkajs client; the consumer (and the dead-letter producers) are created from it. */
  readonly kafka: Kafka;
  /** The Kafka consumer group. */
  readonly groupId: string;
  /** Topics to consume (subscribed from the ledger's position, never from the broker offset). */
  readonly topics: readonly string[];
  /**
   * Where effects and offsets are committed together (e.g. openSqliteLedger(path)):
   * any backend of the ledger port whose effects are SQL statements.
   */
  readonly ledger: LedgerPort<Statement>;
  readonly handler: Handler;
  /** Spec Window: records fetched but not yet committed per partition (default 1000). */
  readonly maxInFlightPerPartition?: number;
  /** Spec MaxRetries: retries after the first failure before dead-lettering (default 3). */
  readonly maxRetries?: number;
  /** Delay before each retry of a failed record, in ms (default 1000). */
  readonly retryBackoff?: number;
  /**
   * Topic that receives dead letters (must exist).  Without it dead letters
   * are still committed to the ledger's outbox, but nothing relays them.
   */
  readonly deadLetterTopic?: string;
  /** Path of this process's NDJSON trace file (trace-check/SCHEMA.md); off when absent. */
  readonly trace?: string;
  /**
   * Keep the core's transition records on so that observers (consumer.observe,
   * the gRPC WatchTransitions stream) receive every spec action (default
   * false: transitions are then not observable, and cost nothing).
   */
  readonly transitions?: boolean;
  /** Which DCSM core: default HTMQC_CORE, else 'native' where its addon loads, else 'ts' (with a warning). */
  readonly core?: 'ts' | 'native';
  /** How long stop() waits for running handlers before abandoning them, in ms (default 10000). */
  readonly stopTimeoutMs?: number;
  /** How often the advisory Kafka group offset is committed, in ms (default 1000). */
  readonly brokerCommitIntervalMs?: number;
  /** First delay after a ledger error; doubles up to 5 s (default 50). */
  readonly ledgerRetryBackoffMs?: number;
  /** kafkajs consumer options (groupId is always the one above). */
  readonly consumerOptions?: Partial<Omit<KafkaConsumerConfig, 'groupId'>>;
  /**
   * Receives errors the consumer recovers from (ledger retries, relay and
   * broker-commit failures), and once the ConsumerFatalError that stops it.
   */
  readonly onError?: (error: unknown) => void;
}

export interface NormalisedConfig {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly ledger: LedgerPort<Statement>;
  readonly handler: Handler;
  readonly maxInFlightPerPartition: number;
  readonly maxRetries: number;
  readonly retryBackoff: number;
  readonly deadLetterTopic: string | undefined;
  readonly trace: string | undefined;
  readonly transitions: boolean;
  readonly core: 'ts' | 'native' | undefined;
  readonly stopTimeoutMs: number;
  readonly brokerCommitIntervalMs: number;
  readonly ledgerRetryBackoffMs: number;
  readonly consumerOptions: Partial<Omit<KafkaConsumerConfig, 'groupId'>>;
  readonly onError: (error: unknown) => void;
}

function integer(field: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `must be an integer in [${min}, ${max}], got ${describeValue(v)}`);
  }
  return v;
}

function nonEmptyString(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(field, `must be a non-empty string, got ${describeValue(v)}`);
  return v;
}

export function validateConfig(config: ConsumerConfig): NormalisedConfig {
  if (config === null || typeof config !== 'object') throw new ConfigError('config', 'must be an object');
  const c = config as unknown as Record<string, unknown>;
  const unknown = unknownKeys(c, CONSUMER_CONFIG_KEYS);
  if (unknown.length > 0) throw new ConfigError(unknown[0]!.key, unknown[0]!.message);
  const kafka = c['kafka'] as { consumer?: unknown; producer?: unknown } | undefined;
  if (kafka === null || typeof kafka !== 'object' || typeof kafka.consumer !== 'function' || typeof kafka.producer !== 'function') {
    throw new ConfigError('kafka', 'must be a kafkajs Kafka instance');
  }
  const settings = validateSettings(c);
  const ledger = c['ledger'] as Partial<LedgerPort<Statement>> | undefined;
  const calls = ['fence', 'commit', 'read', 'deadLetters', 'lastDeadLetter'] as const;
  if (ledger === null || typeof ledger !== 'object' || calls.some((k) => typeof ledger[k] !== 'function')) {
    throw new ConfigError('ledger', `must implement the ledger port (${calls.join(', ')}; src/ledger/port.ts)`);
  }
  const concurrentCommits: unknown = ledger.concurrentCommits;
  if (typeof concurrentCommits !== 'number' || !Number.isInteger(concurrentCommits) || concurrentCommits < 1) {
    throw new ConfigError('ledger.concurrentCommits',
      `must be an integer >= 1 (how many commits the backend runs at once; src/ledger/port.ts), got ${describeValue(concurrentCommits)}`);
  }
  if (typeof c['handler'] !== 'function') throw new ConfigError('handler', 'must be a function (message, tx) => Promise<void>');
  const transitions = c['transitions'] ?? false;
  if (typeof transitions !== 'boolean') throw new ConfigError('transitions', `must be a boolean, got ${describeValue(transitions)}`);
  const consumerOptions = c['consumerOptions'] ?? {};
  if (consumerOptions === null || typeof consumerOptions !== 'object') throw new ConfigError('consumerOptions', 'must be an object');
  const onError = c['onError'] ?? (() => undefined);
  if (typeof onError !== 'function') throw new ConfigError('onError', 'must be a function');
  return {
    ...settings,
    kafka: config.kafka,
    ledger: config.ledger,
    handler: config.handler,
    transitions,
    consumerOptions: consumerOptions as Partial<Omit<KafkaConsumerConfig, 'groupId'>>,
    onError: onError as (error: unknown) => void,
  };
}

/**
 * Checks the plain-data settings (CONSUMER_SETTING_KEYS) of `c` and fills in
 * their defaults; other keys of `c` are not looked at.  validateConfig calls
 * it, and so does `htmqc run` on its config file before it opens anything.
 */
export function validateSettings(c: Record<string, unknown>): ConsumerSettings {
  const groupId = nonEmptyString('groupId', c['groupId']);
  const topics = c['topics'];
  if (!Array.isArray(topics) || topics.length === 0) throw new ConfigError('topics', `must be a non-empty array of topic names, got ${describeValue(topics)}`);
  topics.forEach((t, i) => nonEmptyString(`topics[${i}]`, t));
  if (new Set(topics).size !== topics.length) throw new ConfigError('topics', 'must not repeat a topic');
  const deadLetterTopic = c['deadLetterTopic'] === undefined ? undefined : nonEmptyString('deadLetterTopic', c['deadLetterTopic']);
  if (deadLetterTopic !== undefined && topics.includes(deadLetterTopic)) {
    throw new ConfigError('deadLetterTopic', 'must not be one of the consumed topics');
  }
  const trace = c['trace'] === undefined ? undefined : nonEmptyString('trace', c['trace']);
  const core = c['core'];
  if (core !== undefined && core !== 'ts' && core !== 'native') throw new ConfigError('core', `must be 'ts' or 'native', got ${describeValue(core)}`);
  return {
    groupId,
    topics: [...(topics as string[])],
    maxInFlightPerPartition: integer('maxInFlightPerPartition', c['maxInFlightPerPartition'], DEFAULT_MAX_IN_FLIGHT_PER_PARTITION, 1, MAX_WINDOW),
    maxRetries: integer('maxRetries', c['maxRetries'], 3, 0, MAX_RETRIES_LIMIT),
    retryBackoff: integer('retryBackoff', c['retryBackoff'], 1000, 0, 0x7fffffff),
    deadLetterTopic,
    trace,
    core: core as 'ts' | 'native' | undefined,
    stopTimeoutMs: integer('stopTimeoutMs', c['stopTimeoutMs'], 10000, 0, 0x7fffffff),
    brokerCommitIntervalMs: integer('brokerCommitIntervalMs', c['brokerCommitIntervalMs'], 1000, 0, 0x7fffffff),
    ledgerRetryBackoffMs: integer('ledgerRetryBackoffMs', c['ledgerRetryBackoffMs'], 50, 1, 60000),
  };
}
