// The consumer's ledger writer: the core's WriteLedger commands, sent as group
// commits through the ledger port, up to `ledger.concurrentCommits` of them
// in flight at once (SQLite 1, PostgreSQL the pool's connections but one),
// each over partitions no other commit in flight holds.
//
// Why disjoint partitions are enough.  The core keeps at most one write per
// partition in flight, so what queues while commits are in flight is for
// other partitions:
//  1. a flush takes every queued write of an active run and, when k slots
//     are free, splits them by partition into at most k group commits of
//     about the same number of offsets (all writes of one partition go to
//     one commit);
//  2. each commit holds its partitions from being sent to the moment its
//     answers are handed to the core (`answered`), released in the same
//     synchronous step, so a WriteLedger the answer causes is queued only
//     for a partition no commit holds; a write for a held partition is
//     never sent (OverlappingCommitError: the writer halts, the consumer
//     stops);
//  3. the backend locks only the rows of a commit's partitions, in one
//     order (postgres.ts), so commits in flight never wait for each other;
//     their answers arrive in any order, each commit's in its queue order,
//     and per partition in offset order (one write at a time).
// `committing` is true while any commit is in flight; `settle` waits for all.
//
// Errors are classified by `retriable`, never by message:
//  - retriable (a lock, I/O, a dropped connection): nothing of the commit
//    applied; its writes wait and are sent again with exponential backoff,
//    never skipped.  The core keeps one write per partition in flight, so the
//    affected partitions stop at their window (the core pauses them) until
//    the ledger answers.  A retriable failing effect statement holds back
//    only its own partition: the other partitions' writes are sent at once.
//  - not retriable (a schema or argument error, a deterministic statement
//    failure, anything that is not a LedgerError): the culprit partition's
//    writes are dropped and `fatal` receives a ConsumerFatalError naming its
//    topic, partition and offset; the consumer stops.  A failing statement
//    names its partition, so the others are still committed; any other
//    error halts the writer (nothing more is sent).
//  - a lost answer ({ status: 'unknown' }) goes to `lost`: the consumer gives
//    the core LedgerUnknown (spec LoseAnswer), the core asks for the row
//    (ReadLedger) and decides from it (LedgerRead, spec Recover).  The
//    writer never sends a write again by itself: when the row shows it did
//    not apply, the core issues a new WriteLedger.

import { performance } from 'perf_hooks';
import { LedgerError, LedgerStatementError, type LedgerPort, type LedgerWrite, type PartitionRef, type Statement, type WriteResult } from '../ledger';
import { ConsumerFatalError, OverlappingCommitError } from './errors';
import { faultPoint } from './fault';

/** The answer a write ends with: committed or rejected. */
export type FinalResult = Exclude<WriteResult, { status: 'unknown' }>;

/** What the writer needs of a partition run: its partition, and whether it still holds it. */
export interface WriterRun extends PartitionRef {
  readonly active: boolean;
}

export interface QueuedWrite<R extends WriterRun> {
  readonly run: R;
  readonly write: LedgerWrite<Statement>;
}

export interface LedgerWriterEvents<R extends WriterRun> {
  /** Writes answered by one group commit (in queue order) and the commit's wall time. */
  answered(writes: readonly QueuedWrite<R>[], results: readonly FinalResult[], durationMs: number): void;
  /** Writes of one group commit whose answer was lost (COMMIT sent, no reply): applied or not, nobody knows yet. */
  lost(writes: readonly QueuedWrite<R>[]): void;
  /** A retriable ledger error; the writes it hit are sent again after backoff. */
  retrying(error: unknown): void;
  /** A non-retriable ledger error: the consumer must stop. */
  fatal(error: ConsumerFatalError): void;
}

export interface LedgerWriterOptions {
  /** First delay after a retriable error, in ms; doubles on each failure up to maxBackoffMs. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

function retriable(e: unknown): boolean {
  return e instanceof LedgerError && e.retriable;
}

export class LedgerWriter<R extends WriterRun> {
  private queue: QueuedWrite<R>[] = [];
  /** Writes waiting for their backoff to end (retryTimer). */
  private waiting: QueuedWrite<R>[] = [];
  /** The whole ledger failed: nothing is sent until retryTimer fires. */
  private blocked = false;
  /** Every group commit started and not finished (its promise settles after its answers were handed on). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Commits sent whose answers are not handed on yet: they hold slots and partitions. */
  private open = 0;
  /** Partition (partitionKey) -> the commit in flight that holds it (header, step 2). */
  private readonly held = new Map<string, SentCommit>();
  /** Commits in flight at most: the ledger's concurrentCommits. */
  private readonly slots: number;
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = 0;
  private backoff: number;
  private halted = false;

