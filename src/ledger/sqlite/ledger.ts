// The SQLite ledger behind the async port (src/ledger/port.ts): the embedded
// default.  Writes (fence, commit) go to the commit thread (thread.ts), so the
// fsync and any wait for another process's lock happen off the event loop;
// reads run on the caller's own connection, which in WAL mode never waits for
// a writer and sees every transaction the thread has answered.  Its effects
// are SQL statements with better-sqlite3's placeholders (`?`, `@name`).
//
// The backend never answers { status: 'unknown' }: a commit on the thread
// either returns its results or fails before COMMIT with a typed error.  If
// the thread itself dies with a request unanswered, that request fails with
// a retriable LedgerIoError: retrying it is safe, because the epoch and next
// checks run again.

import type Database from 'better-sqlite3';
import { describeValue, unknownKeys } from '../../util/options';
import { LedgerArgumentError, LedgerError } from '../errors';
import type { CommittedRange, Fenced, LedgerPort, OffsetOutcome, WriteResult } from '../port';
import type { LedgerRow, LedgerWrite, OutboxEntry, PartitionRef, Statement } from '../types';
import { CommitThread } from './thread';
import { checkWrite, SqliteStore, type SqliteLedgerOptions } from './store';

export class SqliteLedger implements LedgerPort<Statement> {
  readonly backend = 'sqlite';
  /** The commit thread runs one transaction at a time: a second commit in flight would only queue behind it. */
  readonly concurrentCommits = 1;
  readonly path: string;
  private readonly store: SqliteStore;
  private readonly thread: CommitThread | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: SqliteLedgerOptions) {
    this.path = options.path;
    this.store = new SqliteStore(options);
    this.thread = options.commitThread === false ? undefined : new CommitThread({
      path: options.path, synchronous: options.synchronous ?? 'FULL', busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      statementCacheSize: options.statementCacheSize ?? 256,
    });
  }

  fence(ref: PartitionRef): Promise<Fenced> {
    if (this.closing !== undefined) return Promise.reject(this.closedError());
    if (this.thread === undefined) return settle(() => this.store.fence(ref));
    return this.thread.fence(ref);
  }

  commit(writes: readonly LedgerWrite<Statement>[]): Promise<WriteResult[]> {
    if (this.closing !== undefined) return Promise.reject(this.closedError());
    if (this.thread === undefined) return settle(() => this.store.commit(writes));
    try {
      for (const w of writes) checkWrite(w);
    } catch (e) {
      return Promise.reject(e);
    }
    if (writes.length === 0) return Promise.resolve([]);
    return this.thread.commit(writes);
  }

  read(ref: PartitionRef): Promise<LedgerRow | undefined> { return settle(() => this.store.read(ref)); }
  /** Every write answers here (never 'unknown'), so every write sent before this call has settled: read() is enough. */
  readSettled(ref: PartitionRef): Promise<LedgerRow | undefined> { return this.read(ref); }

  outcomeAt(ref: PartitionRef, offset: number): Promise<OffsetOutcome | undefined> {
    return settle(() => this.store.outcomeAt(ref, offset));
  }

  committedRanges(topic: string, partition?: number): Promise<CommittedRange[]> {
    return settle(() => this.store.committedRanges(topic, partition));
  }

  deadLetters(ref: PartitionRef, after: number, limit: number): Promise<OutboxEntry[]> {
    return settle(() => this.store.deadLetters(ref, after, limit));
  }

  lastDeadLetter(ref: PartitionRef): Promise<number> { return settle(() => this.store.lastDeadLetter(ref)); }

  /** The caller's connection, for audits, tests and the user's own reads (not for writes htmqc makes). */
  get database(): Database.Database { return this.store.database; }

  private closedError(): LedgerError { return new LedgerError(`the ledger ${this.path} is closed`); }

  /** Waits for the requests on the commit thread, ends it, then closes the caller's connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.thread?.close();
      } finally {
        this.store.close();
      }
    })();
    return this.closing;
  }
}

/** A synchronous call as a promise: its typed error becomes the rejection. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Opens (creating on first use, migrating a version 1 file) a SQLite ledger.
 * Synchronous, so that a schema or path error is thrown here; every call on
 * the ledger it returns is asynchronous.
 */
export function openSqliteLedger(options: SqliteLedgerOptions | string): SqliteLedger {
  return new SqliteLedger(checkSqliteOptions(typeof options === 'string' ? { path: options } : options));
}

export const SQLITE_OPTION_KEYS: readonly (keyof SqliteLedgerOptions)[] = ['path', 'synchronous', 'busyTimeoutMs', 'statementCacheSize', 'userSchema', 'commitThread'];

/**
 * Refuses options the ledger cannot honour before any file is touched.  A
 * ledger that is not one file on disk (`''` is a temporary database and
 * `:memory:` a private one, both per connection) would let the commit thread
 * and the caller's connection see two different databases: the consumer
 * would stall with nothing committed and no error.
 */
function checkSqliteOptions(o: SqliteLedgerOptions): SqliteLedgerOptions {
  const bad = (field: string, message: string): never => { throw new LedgerArgumentError(`openSqliteLedger: options.${field} ${message}`); };
  if (o === null || typeof o !== 'object') throw new LedgerArgumentError('openSqliteLedger: options must be a path or an object');
  const unknown = unknownKeys(o, SQLITE_OPTION_KEYS);
  if (unknown.length > 0) bad(unknown[0]!.key, unknown[0]!.message);
  const p: unknown = o.path;
  if (typeof p !== 'string' || p.trim() === '') bad('path', `must be the path of the ledger file, got ${describeValue(p)}`);
  if (p === ':memory:' || /^file:/i.test(p as string) || (p as string).includes('\0')) {
    bad('path', `must be a file on disk shared by every connection, got ${describeValue(p)} (an in-memory or URI database is private to one connection)`);
  }
  if (o.synchronous !== undefined && !['FULL', 'NORMAL', 'EXTRA'].includes(o.synchronous)) bad('synchronous', `must be 'FULL', 'NORMAL' or 'EXTRA', got ${describeValue(o.synchronous)}`);
  for (const [field, max] of [['busyTimeoutMs', 0x7fffffff], ['statementCacheSize', 1 << 20]] as const) {
    const v: unknown = o[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)) bad(field, `must be an integer in [0, ${max}], got ${describeValue(v)}`);
  }
  if (o.userSchema !== undefined && typeof o.userSchema !== 'string') bad('userSchema', `must be a string of SQL, got ${describeValue(o.userSchema)}`);
  if (o.commitThread !== undefined && typeof o.commitThread !== 'boolean') bad('commitThread', `must be a boolean, got ${describeValue(o.commitThread)}`);
  return o;
}
