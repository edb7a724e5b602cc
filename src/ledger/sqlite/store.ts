// The SQLite ledger's synchronous store (better-sqlite3): one connection, the
// schema, its migration and the spec's ledger steps.  SqliteLedger (ledger.ts)
// puts it behind the async port: the commit thread (thread.ts) runs fence and
// commit on a store of its own, the caller's store serves the reads.
//
// Durability is explicit: WAL with synchronous=FULL unless the caller says
// otherwise (better-sqlite3 leaves WAL at NORMAL, which can lose the last
// transactions on power loss).  Every commit, and every group commit of many
// writes, is ONE `BEGIN IMMEDIATE` transaction, so the fencing check, the
// committed range, the user's effect statements, the dead-letter outbox rows,
// the absent rows and the new `next` are applied together or not at all.
//
// Tables (schema version 2, created on first use, PRAGMA user_version = 2 and
// one row in htmqc_schema_version):
//   htmqc_partitions(topic, partition, epoch, next, writer)  -- spec ledger[p]
//   htmqc_ranges(topic, partition, first, next, epoch)       -- spec effects \o dlq,
//       one row per accepted write: the offsets [first, next) committed by
//       spec Commit at `epoch`.  Commit accepts a write only when its epoch is
//       the ledger's AND its expectedNext is the ledger's next, and then sets
//       next to upTo in the same transaction, so the ranges of a partition are
//       contiguous from 0 to next and never overlap.  NoDuplicateInv is that
//       `next` check, made in the same transaction as the range insert; the
//       primary key (topic, partition, first) backs it up: a second range
//       starting at the same offset cannot exist.
//   htmqc_dead_letters(topic, partition, offset, ...)        -- the outbox (spec dlq);
//       a row here is also the outcome DeadLettered of its offset.
//   htmqc_absent(topic, partition, offset, epoch)            -- offsets whose
//       outcome is Absent (no record there; rare).
// Every other offset inside a range has the outcome Done.  outcomeAt and
// committedRanges read these tables from any better-sqlite3 handle, including
// a read-only one.
//
// Version 1 kept one row per committed offset in htmqc_offsets(topic,
// partition, offset, outcome, epoch); opening such a database migrates it
// (migrateV1 below).

import Database from 'better-sqlite3';
import {
  LedgerArgumentError, LedgerBusyError, LedgerError, LedgerIoError, LedgerSchemaError, LedgerStatementError,
} from '../errors';
import type { CommittedRange, Fenced, OffsetOutcome, WriteResult } from '../port';
import {
  OUTCOME_ABSENT, OUTCOME_DEAD_LETTERED, OUTCOME_DONE,
  type LedgerRow, type LedgerWrite, type OutboxEntry, type PartitionRef,
} from '../types';

