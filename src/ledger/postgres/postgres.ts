// The PostgreSQL ledger (driver `pg`): for consumers on many hosts sharing
// one ledger.  Same tables, columns and semantics as the SQLite ledger's
// schema version 2 (src/ledger/sqlite.ts), behind the async port
// (src/ledger/port.ts).
//
// A group commit is ONE transaction in two round trips:
//   1. `BEGIN ISOLATION LEVEL READ COMMITTED; SELECT ... FROM htmqc_partitions
//      WHERE (topic, partition) IN (...) ORDER BY topic, partition FOR
//      UPDATE`: every partition row of
//      the commit locked, in one deterministic order, so two committers
//      sharing partitions never deadlock.  The spec's CommitAccepted test
//      (epoch equal AND next equal) is then decided on these locked rows.
//   2. One pipeline of the extended protocol, written at once and closed by
//      one Sync (Connection.pipeline): for each accepted write its effects
//      (Bind and Execute of a statement PREPAREd on the connection, the
//      parameters as node-postgres sends them), then one multi-row INSERT
//      each into htmqc_ranges, htmqc_absent and htmqc_dead_letters (literal
//      values: sql.ts), one UPDATE of every advanced row, and COMMIT.  A
//      rejected write sends nothing.  Measured against the simple-protocol
//      string of `EXECUTE name(<literals>)` it replaced (bench/README.md, (h)):
//      the server no longer parses a statement per effect, and the client no
//      longer renders each value as text.
// An effect SQL text new to the connection costs one more round trip, once:
// its PREPARE, between 1 and 2 (buildPrepare says why on its own).
// A fence is one statement, `INSERT ... ON CONFLICT DO UPDATE SET epoch =
// epoch + 1, writer = 0 RETURNING epoch, next`, which creates or locks and
// bumps the row atomically.
//
// Isolation: READ COMMITTED is enough and is what this needs (the server's
// default, stated in the BEGIN so that a database whose
// default_transaction_isolation differs changes nothing).  Every fact the acceptance test reads lives in the one row per
// partition, and that row is read with FOR UPDATE: under READ COMMITTED a
// locking read waits for a concurrent writer of the row and then returns the
// row's latest committed version, and holds the lock until COMMIT.  So:
//   1. A fence that commits before our lock is taken is seen (its epoch),
//      and the write is rejected.
//   2. A fence that arrives while we hold the lock waits for our COMMIT (its
//      INSERT ... ON CONFLICT locks the same row), and returns our new next.
// There is no third order, which is FencingInv.  REPEATABLE READ would add
// nothing but serialization failures (40001) whenever the locked row changed
// since the snapshot, i.e. on every race with a fence, turning a clean
// rejection into a retry; SERIALIZABLE adds predicate locks on every
// effect's reads as well.  The handler's effects run under READ COMMITTED
// too: an application that needs more takes its own locks in its effects.
//
// The lost answer.  If the connection fails while round trip 2 (which ends
// in COMMIT) is outstanding, whether it applied is unknown: every write
// answers { status: 'unknown' }.  Before answering, from a fresh connection,
// the old backend is terminated if it still exists and awaited until it is
// gone from pg_stat_activity (a backend leaves it only after ending its
// transaction), so a later read() tells the truth.  When the server cannot
// be reached for that, the answer is still 'unknown', and safety does not
// depend on it: the old transaction holds the row locks until it ends, so
// any retry by the caller waits for it and then sees its outcome.  A
// failure during round trip 1 (COMMIT not sent) applied nothing: a
// retriable LedgerIoError.
//
// Errors are classified by SQLSTATE, never by message (sql.ts).  A handler's
// effect that fails with a deterministic error (classes 42, 22, 23, ...) is a
// LedgerStatementError naming the offset with retriable false: the same
// statement would fail again, so the consumer stops rather than loop.  A
// transient one (40001, 40P01, 55P03, 53xxx, ...) is a retriable
// LedgerBusyError / LedgerIoError; nothing applied.
//
// Placeholders: effects are `Statement { sql, params }` in PostgreSQL's
// dialect, `$1, $2, ...`, one SQL statement per effect.

import type { CommittedRange, Fenced, LedgerPort, OffsetOutcome, WriteResult } from '../port';
import {
  LedgerArgumentError, LedgerError, LedgerIoError, LedgerSchemaError,
} from '../errors';
import {
  OUTCOME_ABSENT, OUTCOME_DEAD_LETTERED, OUTCOME_DONE,
  type LedgerRow, type LedgerWrite, type OutboxEntry, type PartitionRef, type Statement,
} from '../types';
import { DatabaseError } from 'pg';
import { describeValue, unknownKeys } from '../../util/options';
import { faultPoint, loseThisAnswer } from '../../runtime/fault';
import { insertShape, mergedTextCached, MERGEABLE_TABLE_SQL, rowsPerStatement, type InsertShape } from './merge';
import { PostgresStatementError } from './errors';
import { Connection, Pool, StatementFailure, type PipelineStep } from './pool';
import {
  SCHEMA_DDL, SCHEMA_VERSION, UnsendableValueError, bytea, classifyPostgresError, int, isConnectionFailure,
  isRetriableState, paramValue, sqlState, text,
} from './sql';

export { PostgresStatementError };

