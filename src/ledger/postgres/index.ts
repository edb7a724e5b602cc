// The PostgreSQL ledger: openPostgresLedger and what its callers may need.

export {
  PostgresLedger, PostgresStatementError, openPostgresLedger,
  type PostgresLedgerOptions, type PostgresLedgerStats,
} from './postgres';
export { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION, classifyPostgresError } from './sql';
