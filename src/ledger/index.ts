// The ledger port and its backends.

export * from './types';
export * from './errors';
export type { LedgerPort, Fenced, WriteResult, OffsetOutcome, CommittedRange } from './port';
export * from './sqlite';
export * from './open-postgres';