export const SCHEMA_VERSION = 2;

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
  /**
   * fence and commit run on a worker thread with its own connection, so
   * neither the fsync nor a wait for another process's lock blocks the event
   * loop (default true).  false: they run inline on the caller's connection
   * (the promise is settled before the call returns).
   */
  readonly commitThread?: boolean;
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
CREATE TABLE IF NOT EXISTS htmqc_ranges (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  first     INTEGER NOT NULL,
  next      INTEGER NOT NULL,
  epoch     INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, first),
  CHECK (first < next)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS htmqc_absent (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
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

// Version 1 -> 2, in the migration's transaction.  MIGRATE_V1_CHECK finds an
// offset whose outcome and outbox disagree (DeadLettered without a dead-letter
// row, or a dead-letter row under another outcome): version 2 reads the
// outcome from the outbox, so such a database is refused, not migrated.
// MIGRATE_V1 then turns each contiguous run of same-epoch offsets into one
// range (offset minus its rank within the epoch is constant along a run),
// moves the Absent rows to htmqc_absent, and drops htmqc_offsets.
const MIGRATE_V1_CHECK = `
SELECT o.topic, o.partition, o.offset, o.outcome FROM htmqc_offsets o
WHERE (o.outcome = 'DeadLettered') <> EXISTS (
  SELECT 1 FROM htmqc_dead_letters d WHERE d.topic = o.topic AND d.partition = o.partition AND d.offset = o.offset)
LIMIT 1`;
const MIGRATE_V1 = `
INSERT INTO htmqc_ranges (topic, partition, first, next, epoch)
  SELECT topic, partition, min(offset), max(offset) + 1, epoch FROM (
    SELECT topic, partition, offset, epoch,
           offset - row_number() OVER (PARTITION BY topic, partition, epoch ORDER BY offset) AS run
    FROM htmqc_offsets)
  GROUP BY topic, partition, epoch, run;
INSERT INTO htmqc_absent (topic, partition, offset, epoch)
  SELECT topic, partition, offset, epoch FROM htmqc_offsets WHERE outcome = 'Absent';
DROP TABLE htmqc_offsets;
`;

/** An offset of a committed range whose outcome is not Done. */
export interface ExceptionalOffset {
  readonly partition: number;
  readonly offset: number;
  readonly outcome: typeof OUTCOME_DEAD_LETTERED | typeof OUTCOME_ABSENT;
}

const readers = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A statement prepared once per connection, for outcomeAt (called once per lookup). */
function prepared(db: Database.Database, sql: string): Database.Statement {
  let cache = readers.get(db);
  if (cache === undefined) readers.set(db, (cache = new Map()));
  let st = cache.get(sql);
  if (st === undefined) cache.set(sql, (st = db.prepare(sql)));
  return st;
}

const OUTCOME_AT = `
SELECT r.next > @offset AS covered,
       EXISTS (SELECT 1 FROM htmqc_dead_letters d
               WHERE d.topic = @topic AND d.partition = @partition AND d.offset = @offset) AS deadLettered,
       EXISTS (SELECT 1 FROM htmqc_absent a
               WHERE a.topic = @topic AND a.partition = @partition AND a.offset = @offset) AS absent
FROM htmqc_ranges r
WHERE r.topic = @topic AND r.partition = @partition AND r.first <= @offset
ORDER BY r.first DESC LIMIT 1`;

/**
 * The committed outcome of one offset, or undefined when no committed range
 * covers it (at or beyond the partition's next, or a partition never written).
 * Works on any better-sqlite3 handle of a ledger file, read-only included.
 */
export function outcomeAt(db: Database.Database, topic: string, partition: number, offset: number): OffsetOutcome | undefined {
  const r = prepared(db, OUTCOME_AT).get({ topic, partition, offset }) as
    { covered: number; deadLettered: number; absent: number } | undefined;
  if (r === undefined || r.covered === 0) return undefined;
  if (r.deadLettered !== 0) return OUTCOME_DEAD_LETTERED;
  return r.absent !== 0 ? OUTCOME_ABSENT : OUTCOME_DONE;
}

/**
 * The committed ranges of a topic (of one partition when given), ordered by
 * partition and first offset.  Lazily read: run no write on the same
 * connection until the iteration ends.
 */
export function committedRanges(db: Database.Database, topic: string, partition?: number): IterableIterator<CommittedRange> {
  return partition === undefined
    ? db.prepare('SELECT partition, first, next, epoch FROM htmqc_ranges WHERE topic = ? ORDER BY partition, first')
      .iterate(topic) as IterableIterator<CommittedRange>
    : db.prepare('SELECT partition, first, next, epoch FROM htmqc_ranges WHERE topic = ? AND partition = ? ORDER BY first')
      .iterate(topic, partition) as IterableIterator<CommittedRange>;
}

/**
 * The offsets of a topic whose outcome is DeadLettered or Absent, ordered by
 * partition and offset; every other offset a committed range covers is Done.
 * Lazily read, like committedRanges.
 */
export function exceptionalOffsets(db: Database.Database, topic: string): IterableIterator<ExceptionalOffset> {
  return db.prepare(
    `SELECT partition, offset, '${OUTCOME_DEAD_LETTERED}' AS outcome FROM htmqc_dead_letters WHERE topic = @topic ` +
    `UNION ALL SELECT partition, offset, '${OUTCOME_ABSENT}' AS outcome FROM htmqc_absent WHERE topic = @topic ` +
    'ORDER BY partition, offset').iterate({ topic }) as IterableIterator<ExceptionalOffset>;
}

interface PartitionRowRaw { epoch: number; next: number; writer: number }
interface OutboxRowRaw {
  offset: number; key: Buffer | null; value: Buffer | null; headers: string; timestamp: string; error: string; attempts: number;
}

/**
 * Whether a failed SQLite call may succeed when made again, by its result code.
 *
 * Retriable: the lock (BUSY, LOCKED), the storage (IOERR, FULL, CANTOPEN,
 * PROTOCOL), memory (NOMEM), an interrupted call (INTERRUPT) and a schema
 * changed by another connection while a statement was prepared (SCHEMA):
 * none of them depends on the statement, and nothing of the transaction
 * applied (it rolled back).
 *
 * Deterministic (not retriable): everything else, because the same statement
 * with the same parameters fails the same way every time: a syntax error or a
 * missing table or column (SQLITE_ERROR), a constraint violation
 * (SQLITE_CONSTRAINT_*), a type mismatch (MISMATCH), a wrong parameter count
 * (RANGE), a value too big (TOOBIG), a read-only or corrupt database
 * (READONLY, CORRUPT, NOTADB), and an error that is not SQLite's at all (a
 * TypeError binding a parameter better-sqlite3 cannot store).  Retrying those
 * would stall the partition for ever; the consumer stops instead.
 */
export function isRetriableSqliteCode(code: string): boolean {
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code.startsWith('SQLITE_IOERR') ||
    code === 'SQLITE_FULL' || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PROTOCOL' ||
    code === 'SQLITE_NOMEM' || code === 'SQLITE_INTERRUPT' || code === 'SQLITE_SCHEMA';
}

function sqliteCode(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : '';
}

/** Maps a better-sqlite3 error to the ledger's typed errors (by its `code` field). */
export function classifySqliteError(e: unknown, what: string): LedgerError {
  if (e instanceof LedgerError) return e;
  const code = sqliteCode(e);
  const detail = e instanceof Error ? e.message : String(e);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new LedgerBusyError(`${what}: ${detail}`, e);
  if (isRetriableSqliteCode(code)) return new LedgerIoError(`${what}: ${detail}${code === '' ? '' : ` (${code})`}`, e);
  return new LedgerError(`${what}: ${detail}${code === '' ? '' : ` (${code})`}`, { cause: e });
}

/**
 * One connection to a ledger file and the spec's ledger steps on it, all
 * synchronous.  Not the port: SqliteLedger wraps it.
 */
export class SqliteStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly userStatements = new Map<string, Database.Statement>();
  private readonly cacheSize: number;
  private readonly selectRow: Database.Statement<[string, number], PartitionRowRaw>;
  private readonly insertRow: Database.Statement<[string, number]>;
  private readonly bumpEpoch: Database.Statement<[string, number]>;
  private readonly advance: Database.Statement<[number, number, string, number]>;
  private readonly insertRange: Database.Statement<[string, number, number, number, number]>;
  private readonly insertAbsent: Database.Statement<[string, number, number, number]>;
  private readonly insertDeadLetter: Database.Statement<unknown[]>;
  private readonly selectDeadLetters: Database.Statement<[string, number, number, number], OutboxRowRaw>;
  private readonly selectLastDeadLetter: Database.Statement<[string, number], { last: number | null }>;
  private readonly fenceTx: Database.Transaction<(ref: PartitionRef) => { epoch: number; next: number }>;
  private readonly commitTx: Database.Transaction<(writes: readonly LedgerWrite[]) => WriteResult[]>;
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
      this.insertRange = this.db.prepare('INSERT INTO htmqc_ranges (topic, partition, first, next, epoch) VALUES (?, ?, ?, ?, ?)');
      this.insertAbsent = this.db.prepare('INSERT INTO htmqc_absent (topic, partition, offset, epoch) VALUES (?, ?, ?, ?)');
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

  fence(ref: PartitionRef): Fenced {
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

  /** Group commit in one BEGIN IMMEDIATE transaction (LedgerPort.commit's contract). */
  commit(writes: readonly LedgerWrite[]): WriteResult[] {
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

  outcomeAt(ref: PartitionRef, offset: number): OffsetOutcome | undefined {
    this.checkOpen();
    try {
      return outcomeAt(this.db, ref.topic, ref.partition, offset);
    } catch (e) {
      throw classifySqliteError(e, `reading the outcome of ${ref.topic}/${ref.partition}@${offset}`);
    }
  }

  committedRanges(topic: string, partition?: number): CommittedRange[] {
    this.checkOpen();
    try {
      return [...committedRanges(this.db, topic, partition)];
    } catch (e) {
      throw classifySqliteError(e, `reading the committed ranges of ${topic}`);
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

  /**
   * Creates the schema on first use, migrates a version 1 database, refuses a
   * database of a newer version; all in one IMMEDIATE transaction, so a crash
   * mid-migration leaves the database at version 1.
   */
  private migrate(): void {
    const run = this.db.transaction(() => {
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version === SCHEMA_VERSION) {
        const rows = this.db.prepare('SELECT version FROM htmqc_schema_version').all() as { version: number }[];
        if (rows.length !== 1 || rows[0]!.version !== SCHEMA_VERSION) {
          throw new LedgerSchemaError(`ledger ${this.path}: PRAGMA user_version is ${SCHEMA_VERSION} but htmqc_schema_version holds ` +
            `${rows.length === 0 ? 'no row' : rows.map((r) => r.version).join(', ')}; not a ledger this htmqc wrote`);
        }
        return;
      }
      if (version > SCHEMA_VERSION) {
        throw new LedgerSchemaError(`ledger schema version ${version} is newer than this htmqc's ${SCHEMA_VERSION}`);
      }
      this.db.exec(SCHEMA);
      if (version === 1) this.migrateV1();
      this.db.prepare('DELETE FROM htmqc_schema_version').run();
      this.db.prepare('INSERT INTO htmqc_schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    });
    run.immediate();
  }

  /** Version 1 -> 2 inside the migration's transaction (see MIGRATE_V1). */
  private migrateV1(): void {
    const hasOffsets = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'htmqc_offsets'").get();
    if (hasOffsets === undefined) {
      throw new LedgerSchemaError(`ledger ${this.path} says schema version 1 but has no htmqc_offsets table`);
    }
    const mismatch = this.db.prepare(MIGRATE_V1_CHECK).get() as
      { topic: string; partition: number; offset: number; outcome: string } | undefined;
    if (mismatch !== undefined) {
      throw new LedgerSchemaError(
        `ledger ${this.path} (schema version 1): ${mismatch.topic}/${mismatch.partition}@${mismatch.offset} has outcome ` +
        `${mismatch.outcome} but ${mismatch.outcome === OUTCOME_DEAD_LETTERED ? 'no' : 'a'} dead-letter row; not migrated`);
    }
    this.db.exec(MIGRATE_V1);
  }

  /** Spec Commit inside the open transaction; returns the rejection instead of applying it. */
  private applyWrite(w: LedgerWrite): WriteResult {
    const row = this.selectRow.get(w.topic, w.partition);
    if (row === undefined || row.epoch !== w.epoch) {
      return { status: 'rejected', reason: 'epoch', ledger: row ?? { epoch: 0, next: 0, writer: 0 } };
    }
    if (row.next !== w.expectedNext) return { status: 'rejected', reason: 'next', ledger: row };
    this.insertRange.run(w.topic, w.partition, w.expectedNext, w.upTo, w.epoch);
    for (let i = 0; i < w.outcomes.length; i++) {
      const o = w.outcomes[i]!;
      if (o.deadLetter !== null) {
        const d = o.deadLetter;
        this.insertDeadLetter.run(
          w.topic, w.partition, w.expectedNext + i, d.key, d.value, JSON.stringify(d.headers), d.timestamp, d.error, d.attempts, w.epoch);
        continue;
      }
      if (o.absent) this.insertAbsent.run(w.topic, w.partition, w.expectedNext + i, w.epoch);
      const effects = o.effects;
      if (effects === null) continue;
      const offset = w.expectedNext + i;
      for (let j = 0; j < effects.length; j++) {
        const s = effects[j]!;
        try {
          this.userStatement(s.sql).run(...s.params);
        } catch (e) {
          const code = sqliteCode(e);
          throw new LedgerStatementError(
            `effect statement of ${w.topic}/${w.partition}@${offset} failed: ${e instanceof Error ? e.message : String(e)}` +
            (code === '' ? '' : ` (${code})`),
            w.topic, w.partition, offset, e, isRetriableSqliteCode(code));
        }
      }
    }
    this.advance.run(w.upTo, w.epoch, w.topic, w.partition);
    return { status: 'committed', next: w.upTo };
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

/** The write contract, checked before anything crosses to the thread or opens a transaction. */
export function checkWrite(w: LedgerWrite): void {
  if (!Number.isSafeInteger(w.expectedNext) || !Number.isSafeInteger(w.upTo) || w.upTo <= w.expectedNext) {
    throw new LedgerArgumentError(`write of ${w.topic}/${w.partition}: need expectedNext < upTo, got [${w.expectedNext}, ${w.upTo})`);
  }
  if (w.outcomes.length !== w.upTo - w.expectedNext) {
    throw new LedgerArgumentError(
      `write of ${w.topic}/${w.partition}: ${w.outcomes.length} outcomes for ${w.upTo - w.expectedNext} offsets`);
  }
}

