// The SQLite ledger's writes on a worker thread, so that neither the fsync of
// synchronous=FULL nor a wait for another process's lock blocks the
// consumer's event loop.  The thread opens its own connection to the same
// file and runs the very same SqliteStore.fence and SqliteStore.commit: one
// BEGIN IMMEDIATE transaction each, with the epoch and next checks, the range
// row, the effects and the outbox.  It takes requests one at a time, in the
// order they were sent, so a fence sent after a commit sees that commit.
// Other connections (other processes, the caller's own reads) serialise on
// SQLite's write lock exactly as two processes do.
//
// The protocol is one message per request: {id, fence} or {id, writes} in,
// {id, fenced}, {id, results} or {id, error} out.  Outcomes travel compactly
// (only those that are not a plain Done without effects, by index); buffers
// arrive as Uint8Array and are turned back into Buffers for better-sqlite3.
// Errors are rebuilt as the same typed ledger errors with the same
// `retriable` (LedgerStatementError keeps topic, partition and offset), so the
// consumer classifies them exactly as for an inline commit.

import * as path from 'path';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import {
  LedgerArgumentError, LedgerBusyError, LedgerError, LedgerIoError, LedgerSchemaError, LedgerStatementError,
} from '../errors';
import type { Fenced, WriteResult } from '../port';
import type { DeadLetterEntry, LedgerWrite, Outcome, PartitionRef, Statement } from '../types';

export interface CommitThreadOptions {
  readonly path: string;
  readonly synchronous: 'FULL' | 'NORMAL' | 'EXTRA';
  readonly busyTimeoutMs: number;
  readonly statementCacheSize: number;
}

/**
 * A write as it crosses to the thread.  Most outcomes are a plain Done
 * without effects, so only the others travel, by index: a window of 10,000
 * plain records is a few numbers, not 10,000 cloned elements on each side.
 */
interface WireWrite {
  readonly topic: string;
  readonly partition: number;
  readonly epoch: number;
  readonly expectedNext: number;
  readonly upTo: number;
  /** Ascending indices (offset - expectedNext) of the outcomes that are not a plain Done. */
  readonly at: number[];
  /** outcomes[at[k]] = others[k]. */
  readonly others: WireOutcome[];
}
interface WireOutcome {
  readonly effects: readonly Statement[] | null;
  readonly deadLetter: DeadLetterEntry | null;
  readonly absent: boolean;
}
interface WireError {
  readonly kind: 'statement' | 'busy' | 'io' | 'argument' | 'schema' | 'ledger';
  readonly message: string;
  readonly retriable: boolean;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
}
type Request = { id: number; fence: PartitionRef } | { id: number; writes: WireWrite[] } | { close: true };
type Reply = { id: number; fenced: Fenced } | { id: number; results: WriteResult[] } | { id: number; error: WireError };

const DONE: Outcome = { effects: null, deadLetter: null, absent: false };

/** Exported for tests: the wire form of writes (toWire) and back (fromWire) must be the identity on what a commit reads. */
export function toWire(writes: readonly LedgerWrite[]): WireWrite[] {
  return writes.map((w) => {
    const at: number[] = [];
    const others: WireOutcome[] = [];
    const outcomes = w.outcomes;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!;
      if (o.absent || o.deadLetter !== null || (o.effects !== null && o.effects.length > 0)) {
        at.push(i);
        others.push({ effects: o.effects, deadLetter: o.deadLetter, absent: o.absent });
      }
    }
    return { topic: w.topic, partition: w.partition, epoch: w.epoch, expectedNext: w.expectedNext, upTo: w.upTo, at, others };
  });
}

function asBuffer(v: unknown): unknown {
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
}

export function fromWire(writes: readonly WireWrite[]): LedgerWrite[] {
  return writes.map((w) => {
    const outcomes = new Array<Outcome>(w.upTo - w.expectedNext).fill(DONE);
    for (let k = 0; k < w.at.length; k++) {
      const o = w.others[k]!;
      const effects = o.effects === null ? null : o.effects.map((s) => ({ sql: s.sql, params: s.params.map(asBuffer) }));
      const d = o.deadLetter;
      const deadLetter = d === null ? null : { ...d, key: asBuffer(d.key) as Buffer | null, value: asBuffer(d.value) as Buffer | null };
      outcomes[w.at[k]!] = { effects, deadLetter, absent: o.absent };
    }
    return { topic: w.topic, partition: w.partition, epoch: w.epoch, expectedNext: w.expectedNext, upTo: w.upTo, outcomes };
  });
}

function toWireError(e: unknown): WireError {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof LedgerStatementError) {
    return { kind: 'statement', message, retriable: e.retriable, topic: e.topic, partition: e.partition, offset: e.offset };
  }
  if (e instanceof LedgerBusyError) return { kind: 'busy', message, retriable: true };
  if (e instanceof LedgerIoError) return { kind: 'io', message, retriable: true };
  if (e instanceof LedgerArgumentError) return { kind: 'argument', message, retriable: false };
  if (e instanceof LedgerSchemaError) return { kind: 'schema', message, retriable: false };
  return { kind: 'ledger', message, retriable: e instanceof LedgerError ? e.retriable : false };
}

