// The kafkajs runtime: executes the DCSM core's commands against Kafka, the
// handler pool and the ledger.

export * from './config';
export * from './errors';
export {
  HtmqcConsumer, type ConsumerSnapshot, type ConsumerCounters, type PartitionView, type ConsumerObserver, type CommittedWrite,
  type LedgerCommitEvent,
} from './consumer';
export { DeadLetterRelay, DLQ_HEADERS } from './relay';
export { TraceFile } from './trace-file';
