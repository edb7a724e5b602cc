// The ES module entry of htmqc (package.json "exports" -> "import"): the
// CommonJS build re-exported by name, so that `import` and `require` share
// one module instance (one native addon, one set of error classes:
// `instanceof` holds across both).  test/unit/package-entry.test.ts fails when
// a name of dist/src/index.js is missing here.
import htmqc from '../dist/src/index.js';

export const {
  ConfigError, ConsumerFatalError, ConsumerStateError, HtmqcError, TransactionClosedError, DLQ_HEADERS,
  startStateService, startMetricsServer,
  openSqliteLedger, SqliteLedger, openPostgresLedger, PostgresStatementError,
  LedgerError, LedgerBusyError, LedgerIoError, LedgerStatementError, LedgerSchemaError, LedgerArgumentError,
  OUTCOME_ABSENT, OUTCOME_DEAD_LETTERED, OUTCOME_DONE, outcomeAt, committedRanges, exceptionalOffsets,
  createConsumer,
} = htmqc;
