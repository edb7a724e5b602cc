// The SQLite ledger (better-sqlite3): the embedded default.
//
// Durability is explicit: WAL with synchronous=FULL unless the caller says
// otherwise (better-sqlite3 leaves WAL at NORMAL, which can lose the last
// transactions on power loss).  Every commit, and every group commit of many
// writes, is ONE `BEGIN IMMEDIATE` transaction, so the fencing check, the
// per-offset outcome rows, the user's effect statements, the dead-letter
// outbox rows and the new `next` are applied together or not at all.
//
// Tables (schema version 1, created on first use, PRAGMA user_version = 1 and
// one row in htmqc_schema_version):
//   htmqc_partitions(topic, partition, epoch, next, writer)  -- spec ledger[p]
//   htmqc_offsets(topic, partition, offset, outcome, epoch)  -- spec effects \o dlq;
//       its primary key is NoDuplicateInv: a second outcome row for an offset
//       cannot exist, so a duplicate commit would abort its transaction.
//   htmqc_dead_letters(topic, partition, offset, ...)        -- the outbox (spec dlq)

import Database from 'better-sqlite3';
import {
  LedgerArgumentError, LedgerBusyError, LedgerError, LedgerIoError, LedgerSchemaError, LedgerStatementError,
} from './errors';
import {
  OUTCOME_ABSENT, OUTCOME_DEAD_LETTERED, OUTCOME_DONE,
  type CommitResult, type Ledger, type LedgerRow, type LedgerWrite, type OutboxEntry, type PartitionRef,
} from './types';

export const SCHEMA_VERSION = 1;

