// Group commits of the SQLite ledger on a worker thread, so that the fsync of
// synchronous=FULL never blocks the consumer's event loop (SqliteLedger's
// commitManyAsync).  The thread opens its own connection to the same file and
// runs the very same SqliteLedger.commitMany: one BEGIN IMMEDIATE transaction
// with the epoch and next checks, the range row, the effects and the outbox.
// Connections serialise on SQLite's write lock exactly as two processes do,
// so fencing (on the caller's connection) and commits (on this one) keep the
// spec's order: a fence that wins the lock first makes the commit's epoch
// check fail, one that comes after sees the commit's next.
//
// The protocol is one message per group commit: {id, writes} in, {id,
// results} or {id, error} out.  Outcomes travel compactly (only those that
// are not a plain Done without effects, by index); buffers arrive as Uint8Array and
// are turned back into Buffers for better-sqlite3.  Errors are rebuilt as the
// same typed ledger errors (LedgerStatementError keeps topic, partition and
// offset), so the consumer classifies them exactly as for commitMany.

import * as path from 'path';
import { isMainThread, MessageChannel, type MessagePort, parentPort, receiveMessageOnPort, Worker, workerData } from 'worker_threads';
import {
  LedgerArgumentError, LedgerBusyError, LedgerError, LedgerIoError, LedgerSchemaError, LedgerStatementError,
} from './errors';
import type { CommitResult, DeadLetterEntry, LedgerWrite, Outcome, Statement } from './types';

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
  readonly kind: 'statement' | 'busy' | 'io' | 'argument' | 'schema' | 'ledger' | 'other';
  readonly message: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
}
type Reply = { id: number; results: CommitResult[] } | { id: number; error: WireError };

const DONE: Outcome = { effects: null, deadLetter: null, absent: false };

/** Exported for tests: the wire form of writes (toWire) and back (fromWire) must be the identity on what commitMany reads. */
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
  if (e instanceof LedgerStatementError) return { kind: 'statement', message, topic: e.topic, partition: e.partition, offset: e.offset };
  if (e instanceof LedgerBusyError) return { kind: 'busy', message };
  if (e instanceof LedgerIoError) return { kind: 'io', message };
  if (e instanceof LedgerArgumentError) return { kind: 'argument', message };
  if (e instanceof LedgerSchemaError) return { kind: 'schema', message };
  if (e instanceof LedgerError) return { kind: 'ledger', message };
  return { kind: 'other', message };
}

function fromWireError(e: WireError): LedgerError {
  const message = `${e.message} (ledger commit thread)`;
  switch (e.kind) {
    case 'statement': return new LedgerStatementError(message, e.topic!, e.partition!, e.offset!);
    case 'busy': return new LedgerBusyError(message);
    case 'io': return new LedgerIoError(message);
    case 'argument': return new LedgerArgumentError(message);
    case 'schema': return new LedgerSchemaError(message);
    default: return new LedgerError(message);
  }
}

/** Called exactly once per started commit: with its results, or with the typed ledger error. */
export type CommitDone = (error: unknown, results?: CommitResult[]) => void;

/**
 * The caller's side: one worker thread, commits answered in order.  Replies
 * come on a dedicated port and each bumps a shared counter, so settle() can
 * block on the counter (Atomics.wait) and take the replies synchronously
 * (receiveMessageOnPort): the consumer needs every commit it started answered
 * before it revokes a partition, because the spec's Commit cannot follow the
 * holder's Revoke.
 */
export class CommitThread {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private signal: Int32Array | undefined;
  private seq = 0;
  private readonly pending = new Map<number, CommitDone>();

  constructor(private readonly options: CommitThreadOptions) {}

  /** SqliteLedger.commitMany on the thread's connection; done runs from the event loop or from settle(). */
  start(writes: readonly LedgerWrite[], done: CommitDone): void {
    if (this.worker === undefined) this.spawn();
    const id = ++this.seq;
    this.pending.set(id, done);
    this.port!.ref();
    this.worker!.postMessage({ id, writes: toWire(writes) });
  }

  commit(writes: readonly LedgerWrite[]): Promise<CommitResult[]> {
    return new Promise<CommitResult[]>((resolve, reject) => {
      this.start(writes, (e, results) => (e === undefined ? resolve(results!) : reject(e)));
    });
  }

  /** Blocks until every started commit is answered (their callbacks run before it returns), at most timeoutMs. */
  settle(timeoutMs: number): void {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && this.port !== undefined && this.signal !== undefined) {
      const seen = Atomics.load(this.signal, 0);
      const m = receiveMessageOnPort(this.port);
      if (m !== undefined) {
        this.dispatch(m.message as Reply);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.signal, 0, seen, left) === 'timed-out') {
        this.fail(`did not answer within ${timeoutMs} ms`);
        return;
      }
    }
  }

  get inFlight(): number { return this.pending.size; }

  /** Commits already sent still finish (the thread closes its connection after them). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w === undefined) return;
    w.postMessage({ close: true });
    await new Promise<void>((resolve) => w.once('exit', () => resolve()));
    this.port?.close();
  }

  private dispatch(m: Reply): void {
    const done = this.pending.get(m.id);
    if (done === undefined) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.port?.unref();
    if ('results' in m) done(undefined, m.results);
    else done(fromWireError(m.error));
  }

  private fail(why: string): void {
    for (const [id, done] of this.pending) {
      this.pending.delete(id);
      // Whether the transaction committed is unknown: the caller retries, and the ledger's next check decides.
      done(new LedgerIoError(`the ledger commit thread ${why}`));
    }
    this.port?.unref();
  }

  private spawn(): void {
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const w = new Worker(path.join(__dirname, 'sqlite-thread.js'), {
      workerData: { ...this.options, htmqcCommitThread: true, replyPort: port1, signal },
      transferList: [port1],
    });
    w.unref();
    port2.on('message', (m: Reply) => this.dispatch(m));
    port2.unref();
    const gone = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.fail(why);
    };
    w.on('error', (e) => gone(`failed: ${e instanceof Error ? e.message : String(e)}`));
    w.on('exit', (code) => gone(`exited with code ${code}`));
    this.worker = w;
    this.port = port2;
    this.signal = signal;
  }
}

// ------------------------------------------------------------ the thread --

if (!isMainThread && parentPort !== null && (workerData as { htmqcCommitThread?: boolean } | undefined)?.htmqcCommitThread === true) {
  // Loaded lazily: the main thread never needs it through this file.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { SqliteLedger } = require('./sqlite') as typeof import('./sqlite');
  const o = workerData as CommitThreadOptions & { replyPort: MessagePort; signal: Int32Array };
  const control = parentPort;
  const reply = o.replyPort;
  let ledger: InstanceType<typeof SqliteLedger> | undefined;
  control.on('message', (m: { id: number; writes: WireWrite[] } | { close: true }) => {
    if ('close' in m) {
      ledger?.close();
      reply.close();
      control.close();
      return;
    }
    let answer: Reply;
    try {
      ledger ??= new SqliteLedger({
        path: o.path, synchronous: o.synchronous, busyTimeoutMs: o.busyTimeoutMs, statementCacheSize: o.statementCacheSize, commitThread: false,
      });
      answer = { id: m.id, results: ledger.commitMany(fromWire(m.writes)) };
    } catch (e) {
      answer = { id: m.id, error: toWireError(e) };
    }
    // Post, then count: a caller in settle() that saw the old count finds the reply on the port.
    reply.postMessage(answer);
    Atomics.add(o.signal, 0, 1);
    Atomics.notify(o.signal, 0);
  });
}