export interface PostgresLedgerOptions {
  /** libpq-style connection string, e.g. `postgres://htmqc@127.0.0.1:15432/htmqc`. */
  readonly connectionString: string;
  /** The PostgreSQL schema (namespace) of the ledger's and the effects' tables; created if missing (default 'public'). */
  readonly schema?: string;
  /**
   * The application's own DDL (tables the effects write to), run once when
   * the ledger opens, in the transaction that creates htmqc's tables, with
   * search_path = schema.  Must be idempotent (CREATE TABLE IF NOT EXISTS ...).
   */
  readonly userSchema?: string;
  /** Connections kept (default 4): one commit uses one; reads run beside it. */
  readonly poolSize?: number;
  /**
   * Commits the runtime may have in flight at once, each on its own
   * connection and over partitions no other holds (port.ts, concurrentCommits):
   * 1..poolSize, default poolSize - 1 (at least 1), so that a fence or a
   * read never waits for a commit to hand back its connection.
   */
  readonly concurrentCommits?: number;
  /** Connect timeout per connection, ms (default 10000). */
  readonly connectTimeoutMs?: number;
  /** How long a lost answer waits for the old backend to be gone, ms (default 10000). */
  readonly lostAnswerTimeoutMs?: number;
  /** PREPAREd effect statements kept per connection (default 256). */
  readonly statementCacheSize?: number;
  /**
   * Consecutive effects of one plain `INSERT INTO t (..) VALUES ($1, ..)`
   * into a table without statement-level triggers or rules are sent as
   * multi-row INSERTs (merge.ts; default true).  The table is asked about
   * once per effect text and ledger: set false if such a trigger or rule is
   * added to an effect table while consumers run.
   */
  readonly mergeInserts?: boolean;
}

interface ResolvedOptions {
  readonly connectionString: string;
  readonly schema: string;
  readonly userSchema: string | undefined;
  readonly poolSize: number;
  readonly concurrentCommits: number;
  readonly connectTimeoutMs: number;
  readonly lostAnswerTimeoutMs: number;
  readonly statementCacheSize: number;
  readonly mergeInserts: boolean;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const POSTGRES_OPTION_KEYS: readonly (keyof PostgresLedgerOptions)[] = [
  'connectionString', 'schema', 'userSchema', 'poolSize', 'concurrentCommits', 'connectTimeoutMs', 'lostAnswerTimeoutMs', 'statementCacheSize', 'mergeInserts',
];

function resolveOptions(o: PostgresLedgerOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw new LedgerArgumentError('openPostgresLedger: options must be an object');
  const unknown = unknownKeys(o, POSTGRES_OPTION_KEYS);
  if (unknown.length > 0) throw new LedgerArgumentError(`openPostgresLedger: options.${unknown[0]!.key} ${unknown[0]!.message}`);
  if (typeof o.connectionString !== 'string' || o.connectionString.trim() === '') {
    throw new LedgerArgumentError('openPostgresLedger: options.connectionString must be a non-empty string');
  }
  const schema = o.schema ?? 'public';
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new LedgerArgumentError(
      `openPostgresLedger: options.schema must match ${SCHEMA_NAME.source} (an unquoted lower-case identifier), got ${JSON.stringify(schema)}`);
  }
  if (o.userSchema !== undefined && typeof o.userSchema !== 'string') {
    throw new LedgerArgumentError('openPostgresLedger: options.userSchema must be a string of SQL');
  }
  const intIn = (field: string, v: unknown, dflt: number, min: number, max: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new LedgerArgumentError(`openPostgresLedger: options.${field} must be an integer in ${min}..${max}, got ${describeValue(v)}`);
    }
    return v;
  };
  const boolIn = (field: string, v: unknown, dflt: boolean): boolean => {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw new LedgerArgumentError(`openPostgresLedger: options.${field} must be true or false, got ${describeValue(v)}`);
    return v;
  };
  const poolSize = intIn('poolSize', o.poolSize, 4, 1, 100);
  return {
    connectionString: o.connectionString,
    schema,
    userSchema: o.userSchema,
    poolSize,
    concurrentCommits: intIn('concurrentCommits', o.concurrentCommits, Math.max(1, poolSize - 1), 1, poolSize),
    connectTimeoutMs: intIn('connectTimeoutMs', o.connectTimeoutMs, 10000, 1, 600000),
    lostAnswerTimeoutMs: intIn('lostAnswerTimeoutMs', o.lostAnswerTimeoutMs, 10000, 0, 600000),
    statementCacheSize: intIn('statementCacheSize', o.statementCacheSize, 256, 1, 100000),
    mergeInserts: boolIn('mergeInserts', o.mergeInserts, true),
  };
}


/** Counters for the bench and the metrics. */
export interface PostgresLedgerStats {
  /** Queries sent (each one round trip), connection set-up included. */
  readonly roundTrips: number;
  /** commit() calls that reached the server. */
  readonly commits: number;
  /** Round trips of those commits alone (BEGIN to COMMIT, a PREPARE and a rollback included; no connection set-up, no reads or fences). */
  readonly commitRoundTrips: number;
  /** Effect statements executed in accepted writes. */
  readonly effects: number;
  /** Of those, effects sent inside multi-row INSERTs (mergeInserts), and the statements they made. */
  readonly mergedEffects: number;
  readonly mergedStatements: number;
  /** Commits run a second time unmerged because a merged statement failed (to name its offset). */
  readonly unmergedReruns: number;
}

