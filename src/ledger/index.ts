// The ledger interface and its SQLite backend.

export * from './types';
export * from './errors';
export { SqliteLedger, openSqliteLedger, classifySqliteError, SCHEMA_VERSION, type SqliteLedgerOptions } from './sqlite';