  constructor(
    private readonly ledger: LedgerPort<Statement>,
    private readonly events: LedgerWriterEvents<R>,
    private readonly options: LedgerWriterOptions,
  ) {
    const slots: unknown = ledger.concurrentCommits;
    if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1) {
      throw new TypeError(`ledger writer: the ${ledger.backend} ledger's concurrentCommits must be an integer >= 1, got ${String(slots)}`);
    }
    this.slots = slots;
    this.backoff = options.backoffMs;
  }

  /** A group commit is on its way to the ledger, or its answer is being resolved. */
  get committing(): boolean { return this.inFlight.size > 0; }

  /** Group commits sent and not answered yet (at most the ledger's concurrentCommits). */
  get commitsInFlight(): number { return this.open; }

  /** Writes waiting to be sent (including those waiting for a retry). */
  get queued(): number { return this.queue.length + this.waiting.length; }

  /** Command WriteLedger: queued for the next group commit. */
  add(run: R, write: LedgerWrite<Statement>): void {
    this.queue.push({ run, write });
    if (this.flushScheduled || this.blocked || this.open >= this.slots || this.halted) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Resolves once no commit is in flight and nothing of the runs `mine`
   * selects is queued, sending what is queued at once (a waiting retry is
   * brought forward, but not before its backoff).  Past `deadline` (Date.now)
   * nothing new is sent: every commit in flight is still awaited, what is
   * queued stays queued.  Never rejects: errors take their usual course.
   */
  async settle(mine: (run: R) => boolean, deadline: number): Promise<void> {
    for (;;) {
      if (this.inFlight.size > 0) {
        await Promise.all(this.inFlight);
        continue;
      }
      const ours = (w: QueuedWrite<R>): boolean => w.run.active && mine(w.run);
      if (this.halted || !(this.queue.some(ours) || this.waiting.some(ours))) return;
      const now = Date.now();
      if (now >= deadline) return;
      if (this.retryTimer !== undefined && (this.blocked || !this.queue.some(ours))) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        const wait = Math.min(this.retryAt, deadline) - now;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        this.endBackoff();
        continue;
      }
      this.flush();
      if (this.inFlight.size === 0) return;
    }
  }

  /** Stops sending: the timers are cleared, what is queued is forgotten. */
  halt(): void {
    this.halted = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.queue = [];
    this.waiting = [];
  }

  /** Every queued write of a run that still holds its partition, as up to one group commit per free slot (header, step 1). */
  private flush(): void {
    const free = this.slots - this.open;
    if (free <= 0 || this.blocked || this.halted) return;
    const ready = this.queue.length === 0 ? this.queue : this.queue.filter((w) => w.run.active);
    this.queue = [];
    if (ready.length === 0) return;
    for (const batch of splitByPartition(ready, free)) {
      try {
        this.start(batch);
      } catch (e) {
        if (!(e instanceof OverlappingCommitError)) throw e;
        this.halt();
        this.events.fatal(new ConsumerFatalError(
          { topic: e.topic, partition: e.partition, offset: e.expectedNext }, 'the ledger writer (a write for a partition already in flight)', e));
        return;
      }
    }
  }

  /** Sends one group commit; throws OverlappingCommitError, sending nothing, if a commit in flight holds one of its partitions. */
  private start(batch: QueuedWrite<R>[]): void {
    for (const w of batch) {
      if (this.held.has(partitionKey(w.write))) throw new OverlappingCommitError(w.write.topic, w.write.partition, w.write.expectedNext);
    }
    const sent: SentCommit = { partitions: batch.map((w) => partitionKey(w.write)), released: false };
    for (const k of sent.partitions) this.held.set(k, sent);
    this.open++;
    const done = this.commit(batch, sent).finally(() => {
      // Normally released already, before the answers (commit); this covers a commit that threw.
      this.release(sent);
      this.inFlight.delete(done);
      if (this.queue.length > 0) this.flush();
    });
    this.inFlight.add(done);
  }

  /** The commit's slot and partitions are free again; called once its answers are known, before they are handed on. */
  private release(sent: SentCommit): void {
    if (sent.released) return;
    sent.released = true;
    this.open--;
    for (const k of sent.partitions) if (this.held.get(k) === sent) this.held.delete(k);
  }

  private async commit(batch: QueuedWrite<R>[], sent: SentCommit): Promise<void> {
    const results: (FinalResult | undefined)[] = new Array<FinalResult | undefined>(batch.length);
    const lost: QueuedWrite<R>[] = [];
    let durationMs = 0;
    try {
      faultPoint('after-handlers-before-ledger');
      const t0 = performance.now();
      const answers = await this.ledger.commit(batch.map((w) => w.write));
      durationMs = performance.now() - t0;
      faultPoint('after-ledger-before-broker-commit');
      if (answers.length !== batch.length) {
        throw new LedgerError(`the ${this.ledger.backend} ledger answered ${answers.length} results for ${batch.length} writes`);
      }
      for (let i = 0; i < batch.length; i++) {
        const a = answers[i]!;
        if (a.status === 'unknown') lost.push(batch[i]!);
        else results[i] = a;
      }
    } catch (e) {
      this.release(sent);
      this.failed(batch, e);
      return;
    }
    this.release(sent);
    this.backoff = this.options.backoffMs;
    this.answer(batch, results, durationMs);
    if (lost.length > 0) this.events.lost(lost);
  }

  private answer(batch: readonly QueuedWrite<R>[], results: readonly (FinalResult | undefined)[], durationMs: number): void {
    const writes: QueuedWrite<R>[] = [];
    const final: FinalResult[] = [];
    for (let i = 0; i < batch.length; i++) {
      const r = results[i];
      if (r === undefined) continue;
      writes.push(batch[i]!);
      final.push(r);
    }
    if (writes.length > 0) this.events.answered(writes, final, durationMs);
  }

  /** Nothing of `writes` applied (or their answers are still lost): retry them, or stop. */
  private failed(writes: QueuedWrite<R>[], e: unknown): void {
    if (writes.length === 0) return;
    const statement = e instanceof LedgerStatementError ? e : undefined;
    const isCulprit = (w: QueuedWrite<R>): boolean => statement !== undefined && w.write.topic === statement.topic && w.write.partition === statement.partition;
    const culprit = statement === undefined ? writes : writes.filter(isCulprit);
    const others = statement === undefined ? [] : writes.filter((w) => !isCulprit(w));
    if (retriable(e)) {
      this.events.retrying(e);
      if (others.length > 0) this.queue.unshift(...others);
      this.retryLater(culprit, statement === undefined);
      return;
    }
    if (statement !== undefined && culprit.length > 0) {
      this.queue = this.queue.filter((w) => !isCulprit(w));
      if (others.length > 0) this.queue.unshift(...others);
      this.events.fatal(new ConsumerFatalError(statement, 'an effect statement of the ledger commit', e));
      return;
    }
    const first = writes[0]!.write;
    const also = writes.length > 1 ? ` (with ${writes.slice(1).map((w) => `${w.write.topic}/${w.write.partition}@${w.write.expectedNext}`).join(', ')})` : '';
    this.halt();
    this.events.fatal(new ConsumerFatalError(
      { topic: first.topic, partition: first.partition, offset: first.expectedNext }, `the ledger commit${also}`, e));
  }

  /** Writes wait for the backoff; with `all`, every write does (the ledger itself failed). */
  private retryLater(writes: QueuedWrite<R>[], all: boolean): void {
    this.waiting.unshift(...writes);
    if (all) this.blocked = true;
    if (this.retryTimer !== undefined) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.options.maxBackoffMs, this.backoff * 2);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.endBackoff();
      this.flush();
    }, delay);
  }

  private endBackoff(): void {
    this.blocked = false;
    if (this.waiting.length > 0) this.queue.unshift(...this.waiting);
    this.waiting = [];
  }
}