interface RowRaw { topic: string; partition: number; epoch: number; next: number; writer: number }

/** Who a statement of round trip 2 belongs to, to name the offset when it fails. */
type Owner = { readonly write: LedgerWrite; readonly offset: number; readonly merged?: number } | { readonly table: string };

/** A merged statement failed: the commit (rolled back) runs again unmerged, which names the offset. */
class MergedStatementFailed extends Error {}

/**
 * A multi-statement query string and who owns each statement.  A failing
 * statement is found by the error's position when the server gives one (a
 * parse or analysis error: the whole string is parsed before anything runs,
 * and positions count characters of the whole string), else by the number
 * of statements that completed before it.  Statements are separated by
 * newline, semicolon, newline, so a trailing `--` comment in an effect
 * cannot swallow the separator.
 */
class Script {
  readonly parts: string[] = [];
  readonly owners: Owner[] = [];

  add(sql: string, owner: Owner): void {
    this.parts.push(sql);
    this.owners.push(owner);
  }

  get sql(): string {
    return this.parts.join(SEPARATOR);
  }

  ownerOf(failure: StatementFailure, error: unknown): Owner | undefined {
    const position = error instanceof DatabaseError && error.position !== undefined ? Number(error.position) : NaN;
    if (Number.isInteger(position) && position > 0) {
      // A separator belongs to the statement before it (an unfinished statement
      // fails there), and the end of the input to the last one.
      let next = 1;
      for (let i = 0; i < this.parts.length; i++) {
        next += codePoints(this.parts[i]!) + codePoints(SEPARATOR);
        if (position < next) return this.owners[i];
      }
      return this.owners[this.owners.length - 1];
    }
    return this.owners[failure.index];
  }
}

const SEPARATOR = '\n;\n';

/** Round trip 2 as pipeline steps and who owns each; the failing step is the number of steps completed before it. */
class Pipeline {
  readonly steps: PipelineStep[] = [];
  readonly owners: Owner[] = [];

  add(step: PipelineStep, owner: Owner): void {
    this.steps.push(step);
    this.owners.push(owner);
  }

