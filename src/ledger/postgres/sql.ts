// SQL text for the PostgreSQL ledger: literals, the parameters of effects,
// the schema, and the classification of server errors by SQLSTATE.
//
// Effects.  node-postgres sends one query and waits for its answer before it
// sends the next, so a commit of n effect statements through client.query
// costs n round trips.  The ledger instead PREPAREs each effect text once per
// connection (`PREPARE h AS <its sql>`: the server infers the parameter
// types from the statement exactly as for node-postgres's unnamed
// statements, which send every type as 0, "unspecified"; `$1` keeps its
// meaning, no placeholder rewriting) and sends every effect of a commit as
// Bind + Execute of that statement in one pipeline (pool.ts).  Each value is
// what node-postgres itself sends (pg's prepareValue: text, a Buffer in
// binary), so the conversion is the server's input function of the
// parameter type, as for client.query.  A string with a NUL character is
// refused before anything is sent (text columns cannot hold it), naming the
// offset.
//
// Literals, for the ledger's own bookkeeping rows (ranges, absent offsets,
// dead letters, the partition rows) written as multi-row statements:
//   1. Quoting is pg's escapeLiteral (doubles quotes; E'' with doubled
//      backslashes when a backslash occurs), independent of
//      standard_conforming_strings; NUL is refused.
//   2. Integers are checked safe integers, written as decimal digits.
//   3. Bytes are the bytea hex literal '\x..'.

import { DatabaseError, escapeLiteral } from 'pg';
import { LedgerBusyError, LedgerError, LedgerIoError } from '../errors';

// pg's own value conversion (what it sends for a parameter); untyped in @types/pg.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { prepareValue } = require('pg/lib/utils') as { prepareValue(v: unknown): string | Buffer | null };

export const SCHEMA_VERSION = 2;

/** Thrown for a value that cannot be sent; the caller names the offset. */
export class UnsendableValueError extends Error {}

/**
 * A parameter value of a pipelined effect: what node-postgres itself sends
 * (pg's prepareValue: text, or a Buffer sent as binary), a NUL character
 * refused up front as for a literal.
 */
export function paramValue(value: unknown): string | Buffer | null {
  const v = prepareValue(value);
  if (typeof v === 'string' && v.includes('\u0000')) {
    throw new UnsendableValueError('a string with a NUL character cannot be stored by PostgreSQL');
  }
  return v;
}

/** A quoted string literal; refuses NUL. */
export function text(s: string): string {
  if (s.includes('\u0000')) throw new UnsendableValueError('a string with a NUL character cannot be stored by PostgreSQL');
  return escapeLiteral(s);
}

/** A bytea literal (hex form), NULL for null. */
export function bytea(b: Buffer | null): string {
  return b === null ? 'NULL' : `'\\x${b.toString('hex')}'`;
}

/** A ledger integer (offset, epoch, partition); callers have checked it is a safe integer. */
export function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new UnsendableValueError(`${n} is not a safe integer`);
  return String(n);
}

// The same tables and columns as the SQLite ledger's schema version 2
// (src/ledger/sqlite.ts), in PostgreSQL types; "offset" is a reserved word
// here and is quoted wherever it is used.
export const SCHEMA_DDL = `
CREATE TABLE IF NOT EXISTS htmqc_partitions (
  topic     text    NOT NULL,
  partition integer NOT NULL,
  epoch     bigint  NOT NULL,
  next      bigint  NOT NULL,
  writer    bigint  NOT NULL,
  PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS htmqc_ranges (
  topic     text    NOT NULL,
  partition integer NOT NULL,
  first     bigint  NOT NULL,
  next      bigint  NOT NULL,
  epoch     bigint  NOT NULL,
  PRIMARY KEY (topic, partition, first),
  CHECK (first < next)
);
CREATE TABLE IF NOT EXISTS htmqc_absent (
  topic     text    NOT NULL,
  partition integer NOT NULL,
  "offset"  bigint  NOT NULL,
  epoch     bigint  NOT NULL,
  PRIMARY KEY (topic, partition, "offset")
);
CREATE TABLE IF NOT EXISTS htmqc_dead_letters (
  topic     text    NOT NULL,
  partition integer NOT NULL,
  "offset"  bigint  NOT NULL,
  key       bytea,
  value     bytea,
  headers   text    NOT NULL,
  timestamp text    NOT NULL,
  error     text    NOT NULL,
  attempts  integer NOT NULL,
  epoch     bigint  NOT NULL,
  PRIMARY KEY (topic, partition, "offset")
);
`;

/** The SQLSTATE of a server error, or undefined for anything else (a socket error, a closed client). */
export function sqlState(e: unknown): string | undefined {
  return e instanceof DatabaseError && typeof e.code === 'string' ? e.code : undefined;
}

/**
 * True when the connection itself failed: no SQLSTATE at all (the socket
 * closed or errored), class 08 (connection exception), or 57P01-57P03 (the
 * backend was terminated, the server is shutting down or restarting).  A
 * query outstanding at that moment has no answer.
 */
export function isConnectionFailure(e: unknown): boolean {
  const code = sqlState(e);
  return code === undefined || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
}

/** SQLSTATEs after which the same call may succeed: the transaction was rolled back by the server. */
export function isRetriableState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || code.startsWith('58') || code === '40001' || code === '40P01'
    || code === '55P03' || code === '57014' || code === '57P01' || code === '57P02' || code === '57P03';
}

/** Maps an error of the driver or the server to the ledger's typed errors, by SQLSTATE only. */
export function classifyPostgresError(e: unknown, what: string): LedgerError {
  if (e instanceof LedgerError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  const code = sqlState(e);
  if (code === undefined) return new LedgerIoError(`${what}: connection failed: ${detail}`, e);
  const message = `${what}: ${detail} (SQLSTATE ${code})`;
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '57014') return new LedgerBusyError(message, e);
  if (isRetriableState(code)) return new LedgerIoError(message, e);
  return new LedgerError(message, { cause: e });
}
