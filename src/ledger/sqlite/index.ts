// The SQLite backend of the ledger port.

export { SqliteLedger, openSqliteLedger } from './ledger';
export {
  SCHEMA_VERSION, classifySqliteError, isRetriableSqliteCode, outcomeAt, committedRanges, exceptionalOffsets,
  type SqliteLedgerOptions, type ExceptionalOffset,
} from './store';