export interface SqliteLedgerOptions {
  /** Path of the database file (created if missing). */
  readonly path: string;
  /** PRAGMA synchronous; default 'FULL' (each commit is on disk when it returns). */
  readonly synchronous?: 'FULL' | 'NORMAL' | 'EXTRA';
  /** How long a transaction waits for another process's lock, in ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /** Prepared statements kept for user SQL (default 256). */
  readonly statementCacheSize?: number;
  /**
   * The application's own DDL (e.g. `CREATE TABLE IF NOT EXISTS orders (...)`),
   * run once in a transaction when the ledger opens, after htmqc's schema, so
   * the tables a handler's effects write to exist. Must be idempotent.
   */
  readonly userSchema?: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS htmqc_schema_version (
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS htmqc_partitions (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  epoch     INTEGER NOT NULL,
  next      INTEGER NOT NULL,
  writer    INTEGER NOT NULL,
  PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS htmqc_offsets (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
  outcome   TEXT    NOT NULL CHECK (outcome IN ('Done', 'DeadLettered', 'Absent')),
  epoch     INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS htmqc_dead_letters (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
  key       BLOB,
  value     BLOB,
  headers   TEXT    NOT NULL,
  timestamp TEXT    NOT NULL,
  error     TEXT    NOT NULL,
  attempts  INTEGER NOT NULL,
  epoch     INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
`;

interface PartitionRowRaw { epoch: number; next: number; writer: number }
interface OutboxRowRaw {
  offset: number; key: Buffer | null; value: Buffer | null; headers: string; timestamp: string; error: string; attempts: number;
}

/** Maps a better-sqlite3 error to the ledger's typed errors (by its `code` field). */
export function classifySqliteError(e: unknown, what: string): LedgerError {
  if (e instanceof LedgerError) return e;
  const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code : '';
  const detail = e instanceof Error ? e.message : String(e);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new LedgerBusyError(`${what}: ${detail}`, e);
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PROTOCOL') {
    return new LedgerIoError(`${what}: ${detail}`, e);
  }
  return new LedgerError(`${what}: ${detail}`, { cause: e });
}

export class SqliteLedger implements Ledger {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly userStatements = new Map<string, Database.Statement>();
  private readonly cacheSize: number;
  private readonly selectRow: Database.Statement<[string, number], PartitionRowRaw>;
  private readonly insertRow: Database.Statement<[string, number]>;
  private readonly bumpEpoch: Database.Statement<[string, number]>;
  private readonly advance: Database.Statement<[number, number, string, number]>;
  private readonly insertOffset: Database.Statement<[string, number, number, string, number]>;
  private readonly insertDeadLetter: Database.Statement<unknown[]>;
  private readonly selectDeadLetters: Database.Statement<[string, number, number, number], OutboxRowRaw>;
  private readonly selectLastDeadLetter: Database.Statement<[string, number], { last: number | null }>;
  private readonly fenceTx: Database.Transaction<(ref: PartitionRef) => { epoch: number; next: number }>;
  private readonly commitTx: Database.Transaction<(writes: readonly LedgerWrite[]) => CommitResult[]>;
  private closed = false;

  constructor(options: SqliteLedgerOptions) {
    this.path = options.path;
    this.cacheSize = options.statementCacheSize ?? 256;
    try {
      this.db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
    } catch (e) {
      throw classifySqliteError(e, `opening the ledger ${options.path}`);
    }
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
      this.migrate();
      if (options.userSchema) this.db.transaction(() => this.db.exec(options.userSchema as string))();
      this.selectRow = this.db.prepare('SELECT epoch, next, writer FROM htmqc_partitions WHERE topic = ? AND partition = ?');
      this.insertRow = this.db.prepare('INSERT OR IGNORE INTO htmqc_partitions (topic, partition, epoch, next, writer) VALUES (?, ?, 0, 0, 0)');
      this.bumpEpoch = this.db.prepare('UPDATE htmqc_partitions SET epoch = epoch + 1, writer = 0 WHERE topic = ? AND partition = ?');
      this.advance = this.db.prepare('UPDATE htmqc_partitions SET next = ?, writer = ? WHERE topic = ? AND partition = ?');
      this.insertOffset = this.db.prepare('INSERT INTO htmqc_offsets (topic, partition, offset, outcome, epoch) VALUES (?, ?, ?, ?, ?)');
      this.insertDeadLetter = this.db.prepare(
        'INSERT INTO htmqc_dead_letters (topic, partition, offset, key, value, headers, timestamp, error, attempts, epoch) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      this.selectDeadLetters = this.db.prepare(
        'SELECT offset, key, value, headers, timestamp, error, attempts FROM htmqc_dead_letters ' +
        'WHERE topic = ? AND partition = ? AND offset > ? ORDER BY offset LIMIT ?');
      this.selectLastDeadLetter = this.db.prepare('SELECT max(offset) AS last FROM htmqc_dead_letters WHERE topic = ? AND partition = ?');
      this.fenceTx = this.db.transaction((ref: PartitionRef) => {
        this.insertRow.run(ref.topic, ref.partition);
        this.bumpEpoch.run(ref.topic, ref.partition);
        const row = this.selectRow.get(ref.topic, ref.partition)!;
        return { epoch: row.epoch, next: row.next };
      });
      this.commitTx = this.db.transaction((writes: readonly LedgerWrite[]) => writes.map((w) => this.applyWrite(w)));
    } catch (e) {
      this.db.close();
      throw classifySqliteError(e, `initialising the ledger ${options.path}`);
    }
  }

  fence(ref: PartitionRef): { readonly epoch: number; readonly next: number } {
    this.checkOpen();
    try {
      return this.fenceTx.immediate(ref);
    } catch (e) {
      throw classifySqliteError(e, `fencing ${ref.topic}/${ref.partition}`);
    }
  }

  read(ref: PartitionRef): LedgerRow | undefined {
    this.checkOpen();
    try {
      const row = this.selectRow.get(ref.topic, ref.partition);
      return row === undefined ? undefined : { epoch: row.epoch, next: row.next, writer: row.writer };
    } catch (e) {
      throw classifySqliteError(e, `reading ${ref.topic}/${ref.partition}`);
    }
  }

  commit(write: LedgerWrite): CommitResult {
    return this.commitMany([write])[0]!;
  }

  commitMany(writes: readonly LedgerWrite[]): CommitResult[] {
    this.checkOpen();
    for (const w of writes) checkWrite(w);
    if (writes.length === 0) return [];
    try {
      return this.commitTx.immediate(writes);
    } catch (e) {
      throw classifySqliteError(e, 'ledger commit');
    }
  }

  deadLetters(ref: PartitionRef, after: number, limit: number): OutboxEntry[] {
    this.checkOpen();
    try {
      return this.selectDeadLetters.all(ref.topic, ref.partition, after, limit).map((r) => ({
        offset: r.offset, key: r.key, value: r.value, headers: JSON.parse(r.headers) as Record<string, string>,
        timestamp: r.timestamp, error: r.error, attempts: r.attempts,
      }));
    } catch (e) {
      throw classifySqliteError(e, `reading the dead-letter outbox of ${ref.topic}/${ref.partition}`);
    }
  }

  lastDeadLetter(ref: PartitionRef): number {
    this.checkOpen();
    try {
      return this.selectLastDeadLetter.get(ref.topic, ref.partition)?.last ?? -1;
    } catch (e) {
      throw classifySqliteError(e, `reading the dead-letter outbox of ${ref.topic}/${ref.partition}`);
    }
  }

  /** The underlying connection, for audits and tests (not for writes). */
  get database(): Database.Database { return this.db; }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  // ------------------------------------------------------------ helpers --

  /** Creates the schema on first use; refuses a database of a newer version. */
  private migrate(): void {
    const run = this.db.transaction(() => {
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version === SCHEMA_VERSION) return;
      if (version > SCHEMA_VERSION) {
        throw new LedgerSchemaError(`ledger schema version ${version} is newer than this htmqc's ${SCHEMA_VERSION}`);
      }
      this.db.exec(SCHEMA);
      this.db.prepare('DELETE FROM htmqc_schema_version').run();
      this.db.prepare('INSERT INTO htmqc_schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    });
    run.immediate();
  }

  /** Spec Commit inside the open transaction; returns the rejection instead of applying it. */
  private applyWrite(w: LedgerWrite): CommitResult {
    const row = this.selectRow.get(w.topic, w.partition);
    if (row === undefined || row.epoch !== w.epoch) {
      return { accepted: false, reason: 'epoch', ledger: row ?? { epoch: 0, next: 0, writer: 0 } };
    }
    if (row.next !== w.expectedNext) return { accepted: false, reason: 'next', ledger: row };
    for (let i = 0; i < w.outcomes.length; i++) {
      const o = w.outcomes[i]!;
      const offset = w.expectedNext + i;
      if (o.deadLetter !== null) {
        const d = o.deadLetter;
        this.insertOffset.run(w.topic, w.partition, offset, OUTCOME_DEAD_LETTERED, w.epoch);
        this.insertDeadLetter.run(
          w.topic, w.partition, offset, d.key, d.value, JSON.stringify(d.headers), d.timestamp, d.error, d.attempts, w.epoch);
        continue;
      }
      this.insertOffset.run(w.topic, w.partition, offset, o.absent ? OUTCOME_ABSENT : OUTCOME_DONE, w.epoch);
      const effects = o.effects;
      if (effects === null) continue;
      for (let j = 0; j < effects.length; j++) {
        const s = effects[j]!;
        try {
          this.userStatement(s.sql).run(...s.params);
        } catch (e) {
          throw new LedgerStatementError(
            `effect statement of ${w.topic}/${w.partition}@${offset} failed: ${e instanceof Error ? e.message : String(e)}`,
            w.topic, w.partition, offset, e);
        }
      }
    }
    this.advance.run(w.upTo, w.epoch, w.topic, w.partition);
    return { accepted: true, next: w.upTo };
  }

  private userStatement(sql: string): Database.Statement {
    let st = this.userStatements.get(sql);
    if (st === undefined) {
      st = this.db.prepare(sql);
      if (this.userStatements.size >= this.cacheSize) {
        const oldest = this.userStatements.keys().next().value as string;
        this.userStatements.delete(oldest);
      }
      this.userStatements.set(sql, st);
    }
    return st;
  }

  private checkOpen(): void {
    if (this.closed) throw new LedgerError(`the ledger ${this.path} is closed`);
  }
}

function checkWrite(w: LedgerWrite): void {
  if (!Number.isSafeInteger(w.expectedNext) || !Number.isSafeInteger(w.upTo) || w.upTo <= w.expectedNext) {
    throw new LedgerArgumentError(`write of ${w.topic}/${w.partition}: need expectedNext < upTo, got [${w.expectedNext}, ${w.upTo})`);
  }
  if (w.outcomes.length !== w.upTo - w.expectedNext) {
    throw new LedgerArgumentError(
      `write of ${w.topic}/${w.partition}: ${w.outcomes.length} outcomes for ${w.upTo - w.expectedNext} offsets`);
  }
}

/** Opens (creating on first use) a SQLite ledger. */
export function openSqliteLedger(options: SqliteLedgerOptions | string): SqliteLedger {
  return new SqliteLedger(typeof options === 'string' ? { path: options } : options);
}
