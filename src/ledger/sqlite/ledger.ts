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
import { LedgerError } from '../errors';
import type { CommittedRange, Fenced, LedgerPort, OffsetOutcome, WriteResult } from '../port';
import type { LedgerRow, LedgerWrite, OutboxEntry, PartitionRef, Statement } from '../types';
import { CommitThread } from './thread';
import { checkWrite, SqliteStore, type SqliteLedgerOptions } from './store';

export class SqliteLedger implements LedgerPort<Statement> {
  readonly backend = 'sqlite';
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
  return new SqliteLedger(typeof options === 'string' ? { path: options } : options);
}
