// The PostgreSQL ledger's own error class, in a module that does not load the
// `pg` driver, so the package entry can export it to every user.

import { LedgerStatementError } from '../errors';

/** A LedgerStatementError whose `retriable` follows the SQLSTATE (errors.ts's default is true). */
export class PostgresStatementError extends LedgerStatementError {
  override readonly retriable: boolean;
  constructor(message: string, topic: string, partition: number, offset: number, retriable: boolean, cause?: unknown) {
    super(message, topic, partition, offset, cause);
    this.retriable = retriable;
  }
}
