// The consumer's ledger writer: the core's WriteLedger commands, sent as group
// commits through the ledger port, one commit in flight at a time; what
// queues meanwhile is the next group commit.
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
//  - a lost answer ({ status: 'unknown' }) is resolved by reading the row
//    (resolveLostAnswer); a write is sent again only when the row shows it did
//    not apply.  A failed read leaves the write `lost`, to be resolved again
//    before it is ever re-sent.

import { performance } from 'perf_hooks';
import { LedgerError, LedgerStatementError, type LedgerPort, type LedgerWrite, type PartitionRef, type Statement, type WriteResult } from '../ledger';
import { ConsumerFatalError } from './errors';
import { faultPoint } from './fault';
import { resolveLostAnswer } from './lost-answer';

/** The answer a write ends with: committed or rejected. */
export type FinalResult = Exclude<WriteResult, { status: 'unknown' }>;

/** What the writer needs of a partition run: its partition, and whether it still holds it. */
export interface WriterRun extends PartitionRef {
  readonly active: boolean;
}

export interface QueuedWrite<R extends WriterRun> {
  readonly run: R;
  readonly write: LedgerWrite<Statement>;
  /** The last answer to this write was lost and is not resolved yet: read the row before sending it again. */
  lost: boolean;
}

export interface LedgerWriterEvents<R extends WriterRun> {
  /** Writes answered by one group commit (in queue order) and the commit's wall time. */
  answered(writes: readonly QueuedWrite<R>[], results: readonly FinalResult[], durationMs: number): void;
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
  private inFlight: Promise<void> | undefined;
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
    this.backoff = options.backoffMs;
  }

  /** A group commit is on its way to the ledger, or its answer is being resolved. */
  get committing(): boolean { return this.inFlight !== undefined; }

  /** Writes waiting to be sent (including those waiting for a retry). */
  get queued(): number { return this.queue.length + this.waiting.length; }

  /** Command WriteLedger: queued for the next group commit. */
  add(run: R, write: LedgerWrite<Statement>): void {
    this.queue.push({ run, write, lost: false });
    if (this.flushScheduled || this.blocked || this.inFlight !== undefined || this.halted) return;
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
   * nothing new is sent: the commit in flight is still awaited, what is
   * queued stays queued.  Never rejects: errors take their usual course.
   */
  async settle(mine: (run: R) => boolean, deadline: number): Promise<void> {
    for (;;) {
      if (this.inFlight !== undefined) {
        await this.inFlight;
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
      if (this.inFlight === undefined) return;
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

  /** One group commit of every queued write of a run that still holds its partition. */
  private flush(): void {
    if (this.inFlight !== undefined || this.blocked || this.halted) return;
    const batch = this.queue.length === 0 ? this.queue : this.queue.filter((w) => w.run.active);
    this.queue = [];
    if (batch.length === 0) return;
    this.inFlight = this.commit(batch).then(() => {
      this.inFlight = undefined;
      if (this.queue.length > 0) this.flush();
    });
  }

  private async commit(batch: QueuedWrite<R>[]): Promise<void> {
    const results: (FinalResult | undefined)[] = new Array<FinalResult | undefined>(batch.length);
    let durationMs = 0;
    try {
      for (let i = 0; i < batch.length; i++) {
        if (batch[i]!.lost) results[i] = await this.resolve(batch[i]!);
      }
      const send: number[] = [];
      for (let i = 0; i < batch.length; i++) if (results[i] === undefined) send.push(i);
      if (send.length > 0) {
        faultPoint('after-handlers-before-ledger');
        const t0 = performance.now();
        const answers = await this.ledger.commit(send.length === batch.length ? batch.map((w) => w.write) : send.map((i) => batch[i]!.write));
        durationMs = performance.now() - t0;
        faultPoint('after-ledger-before-broker-commit');
        if (answers.length !== send.length) {
          throw new LedgerError(`the ${this.ledger.backend} ledger answered ${answers.length} results for ${send.length} writes`);
        }
        for (let k = 0; k < send.length; k++) {
          const a = answers[k]!;
          if (a.status === 'unknown') batch[send[k]!]!.lost = true;
          else results[send[k]!] = a;
        }
        for (const i of send) if (batch[i]!.lost) results[i] = await this.resolve(batch[i]!);
      }
    } catch (e) {
      this.answer(batch, results, durationMs);
      this.failed(batch.filter((_, i) => results[i] === undefined), e);
      return;
    }
    this.backoff = this.options.backoffMs;
    this.answer(batch, results, durationMs);
    const resend = batch.filter((_, i) => results[i] === undefined);
    if (resend.length > 0) this.queue.unshift(...resend);
  }

  /** A lost answer: the row decides; undefined means send the write again. */
  private async resolve(w: QueuedWrite<R>): Promise<FinalResult | undefined> {
    const r = await resolveLostAnswer(this.ledger, w.write);
    w.lost = false;
    return r === 'resend' ? undefined : r;
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