function fromWireError(e: WireError): LedgerError {
  const message = `${e.message} (ledger commit thread)`;
  switch (e.kind) {
    case 'statement': return new LedgerStatementError(message, e.topic!, e.partition!, e.offset!, undefined, e.retriable);
    case 'busy': return new LedgerBusyError(message);
    case 'io': return new LedgerIoError(message);
    case 'argument': return new LedgerArgumentError(message);
    case 'schema': return new LedgerSchemaError(message);
    default: return new LedgerError(message, { retriable: e.retriable });
  }
}

interface Waiter {
  readonly resolve: (reply: Reply) => void;
}

/**
 * The caller's side: one worker thread, requests answered in order.  The
 * worker keeps the process alive only while a request is unanswered.
 */
export class CommitThread {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly pending = new Map<number, Waiter>();
  private idle: (() => void) | undefined;

  constructor(private readonly options: CommitThreadOptions) {}

  fence(ref: PartitionRef): Promise<Fenced> {
    return this.request((id) => ({ id, fence: { topic: ref.topic, partition: ref.partition } }))
      .then((r) => ('fenced' in r ? r.fenced : Promise.reject(fromWireError((r as { error: WireError }).error))));
  }

  commit(writes: readonly LedgerWrite[]): Promise<WriteResult[]> {
    return this.request((id) => ({ id, writes: toWire(writes) }))
      .then((r) => ('results' in r ? r.results : Promise.reject(fromWireError((r as { error: WireError }).error))));
  }

  get inFlight(): number { return this.pending.size; }

  /** Waits for every request already sent to be answered, then ends the thread (its connection closes). */
  async close(): Promise<void> {
    while (this.pending.size > 0) await new Promise<void>((resolve) => { this.idle = resolve; });
    const w = this.worker;
    this.worker = undefined;
    if (w === undefined) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    // An idle worker is unref'd: without this, a caller awaiting close() in an otherwise idle process would see it exit first.
    w.ref();
    w.postMessage({ close: true } satisfies Request);
    await exited;
  }

  private request(make: (id: number) => Request): Promise<Reply> {
    if (this.worker === undefined) this.spawn();
    const id = ++this.seq;
    const w = this.worker!;
    return new Promise<Reply>((resolve) => {
      this.pending.set(id, { resolve });
      if (this.pending.size === 1) w.ref();
      w.postMessage(make(id));
    });
  }

  private dispatch(m: Reply): void {
    const waiter = this.pending.get(m.id);
    if (waiter === undefined) return;
    this.pending.delete(m.id);
    this.settled();
    waiter.resolve(m);
  }

  private settled(): void {
    if (this.pending.size > 0) return;
    this.worker?.unref();
    const idle = this.idle;
    this.idle = undefined;
    idle?.();
  }

  private fail(why: string): void {
    for (const [id, waiter] of this.pending) {
      this.pending.delete(id);
      // Whether the transaction committed is not known here; a retry is safe: the ledger's epoch and next checks decide.
      waiter.resolve({ id, error: { kind: 'io', message: `the ledger commit thread ${why}`, retriable: true } });
    }
    this.settled();
  }

  private spawn(): void {
    const w = new Worker(path.join(__dirname, 'thread.js'), { workerData: { ...this.options, htmqcCommitThread: true } });
    w.unref();
    w.on('message', (m: Reply) => this.dispatch(m));
    const gone = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.fail(why);
    };
    w.on('error', (e) => gone(`failed: ${e instanceof Error ? e.message : String(e)}`));
    w.on('exit', (code) => gone(`exited with code ${code}`));
    this.worker = w;
  }
}

// ------------------------------------------------------------ the thread --

if (!isMainThread && parentPort !== null && (workerData as { htmqcCommitThread?: boolean } | undefined)?.htmqcCommitThread === true) {
  // Loaded lazily: the main thread never needs it through this file.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { SqliteStore } = require('./store') as typeof import('./store');
  const o = workerData as CommitThreadOptions;
  const port = parentPort;
  let store: InstanceType<typeof SqliteStore> | undefined;
  port.on('message', (m: Request) => {
    if ('close' in m) {
      store?.close();
      port.close();
      return;
    }
    let answer: Reply;
    try {
      store ??= new SqliteStore({
        path: o.path, synchronous: o.synchronous, busyTimeoutMs: o.busyTimeoutMs, statementCacheSize: o.statementCacheSize,
      });
      answer = 'fence' in m ? { id: m.id, fenced: store.fence(m.fence) } : { id: m.id, results: store.commit(fromWire(m.writes)) };
    } catch (e) {
      answer = { id: m.id, error: toWireError(e) };
    }
    port.postMessage(answer);
  });
}