/** A group commit sent: the partitions it holds until its answers are handed on. */
interface SentCommit {
  readonly partitions: readonly string[];
  released: boolean;
}

function partitionKey(w: PartitionRef): string {
  return `${w.partition}\u0000${w.topic}`;
}

/**
 * `writes` as at most `n` group commits: every write of one partition in
 * the same commit, the partitions (in queue order) each to the commit with
 * the fewest offsets so far.  One commit when n is 1 or one partition is queued.
 */
function splitByPartition<W extends { readonly write: LedgerWrite<Statement> }>(writes: W[], n: number): W[][] {
  if (n <= 1 || writes.length <= 1) return [writes];
  const groups = new Map<string, W[]>();
  for (const w of writes) {
    const k = partitionKey(w.write);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [w]);
    else g.push(w);
  }
  if (groups.size <= 1) return [writes];
  const bins = Array.from({ length: Math.min(n, groups.size) }, () => ({ writes: [] as W[], offsets: 0 }));
  for (const g of groups.values()) {
    let lightest = bins[0]!;
    for (const b of bins) if (b.offsets < lightest.offsets) lightest = b;
    for (const w of g) {
      lightest.writes.push(w);
      lightest.offsets += w.write.upTo - w.write.expectedNext;
    }
  }
  return bins.map((b) => b.writes);
}
