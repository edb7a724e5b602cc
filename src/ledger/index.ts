// The ledger interface and its SQLite backend.

export * from './types';
export * from './errors';
export type { LedgerPort, Fenced, WriteResult } from './port';
export {
  SqliteLedger, openSqliteLedger, classifySqliteError, SCHEMA_VERSION, outcomeAt, committedRanges, exceptionalOffsets,
  type SqliteLedgerOptions, type OffsetOutcome, type CommittedRange, type ExceptionalOffset,
} from './sqlite';