  ownerOf(failure: StatementFailure): Owner | undefined {
    return this.owners[Math.min(failure.index, this.owners.length - 1)];
  }
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export class PostgresLedger implements LedgerPort<Statement> {
  readonly backend = 'postgres';
  readonly schema: string;
  /** options.concurrentCommits: each commit locks only its partitions' rows, in one order, so commits over disjoint partitions run side by side. */
  readonly concurrentCommits: number;
  protected readonly options: ResolvedOptions;
  protected readonly pool: Pool;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Effect text -> its InsertShape when merging it cannot change what it does, null when not (merge.ts). */
  private readonly shapes = new Map<string, InsertShape | null>();
  private mergedEffects = 0;
  private mergedStatements = 0;
  private unmergedReruns = 0;
  private commits = 0;
  private commitRoundTrips = 0;
  private effects = 0;

  /** Use openPostgresLedger; a subclass calls open() itself. */
  constructor(options: PostgresLedgerOptions) {
    this.options = resolveOptions(options);
    this.schema = this.options.schema;
    this.concurrentCommits = this.options.concurrentCommits;
    this.pool = new Pool({
      connectionString: this.options.connectionString, schema: this.options.schema,
      size: this.options.poolSize, connectTimeoutMs: this.options.connectTimeoutMs,
    });
  }

  /**
   * Creates the schema on first use and refuses a newer one, in one
   * transaction serialised by an advisory lock (two hosts opening a fresh
   * database at once).  There is no version 1 in PostgreSQL.
   */
  async open(): Promise<this> {
    let c: Connection;
    try {
      c = await this.pool.acquire();
    } catch (e) {
      await this.pool.close();
      throw classifyPostgresError(e, `connecting to the ledger database (schema ${this.schema})`);
    }
    try {
      await c.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext('htmqc_ledger_schema'), hashtext(${text(this.schema)})); ` +
        `CREATE SCHEMA IF NOT EXISTS ${this.schema}; CREATE TABLE IF NOT EXISTS htmqc_schema_version (version integer NOT NULL)`);
      const r = await c.query<{ version: number | null }>('SELECT max(version) AS version FROM htmqc_schema_version');
      const version = r.rows[0]?.version ?? null;
      if (version !== null && version !== SCHEMA_VERSION) {
        throw new LedgerSchemaError(version > SCHEMA_VERSION
          ? `ledger schema version ${version} in schema ${this.schema} is newer than this htmqc's ${SCHEMA_VERSION}`
          : `ledger schema version ${version} in schema ${this.schema} was never written by the PostgreSQL ledger (expected ${SCHEMA_VERSION})`);
      }
      let script = version === null ? `${SCHEMA_DDL}; INSERT INTO htmqc_schema_version (version) VALUES (${SCHEMA_VERSION});` : '';
      if (this.options.userSchema !== undefined && this.options.userSchema.trim() !== '') script += `\n${this.options.userSchema}\n;`;
      if (script !== '') await c.query(script);
      await c.query('COMMIT');
      this.pool.release(c);
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      this.pool.release(c, true);
      await this.pool.close();
      throw e instanceof LedgerError ? e : classifyPostgresError(e, `creating the ledger schema in ${this.schema}`);
    }
    return this;
  }

  stats(): PostgresLedgerStats {
    return {
      roundTrips: this.pool.counters.roundTrips, commits: this.commits, commitRoundTrips: this.commitRoundTrips, effects: this.effects,
      mergedEffects: this.mergedEffects, mergedStatements: this.mergedStatements, unmergedReruns: this.unmergedReruns,
    };
  }

  fence(ref: PartitionRef): Promise<Fenced> {
    return this.track(async () => {
      checkRef(ref);
      const r = await this.withConnection(`fencing ${ref.topic}/${ref.partition}`, false, (c) => c.query<{ epoch: number; next: number }>(
        'INSERT INTO htmqc_partitions AS p (topic, partition, epoch, next, writer) VALUES ($1, $2, 1, 0, 0) ' +
        'ON CONFLICT (topic, partition) DO UPDATE SET epoch = p.epoch + 1, writer = 0 RETURNING epoch, next',
        [ref.topic, ref.partition]));
      const row = r.rows[0]!;
      return { epoch: row.epoch, next: row.next };
    });
  }

  read(ref: PartitionRef): Promise<LedgerRow | undefined> {
    return this.track(async () => {
      checkRef(ref);
      const r = await this.withConnection(`reading ${ref.topic}/${ref.partition}`, true, (c) => c.query<LedgerRow>(
        'SELECT epoch, next, writer FROM htmqc_partitions WHERE topic = $1 AND partition = $2', [ref.topic, ref.partition]));
      const row = r.rows[0];
      return row === undefined ? undefined : { epoch: row.epoch, next: row.next, writer: row.writer };
    });
  }

  /**
   * The row under a share lock, in its own transaction: a commit whose answer
   * was lost still holds the row's FOR UPDATE lock until it ends (applied or
   * rolled back with its terminated backend), so this read waits for it and
   * then sees its outcome (spec WriteSettled).  endBackend() has already
   * tried to end it; the wait is bounded by lostAnswerTimeoutMs (lock_timeout,
   * a retriable error: the caller reads again, it never guesses).
   */
  readSettled(ref: PartitionRef): Promise<LedgerRow | undefined> {
    return this.track(async () => {
      checkRef(ref);
      const what = `reading ${ref.topic}/${ref.partition} once its writes settled`;
      const row = await this.withConnection(what, true, async (c) => {
        await c.query('BEGIN');
        try {
          await c.query(`SET LOCAL lock_timeout = ${Math.max(1, this.options.lostAnswerTimeoutMs)}`);
          const r = await c.query<LedgerRow>(
            'SELECT epoch, next, writer FROM htmqc_partitions WHERE topic = $1 AND partition = $2 FOR SHARE', [ref.topic, ref.partition]);
          await c.query('COMMIT');
          return r.rows[0];
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      });
      return row === undefined ? undefined : { epoch: row.epoch, next: row.next, writer: row.writer };
    });
  }

  outcomeAt(ref: PartitionRef, offset: number): Promise<OffsetOutcome | undefined> {
    return this.track(async () => {
      checkRef(ref);
      const r = await this.withConnection(`reading the outcome of ${ref.topic}/${ref.partition}@${offset}`, true, (c) =>
        c.query<{ covered: boolean; dead: boolean; absent: boolean }>(
          `SELECT r.next > $3 AS covered,
                  EXISTS (SELECT 1 FROM htmqc_dead_letters d WHERE d.topic = $1 AND d.partition = $2 AND d."offset" = $3) AS dead,
                  EXISTS (SELECT 1 FROM htmqc_absent a WHERE a.topic = $1 AND a.partition = $2 AND a."offset" = $3) AS absent
           FROM htmqc_ranges r WHERE r.topic = $1 AND r.partition = $2 AND r.first <= $3
           ORDER BY r.first DESC LIMIT 1`, [ref.topic, ref.partition, offset]));
      const row = r.rows[0];
      if (row === undefined || !row.covered) return undefined;
      if (row.dead) return OUTCOME_DEAD_LETTERED;
      return row.absent ? OUTCOME_ABSENT : OUTCOME_DONE;
    });
  }

  committedRanges(topic: string, partition?: number): Promise<CommittedRange[]> {
    return this.track(async () => {
      const r = await this.withConnection(`reading the committed ranges of ${topic}`, true, (c) => partition === undefined
        ? c.query<CommittedRange>('SELECT partition, first, next, epoch FROM htmqc_ranges WHERE topic = $1 ORDER BY partition, first', [topic])
        : c.query<CommittedRange>(
          'SELECT partition, first, next, epoch FROM htmqc_ranges WHERE topic = $1 AND partition = $2 ORDER BY first', [topic, partition]));
      return r.rows.map((x) => ({ partition: x.partition, first: x.first, next: x.next, epoch: x.epoch }));
    });
  }

  deadLetters(ref: PartitionRef, after: number, limit: number): Promise<OutboxEntry[]> {
    return this.track(async () => {
      checkRef(ref);
      const r = await this.withConnection(`reading the dead-letter outbox of ${ref.topic}/${ref.partition}`, true, (c) =>
        c.query<{ offset: number; key: Buffer | null; value: Buffer | null; headers: string; timestamp: string; error: string; attempts: number }>(
          'SELECT "offset", key, value, headers, timestamp, error, attempts FROM htmqc_dead_letters ' +
          'WHERE topic = $1 AND partition = $2 AND "offset" > $3 ORDER BY "offset" LIMIT $4', [ref.topic, ref.partition, after, limit]));
      return r.rows.map((x) => ({
        offset: x.offset, key: x.key, value: x.value, headers: JSON.parse(x.headers) as Record<string, string>,
        timestamp: x.timestamp, error: x.error, attempts: x.attempts,
      }));
    });
  }

  lastDeadLetter(ref: PartitionRef): Promise<number> {
    return this.track(async () => {
      checkRef(ref);
      const r = await this.withConnection(`reading the dead-letter outbox of ${ref.topic}/${ref.partition}`, true, (c) =>
        c.query<{ last: number | null }>(
          'SELECT max("offset") AS last FROM htmqc_dead_letters WHERE topic = $1 AND partition = $2', [ref.topic, ref.partition]));
      return r.rows[0]?.last ?? -1;
    });
  }

  commit(writes: readonly LedgerWrite<Statement>[]): Promise<WriteResult[]> {
    return this.track(async () => {
      try {
        return await this.commitNow(writes, this.options.mergeInserts);
      } catch (e) {
        if (!(e instanceof MergedStatementFailed)) throw e;
        this.unmergedReruns++;
        return await this.commitNow(writes, false);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.pool.close();
  }

  // ------------------------------------------------------------ commit --

  /**
   * The locking read of round trip 1 (after BEGIN): every partition row of
   * the commit, in (topic, partition) order, FOR UPDATE.  `refs` is the
   * rendered `(topic, partition), ...` list.
   */
  protected lockingReadSql(refs: string): string {
    return `SELECT topic, partition, epoch, next, writer FROM htmqc_partitions WHERE (topic, partition) IN (${refs}) ` +
      'ORDER BY topic COLLATE "C", partition FOR UPDATE';
  }

  private async commitNow(writes: readonly LedgerWrite<Statement>[], merge: boolean): Promise<WriteResult[]> {
    this.checkOpen();
    for (const w of writes) checkWrite(w);
    if (writes.length === 0) return [];
    const refs = new Map<string, PartitionRef>();
    for (const w of writes) refs.set(key(w), w);
    const refList = [...refs.values()].map((r) => `(${text(r.topic)}, ${int(r.partition)})`).join(', ');

    let c: Connection;
    try {
      c = await this.pool.acquire();
    } catch (e) {
      throw classifyPostgresError(e, 'ledger commit: connecting');
    }
    this.commits++;
    const trips0 = c.roundTrips;
    let commitSent = false;
    let prepare: Script | undefined;
    let apply: Pipeline | undefined;
    try {
      try {
        const first = await c.script(`BEGIN ISOLATION LEVEL READ COMMITTED; ${this.lockingReadSql(refList)}`);
        const rows = new Map<string, LedgerRow>();
        for (const r of (first[1]?.rows ?? []) as RowRaw[]) rows.set(key(r), { epoch: r.epoch, next: r.next, writer: r.writer });

        const results: WriteResult[] = [];
        const accepted: LedgerWrite<Statement>[] = [];
        for (const w of writes) {
          const row = rows.get(key(w));
          if (row === undefined || row.epoch !== w.epoch) {
            results.push({ status: 'rejected', reason: 'epoch', ledger: row ?? { epoch: 0, next: 0, writer: 0 } });
          } else if (row.next !== w.expectedNext) {
            results.push({ status: 'rejected', reason: 'next', ledger: row });
          } else {
            // A later write of the same partition in this commit sees this one applied.
            rows.set(key(w), { epoch: row.epoch, next: w.upTo, writer: w.epoch });
            results.push({ status: 'committed', next: w.upTo });
            accepted.push(w);
          }
        }
        // Every effect text of the accepted writes, once, with the first offset using it.
        const texts = new Map<string, Owner>();
        for (const w of accepted) {
          for (let i = 0; i < w.outcomes.length; i++) {
            for (const s of w.outcomes[i]!.effects ?? []) if (!texts.has(s.sql)) texts.set(s.sql, { write: w, offset: w.expectedNext + i });
          }
        }
        if (merge) await this.learnShapes(c, texts.keys());
        const prep = this.buildPrepare(c, texts);
        if (prep !== undefined) {
          prepare = prep;
          const tags = (await c.script(prep.sql)).map((r) => r.command);
          this.checkPrepared(prep, tags);
          for (const [sql, name] of prep.names) c.prepared.set(sql, name);
          prepare = undefined;
        }
        apply = this.buildApply(c, accepted, rows, merge);
        commitSent = true;
        const applying = c.pipeline(apply.steps);
        // pg hands the whole pipeline to the socket synchronously inside pipeline(),
        // so a kill here is the lost answer seen from outside: COMMIT sent, no reply read.
        faultPoint('ledger-commit-sent-before-reply');
        if (loseThisAnswer()) cutAfterCommitSent(c);
        await applying;
        for (const w of accepted) for (const o of w.outcomes) this.effects += o.effects?.length ?? 0;
        this.pool.release(c);
        return results;
      } catch (e) {
        const failure = e instanceof StatementFailure ? e : undefined;
        const cause = failure?.error ?? e;
        if (cause instanceof LedgerError) {
          await this.rollback(c);
          throw cause;
        }
        if (isConnectionFailure(cause) || c.broken) {
          this.pool.release(c, true);
          await this.endBackend(c);
          if (commitSent) return writes.map(() => ({ status: 'unknown' as const }));
          throw new LedgerIoError(`ledger commit: the connection failed before COMMIT was sent; nothing applied: ${message(cause)}`, cause);
        }
        await this.rollback(c);
        const owner = failure === undefined ? undefined : apply !== undefined ? apply.ownerOf(failure) : prepare?.ownerOf(failure, cause);
        if (owner !== undefined && 'write' in owner && owner.merged !== undefined) throw new MergedStatementFailed();
        throw this.commitError(cause, owner, writes);
      }
    } finally {
      this.commitRoundTrips += c.roundTrips - trips0;
    }
  }

  /**
   * The verdict of merge.ts on every effect text of the commit not judged
   * yet: the text's shape, then (once per text, in the commit's transaction,
   * before its PREPARE) the server's word on its table.  A text whose table
   * does not exist yet is judged again next time.
   */
  private async learnShapes(c: Connection, texts: Iterable<string>): Promise<void> {
    for (const sql of texts) {
      if (this.shapes.has(sql)) continue;
      const shape = insertShape(sql);
      if (shape === undefined) { this.shapes.set(sql, null); continue; }
      const r = await c.query<{ ok: boolean }>(MERGEABLE_TABLE_SQL, [shape.table]);
      if (r.rows.length === 0) continue;
      this.shapes.set(sql, r.rows[0]!.ok ? shape : null);
    }
  }

  /**
   * The PREPARE round trip, only when an accepted write carries an effect
   * SQL text this connection has not prepared yet (steady state: none).  It
   * runs inside the open transaction, on its own, so that an effect text
   * holding more than one statement is caught by the command tags it
   * answers and everything is rolled back (the extended protocol refuses
   * such a text too).  Prepared statements outlive a rollback; rollback()
   * deallocates them all.
   */
  private buildPrepare(c: Connection, texts: ReadonlyMap<string, Owner>):
    (Script & { names: [string, string][]; deallocates: boolean }) | undefined {
    let fresh = [...texts].filter(([sql]) => !c.prepared.has(sql));
    if (fresh.length === 0) return undefined;
    const script = new Script();
    // A full cache starts over with exactly this commit's texts, so none it
    // relies on is deallocated.
    const deallocates = c.prepared.size + fresh.length > this.options.statementCacheSize;
    if (deallocates) {
      script.add('DEALLOCATE ALL', { table: 'the statement cache' });
      c.prepared.clear();
      fresh = [...texts];
    }
    const names: [string, string][] = [];
    for (const [sql, owner] of fresh) {
      const name = c.newStatementName();
      names.push([sql, name]);
      script.add(`PREPARE ${name} AS ${sql}`, owner);
    }
    return Object.assign(script, { names, deallocates });
  }

  /** Every statement of the PREPARE round trip answered as one: an effect text of two statements is refused. */
  private checkPrepared(prep: Script & { deallocates: boolean }, tags: readonly string[]): void {
    const first = prep.deallocates ? 1 : 0;
    let prepares = 0;
    for (let i = first; i < tags.length; i++) {
      if (tags[i] === 'PREPARE') { prepares++; continue; }
      const owner = prep.owners[first + Math.max(0, prepares - 1)];
      if (owner === undefined || !('write' in owner)) break;
      throw new PostgresStatementError(
        `effect statement of ${owner.write.topic}/${owner.write.partition}@${owner.offset} holds more than one SQL statement ` +
        `(${tags[i]} after its PREPARE); an effect is one statement`, owner.write.topic, owner.write.partition, owner.offset, false);
    }
    if (tags.length !== prep.owners.length) {
      throw new LedgerError(`the PREPARE round trip answered ${tags.length} statements for ${prep.owners.length}`);
    }
  }

  /**
   * Round trip 2 as one query string: the effects of the accepted writes
   * (prepared), the bookkeeping rows, the row updates and COMMIT.
   */
  private buildApply(c: Connection, accepted: readonly LedgerWrite<Statement>[], rows: Map<string, LedgerRow>, merge: boolean): Pipeline {
    const script = new Pipeline();
    const run = new MergeRun(script, this.shapes, merge);
    const ranges: string[] = [];
    const absent: string[] = [];
    const dead: string[] = [];
    for (const w of accepted) {
      const t = text(w.topic);
      const p = int(w.partition);
      ranges.push(`(${t}, ${p}, ${int(w.expectedNext)}, ${int(w.upTo)}, ${int(w.epoch)})`);
      for (let i = 0; i < w.outcomes.length; i++) {
        const o = w.outcomes[i]!;
        const offset = w.expectedNext + i;
        try {
          if (o.deadLetter !== null) {
            const d = o.deadLetter;
            dead.push(`(${t}, ${p}, ${int(offset)}, ${bytea(d.key)}, ${bytea(d.value)}, ${text(JSON.stringify(d.headers))}, ` +
              `${text(d.timestamp)}, ${text(d.error)}, ${int(d.attempts)}, ${int(w.epoch)})`);
            continue;
          }
          if (o.absent) absent.push(`(${t}, ${p}, ${int(offset)}, ${int(w.epoch)})`);
          for (const s of o.effects ?? []) run.add(s, c.prepared.get(s.sql)!, w, offset);
        } catch (e) {
          if (e instanceof UnsendableValueError) {
            throw new LedgerArgumentError(`write of ${w.topic}/${w.partition}@${offset}: ${e.message}`, { cause: e });
          }
          throw e;
        }
      }
    }
    run.flush();
    this.mergedEffects += run.mergedEffects;
    this.mergedStatements += run.mergedStatements;
    if (ranges.length > 0) {
      script.add({ text: `INSERT INTO htmqc_ranges (topic, partition, first, next, epoch) VALUES ${ranges.join(', ')}` }, { table: 'htmqc_ranges' });
    }
    if (absent.length > 0) {
      script.add({ text: `INSERT INTO htmqc_absent (topic, partition, "offset", epoch) VALUES ${absent.join(', ')}` }, { table: 'htmqc_absent' });
    }
    if (dead.length > 0) {
      script.add({ text: 'INSERT INTO htmqc_dead_letters (topic, partition, "offset", key, value, headers, timestamp, error, attempts, epoch) ' +
        `VALUES ${dead.join(', ')}` }, { table: 'htmqc_dead_letters' });
    }
    const advanced = new Map<string, LedgerWrite<Statement>>();
    for (const w of accepted) advanced.set(key(w), w);
    if (advanced.size > 0) {
      const values = [...advanced.values()].map((w) => {
        const row = rows.get(key(w))!;
        return `(${text(w.topic)}, ${int(w.partition)}, ${int(row.next)}::bigint, ${int(row.writer)}::bigint)`;
      });
      script.add({ text: 'UPDATE htmqc_partitions AS p SET next = v.next, writer = v.writer ' +
        `FROM (VALUES ${values.join(', ')}) AS v(topic, partition, next, writer) WHERE p.topic = v.topic AND p.partition = v.partition` },
      { table: 'htmqc_partitions' });
    }
    script.add({ text: 'COMMIT' }, { table: 'COMMIT' });
    return script;
  }

  /** The typed error of a commit the server refused; nothing of it applied. */
  private commitError(e: unknown, owner: Owner | undefined, writes: readonly LedgerWrite<Statement>[]): LedgerError {
    const code = sqlState(e) ?? '';
    const retriable = isRetriableState(code);
    if (owner !== undefined && 'write' in owner) {
      const what = `effect statement of ${owner.write.topic}/${owner.write.partition}@${owner.offset} failed`;
      if (retriable) return classifyPostgresError(e, what);
      return new PostgresStatementError(`${what}: ${message(e)} (SQLSTATE ${code})`,
        owner.write.topic, owner.write.partition, owner.offset, false, e);
    }
    if (owner !== undefined && owner.table === 'COMMIT' && !retriable) {
      // A deferred constraint of the effects fires at COMMIT: which effect is not told.
      const w = writes[0]!;
      return new PostgresStatementError(
        `COMMIT of the write of ${w.topic}/${w.partition} from ${w.expectedNext} (and ${writes.length - 1} more) failed, ` +
        `a deferred constraint of the effects: ${message(e)} (SQLSTATE ${code})`, w.topic, w.partition, w.expectedNext, false, e);
    }
    return classifyPostgresError(e, owner !== undefined ? `ledger commit (${owner.table})` : 'ledger commit');
  }

  /** Ends a failed transaction; a connection that cannot is dropped.  Prepared statements are not transactional: start over. */
  private async rollback(c: Connection): Promise<void> {
    try {
      await c.query('ROLLBACK; DEALLOCATE ALL');
      c.prepared.clear();
      this.pool.release(c);
    } catch {
      this.pool.release(c, true);
    }
  }

  /**
   * Makes a lost answer definitive (see the header): terminates the backend
   * of `c` if it still exists and waits until it left pg_stat_activity.
   * Best effort within lostAnswerTimeoutMs.
   */
  private async endBackend(c: Connection): Promise<void> {
    const deadline = Date.now() + this.options.lostAnswerTimeoutMs;
    while (Date.now() <= deadline) {
      let probe: Connection | undefined;
      try {
        probe = await this.pool.connectOne();
        await probe.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2',
          [c.pid, c.backendStart]);
        while (Date.now() <= deadline) {
          const r = await probe.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2', [c.pid, c.backendStart]);
          if (r.rowCount === 0) return;
          await sleep(10);
        }
        return;
      } catch {
        await sleep(100);
      } finally {
        probe?.client.end().catch(() => undefined);
      }
    }
  }

  // ----------------------------------------------------------- helpers --

  /** Runs one query on a pooled connection; an idempotent one is retried once on a fresh connection. */
  private async withConnection<T>(what: string, idempotent: boolean, run: (c: Connection) => Promise<T>): Promise<T> {
    this.checkOpen();
    for (let attempt = 0; ; attempt++) {
      let c: Connection;
      try {
        c = await this.pool.acquire();
      } catch (e) {
        throw classifyPostgresError(e, what);
      }
      try {
        const r = await run(c);
        this.pool.release(c);
        return r;
      } catch (e) {
        const lost = isConnectionFailure(e) || c.broken;
        this.pool.release(c, lost);
        if (lost && idempotent && attempt === 0) continue;
        if (lost && !idempotent) {
          throw new LedgerIoError(`${what}: the connection failed; it may or may not have applied: ${message(e)}`, e);
        }
        throw classifyPostgresError(e, what);
      }
    }
  }

  private track<T>(run: () => Promise<T>): Promise<T> {
    let p: Promise<T>;
    try {
      this.checkOpen();
      p = run();
    } catch (e) {
      return Promise.reject(e);
    }
    this.inFlight.add(p);
    const done = (): void => { this.inFlight.delete(p); };
    p.then(done, done);
    return p;
  }

  private checkOpen(): void {
    if (this.closed) throw new LedgerError(`the PostgreSQL ledger (schema ${this.schema}) is closed`);
  }
}

function key(r: PartitionRef): string {
  return `${r.partition}\u0000${r.topic}`;
}

/** Consecutive effects of one mergeable text, sent as multi-row INSERTs (merge.ts); any other effect as its own Bind/Execute. */
class MergeRun {
  private sql: string | undefined;
  private shape: InsertShape | undefined;
  private statement = '';
  private values: unknown[] = [];
  private rows = 0;
  private first: { write: LedgerWrite; offset: number } | undefined;
  mergedEffects = 0;
  mergedStatements = 0;

  constructor(private readonly script: Pipeline, private readonly shapes: ReadonlyMap<string, InsertShape | null>, private readonly merge: boolean) {}

  add(s: Statement, statement: string, write: LedgerWrite, offset: number): void {
    const shape = this.merge ? this.shapes.get(s.sql) ?? undefined : undefined;
    if (shape === undefined || s.params.length !== shape.casts.length) {
      this.flush();
      this.script.add({ statement, values: s.params.map(paramValue) }, { write, offset });
      return;
    }
    if (this.sql !== s.sql || this.rows >= rowsPerStatement(shape.casts.length)) this.flush();
    if (this.rows === 0) {
      this.sql = s.sql;
      this.shape = shape;
      this.statement = statement;
      this.first = { write, offset };
    }
    // Straight into the statement's values: no array per effect.
    for (const v of s.params) this.values.push(paramValue(v));
    this.rows++;
  }

  flush(): void {
    if (this.rows === 0) return;
    if (this.rows === 1) {
      this.script.add({ statement: this.statement, values: this.values }, this.first!);
    } else {
      this.script.add({ text: mergedTextCached(this.shape!, this.rows), values: this.values }, { ...this.first!, merged: this.rows });
      this.mergedEffects += this.rows;
      this.mergedStatements++;
    }
    this.sql = undefined;
    this.shape = undefined;
    this.values = [];
    this.rows = 0;
    this.first = undefined;
  }
}

/**
 * The harness's lost-answer fault (HTMQC_FAULT_LOSE_ANSWER_EVERY): the
 * commit's script is on its way; its reply is never read.  Reading stops at
 * once and the socket is cut at once or a little later, so the COMMIT may or
 * may not have applied, as with a real network failure.
 */
function cutAfterCommitSent(c: Connection): void {
  const socket = (c.client as unknown as { connection: { stream: { pause(): void; destroy(): void } } }).connection.stream;
  socket.pause();
  // Half the time at once (the script may not have left the process: likely not applied), else after the server had time to commit.
  if (Math.random() < 0.5) socket.destroy();
  else setTimeout(() => socket.destroy(), 5 + Math.floor(Math.random() * 30));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function checkRef(r: PartitionRef): void {
  if (typeof r.topic !== 'string' || r.topic === '' || r.topic.includes('\u0000')) {
    throw new LedgerArgumentError(`topic must be a non-empty string without NUL, got ${JSON.stringify(r.topic)}`);
  }
  if (!Number.isInteger(r.partition) || r.partition < 0 || r.partition > 0x7fffffff) {
    throw new LedgerArgumentError(`partition of ${r.topic} must be an integer in 0..2^31-1, got ${String(r.partition)}`);
  }
}

function checkWrite(w: LedgerWrite<Statement>): void {
  checkRef(w);
  if (!Number.isSafeInteger(w.epoch) || w.epoch < 1) {
    throw new LedgerArgumentError(`write of ${w.topic}/${w.partition}: epoch must be a positive integer, got ${String(w.epoch)}`);
  }
  if (!Number.isSafeInteger(w.expectedNext) || !Number.isSafeInteger(w.upTo) || w.expectedNext < 0 || w.upTo <= w.expectedNext) {
    throw new LedgerArgumentError(`write of ${w.topic}/${w.partition}: need 0 <= expectedNext < upTo, got [${w.expectedNext}, ${w.upTo})`);
  }
  if (!Array.isArray(w.outcomes) || w.outcomes.length !== w.upTo - w.expectedNext) {
    throw new LedgerArgumentError(
      `write of ${w.topic}/${w.partition}: ${w.outcomes?.length} outcomes for ${w.upTo - w.expectedNext} offsets`);
  }
  for (let i = 0; i < w.outcomes.length; i++) {
    const o = w.outcomes[i]!;
    for (const s of o.effects ?? []) {
      if (typeof s.sql !== 'string' || s.sql.trim() === '' || !Array.isArray(s.params)) {
        throw new LedgerArgumentError(
          `write of ${w.topic}/${w.partition}@${w.expectedNext + i}: an effect must be { sql: non-empty string, params: array }`);
      }
    }
  }
}

/** Opens a PostgreSQL ledger: validates the options, connects, creates or checks the schema. */
export async function openPostgresLedger(options: PostgresLedgerOptions): Promise<PostgresLedger> {
  return new PostgresLedger(options).open();
}
