// openPostgresLedger as the package entry exports it: the `pg` driver (and
// the backend that needs it) is required on the first call, so a process that
// only ever opens a SQLite ledger never loads it.  Types are erased at
// compile time and cost nothing.

import type { PostgresLedger, PostgresLedgerOptions } from './postgres';

export type { PostgresLedger, PostgresLedgerOptions, PostgresLedgerStats } from './postgres';
export { PostgresStatementError } from './postgres/errors';

/** Opens a PostgreSQL ledger: validates the options, connects, creates or checks the schema (src/ledger/postgres/README.md). */
export function openPostgresLedger(options: PostgresLedgerOptions): Promise<PostgresLedger> {
  let backend: typeof import('./postgres');
  try {
    backend = require('./postgres') as typeof import('./postgres');
  } catch (e) {
    return Promise.reject(e);
  }
  return backend.openPostgresLedger(options);
}
