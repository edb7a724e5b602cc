// The kafkajs runtime: the only place with I/O.  The DCSM core (src/core)
// decides everything; this file feeds it inputs and executes its commands:
//
//   kafkajs GROUP_JOIN        -> (queue) ledger.fence, Assigned -> Seek, Resume
//   kafkajs REBALANCING/CRASH -> (queue) Revoked (eager protocol: every partition)
//   eachBatch                 -> Fetched                     -> RunHandler, Pause, Seek
//   handler pool              -> HandlerSucceeded (succeededRange) / HandlerFailed
//   timers                    -> Tick                        -> RunHandler (Retry)
//   ledger group commit       -> LedgerCommitted / LedgerRejected -> CommitBroker, Resume, Pause
//
// eachBatch hands records to the core and returns, so kafkajs keeps
// fetching and heartbeating while handlers run.  The core's bounded window is
// the backpressure: records fetched past it wait in the run's spill (decoded
// once, never fetched again) while eachBatch holds kafkajs's next fetch back
// for up to SPILL_WAIT_MS, heartbeating; a spill that waits longer pauses the
// partition, and the Resume after a Commit feeds the spill first.
//
// Ledger commits go through the async ledger port (LedgerWriter): up to the
// ledger's concurrentCommits group commits in flight, over disjoint
// partitions; what queues meanwhile goes into the next.  The core keeps one
// write per partition in flight, so answers of different commits commute.
//
// Group events.  kafkajs does not await its GROUP_JOIN and REBALANCING
// listeners, and fence and commit are asynchronous, so every group event is
// a task on one serial queue (groupEvent), run to its end before the next:
//  1. REBALANCING (or a join, which revokes first) marks each held run
//     `revoking`: from then on the run starts no handler, feeds no spilled
//     record and accepts no batch; a handler already running may finish and
//     its Succeed is still fed to the core (the run still holds p);
//  2. the revoke awaits the ledger writer (settle): every commit in flight is
//     answered and applied to the core (LedgerCommitted / LedgerRejected),
//     and what the run has queued, including writes issued by the handlers
//     of step 1, is committed, up to stopTimeoutMs (past it, queued writes are
//     abandoned: the next holder redoes them from the ledger, nothing of them
//     applied);
//  3. in the same synchronous step that finds no commit in flight, the run
//     is dropped (active = false) and Revoked(p) is fed to the core: a commit
//     can only start in flush() for an active run, so no Commit of this
//     holder can land after its Revoke in the trace;
//  4. a join's Assign then fences each partition and feeds Assigned(p, epoch,
//     next, gen) only after that fence resolved.  A batch kafkajs delivers
//     before it (from the advisory group offset) finds no run and is dropped
//     unresolved; the Seek that follows Assigned moves kafkajs to the
//     ledger's next.  (Pausing the partitions in the GROUP_JOIN listener
//     instead would cost up to maxWaitTimeInMs per join: kafkajs sleeps that
//     long when every partition is paused.)
//
// Stale work.  Every partition assignment is a PartitionRun; handler results
// and ledger answers carry the run they belong to and are discarded when it is
// no longer the partition's current run:
//  1. the core issues RunHandler(p, o) or WriteLedger(p, ...) for run R;
//  2. a rebalance revokes p (R.active = false) and may assign it again (run R');
//  3. R's handler result or ledger answer arrives: it is dropped, never fed
//     to the core, because for R' the same offsets are redone from the ledger.
// Dropping is safe because nothing of R reached the ledger unless its commit
// was accepted, and R' read the ledger's next after fencing, i.e. after it.
//
// Speculative runs.  The core starts one handler per partition at a time
// (RunHandler for the head).  The runtime runs the head and then the records
// after it back to back, and reports the run in one core call
// (succeededRange), whose RunHandler commands for the offsets already run are
// acknowledgements.  Handler effects are only queued, so running ahead of the
// core's Begin is invisible to the ledger: spec Begin/Succeed are still taken
// in offset order, one per record.

import { performance } from 'perf_hooks';
import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import {
  CommandOp, createCore, UnheldPartitionError, type CommandBatch, type Core, type CoreSnapshot, type TraceRecord,
} from '../core';
import {
  LedgerError, type DeadLetterEntry, type LedgerRow, type LedgerWrite, type Outcome, type PartitionRef, type Statement,
} from '../ledger';
import type { ConsumerConfig, Message, NormalisedConfig, Tx } from './config';
import { validateConfig } from './config';
import { ConsumerFatalError, ConsumerStateError, TransactionClosedError } from './errors';
import { LedgerWriter, type FinalResult, type QueuedWrite } from './ledger-writer';
import { LedgerReader } from './lost-answer';
import { DeadLetterRelay } from './relay';
import { TraceFile } from './trace-file';
import { faultPoint } from './fault';
import { BrokerCommitFirstLedger, UNSAFE_MODE } from './unsafe';

/**
 * A partition's worker reports to the core (and so to the ledger) after at
 * most CHUNK records or CHUNK_MS of handler time, whichever comes first.
 */
const CHUNK = 256;
const CHUNK_MS = 20;
const LEDGER_RETRY_MAX_MS = 5000;
/** How long eachBatch holds kafkajs's next fetch back while records wait for window room. */
const SPILL_WAIT_MS = 2000;
/** ... heartbeating at least this often meanwhile. */
const SPILL_HEARTBEAT_MS = 500;

const ABSENT: Outcome = { effects: null, deadLetter: null, absent: true };

/**
 * One handler run: the message the handler sees and its transaction context in
 * one object (one allocation per record); once it succeeds with effects it is
 * the offset's Outcome.
 */
class MessageTx implements Message, Tx, Outcome {
  effects: Statement[] | null = null;
  readonly deadLetter = null;
  readonly absent = false;
  open = true;

  constructor(
    readonly topic: string, readonly partition: number, readonly offset: number, readonly attempt: number,
    readonly key: Buffer | null, readonly value: Buffer | null, readonly headers: IHeaders, readonly timestamp: string,
  ) {}

  get idempotencyKey(): string { return `${this.topic}/${this.partition}/${this.offset}`; }

  execute(sql: string, params: readonly unknown[] = []): void {
    if (!this.open) throw new TransactionClosedError(`tx of ${this.idempotencyKey} was used after its handler settled`);
    if (typeof sql !== 'string') throw new TypeError('tx.execute: sql must be a string');
    (this.effects ??= []).push({ sql, params });
  }
}

/** The outcome of every successful run that queued no effects (shared: nothing to keep per record). */
const DONE_NO_EFFECTS: Outcome = { effects: null, deadLetter: null, absent: false };

/** One assignment of one partition to this process (spec local[c][p] plus the records). */
class PartitionRun implements PartitionRef {
  active = true;
  /** The write whose answer was lost, until the core decided from the row (LedgerUnknown .. LedgerRead). */
  lostWrite: LedgerWrite | undefined = undefined;
  /** First offset of the window = the ledger's next as this run knows it (spec base). */
  base: number;
  /** Spec Position: base + records.length. */
  position: number;
  /**
   * records[i] is the record at offset base + i, or null when no record
   * exists there.  Once its handler succeeded it is replaced by its timestamp
   * (all a commit report needs): the record, and the fetch buffer its key and
   * value are slices of, die young instead of waiting for the ledger commit
   * in the old generation.
   */
  readonly records: (KafkaMessage | string | null)[] = [];
  /** outcomes[i]: the outcome of offset base + i once it finished. */
  readonly outcomes: (Outcome | undefined)[] = [];
  /** First offset the handler pool has not run (or must run again). */
  nextToRun: number;
  /** The core has issued RunHandler(p, nextToRun) and it has not been run yet. */
  mayRun = false;
  running = false;
  /** The worker's promise while running (stop() awaits it). */
  worker: Promise<void> | undefined = undefined;
  /** A Revoke of this run is pending (group event step 1): no new handler, record or batch. */
  revoking = false;
  /** Failures of the record at nextToRun, and the last error it threw. */
  failures = 0;
  lastError: unknown = undefined;
  /**
   * Records fetched from Kafka past the window (spill[spillAt..] are at
   * offsets >= position): a local copy of the log, not yet spec-Fetched.
   * They enter the window when it has room, so a fetch larger than the
   * window is decoded once, never fetched again.
   */
  spill: KafkaMessage[] = [];
  spillAt = 0;
  /** The offset kafkajs fetches next for this run: position, or past the spill. */
  fetchEnd: number;
  /** The core asked to Pause this partition (its window is full) and has not resumed it. */
  corePaused = false;
  /** kafkajs may have this partition paused (true at first: an older run may have left it paused). */
  kafkaPaused = true;
  /** Set while eachBatch waits for the spill to drain. */
  drained: (() => void) | undefined = undefined;

  constructor(
    readonly p: number, readonly topic: string, readonly partition: number,
    readonly epoch: number, readonly gen: number, next: number,
  ) {
    this.base = next;
    this.position = next;
    this.nextToRun = next;
    this.fetchEnd = next;
  }
}

type PendingWrite = QueuedWrite<PartitionRun>;

/**
 * Observers of a consumer (HtmqcConsumer.observe).  They are called on the
 * consumer's own path, so they must only record what they receive and return.
 */
export interface ConsumerObserver {
  /** Every spec action the core takes, with its partition named; needs config.transitions or config.trace. */
  transition?(record: TraceRecord, ref: PartitionRef): void;
  /**
   * One group commit: one ledger transaction, how long it took and what it
   * carried; or (recovered) a write whose answer was lost and that the row
   * showed applied.
   */
  ledgerCommit?(event: LedgerCommitEvent): void;
  /** The answer to a ledger write was lost (spec LoseAnswer); the row decides next (Recover). */
  ledgerAnswerLost?(ref: PartitionRef): void;
}

/** One write of a group commit, as ConsumerObserver.ledgerCommit receives it. */
export interface CommittedWrite extends PartitionRef {
  /** The write covers offsets [from, upTo) (WriteLedger's expectedNext and upTo). */
  readonly from: number;
  readonly upTo: number;
  readonly accepted: boolean;
  /** Dead letters among the committed outcomes (0 when rejected). */
  readonly deadLettered: number;
  /** Produce timestamp (ms since the epoch) of the first record in [from, upTo), or -1 when none. */
  readonly firstTimestampMs: number;
}

export interface LedgerCommitEvent {
  /** Wall time of the ledger transaction, in ms (NaN when recovered: the answer never came). */
  readonly durationMs: number;
  /** The answer was lost and the row, read afterwards, showed the write applied (spec Recover). */
  readonly recovered: boolean;
  /** Date.now() when the transaction returned. */
  readonly committedAtMs: number;
  readonly writes: readonly CommittedWrite[];
}

/** Per-partition view in ConsumerSnapshot. */
export interface PartitionView {
  /** The core's dense partition number (the p of trace records and of CoreSnapshot.partitions). */
  readonly p: number;
  readonly topic: string;
  readonly partition: number;
  /** The fencing epoch this process holds. */
  readonly epoch: number;
  /** The ledger's next as this process knows it (spec base). */
  readonly ledgerNext: number;
  /** Spec Position: the next offset to fetch. */
  readonly position: number;
  /** Records fetched and not yet committed (Len(win)). */
  readonly inFlight: number;
  readonly paused: boolean;
}

/** What snapshot() returns: cheap to build, never blocks the hot path. */
export interface ConsumerSnapshot {
  readonly groupId: string;
  /** This process's group member id, '' before the first join. */
  readonly memberId: string;
  readonly running: boolean;
  /** Group joins seen by this process (the gen field of its Assign trace records). */
  readonly joins: number;
  readonly partitions: readonly PartitionView[];
  readonly counters: Readonly<ConsumerCounters>;
  /** The core's own snapshot (spec local[c]). */
  readonly core: CoreSnapshot;
}

export interface ConsumerCounters {
  /** Handler runs that resolved. */
  handled: number;
  /** Handler runs that threw. */
  failed: number;
  /** Offsets committed to the ledger by this process. */
  committed: number;
  deadLettered: number;
  ledgerCommits: number;
  ledgerRejections: number;
  /** Ledger answers lost (LedgerUnknown), each resolved by reading the row (LedgerRead). */
  ledgerLostAnswers: number;
  ledgerErrors: number;
  rebalances: number;
}

export class HtmqcConsumer {
  readonly config: NormalisedConfig;
  private readonly core: Core;
  private consumer: Consumer | undefined;
  private readonly trace: TraceFile | undefined;
  private readonly relay: DeadLetterRelay | undefined;

  /** Dense core partition numbers for (topic, partition) pairs, stable for the process's life. */
  private readonly indexByKey = new Map<string, number>();
  private readonly refs: PartitionRef[] = [];
  private readonly runs: (PartitionRun | undefined)[] = [];

  private joins = 0;
  /** Only under HTMQC_UNSAFE=broker-commit-first (src/runtime/unsafe.ts). */
  private readonly unsafeLedger: BrokerCommitFirstLedger | undefined;
  private memberId = '';
  private readonly observers: ConsumerObserver[] = [];
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private readonly writer: LedgerWriter<PartitionRun>;
  private readonly reader: LedgerReader<PartitionRun>;
  /** The tail of the serial queue of group events (see the header). */
  private groupQueue: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  /** Resolves when the consumer has stopped: undefined after stop(), the cause after a fatal error. */
  readonly stopped: Promise<ConsumerFatalError | undefined>;
  private resolveStopped!: (cause: ConsumerFatalError | undefined) => void;
  private fatalError: ConsumerFatalError | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickDueAt = Infinity;
  private readonly brokerOffsets = new Map<number, { run: PartitionRun; offset: number }>();
  private brokerTimer: NodeJS.Timeout | undefined;
  private brokerCommitting: Promise<void> | undefined;
  private readonly startQueue: PartitionRun[] = [];
  /** Runs whose window got room while records wait in their spill (fed after the commands that said so). */
  private readonly feedQueue: PartitionRun[] = [];
  readonly counters: ConsumerCounters = {
    handled: 0, failed: 0, committed: 0, deadLettered: 0, ledgerCommits: 0, ledgerRejections: 0, ledgerLostAnswers: 0, ledgerErrors: 0, rebalances: 0,
  };

  constructor(config: ConsumerConfig) {
    this.config = validateConfig(config);
    if (UNSAFE_MODE === 'broker-commit-first') {
      this.unsafeLedger = new BrokerCommitFirstLedger(this.config.ledger);
      this.config = { ...this.config, ledger: this.unsafeLedger };
    }
    const c = this.config;
    this.core = createCore({
      ...(c.core === undefined ? {} : { kind: c.core }),
      maxInFlightPerPartition: c.maxInFlightPerPartition,
      maxRetries: c.maxRetries,
      retryBackoffMs: c.retryBackoff,
      tracing: c.trace !== undefined || c.transitions,
    });
    this.trace = c.trace === undefined ? undefined : new TraceFile(c.trace);
    this.relay = c.deadLetterTopic === undefined ? undefined
      : new DeadLetterRelay(c.kafka, c.ledger, c.deadLetterTopic, c.groupId, c.onError);
    // A retriable ledger error of a commit or of a read: reported, then retried after backoff.
    const retrying = (e: unknown): void => {
      this.counters.ledgerErrors++;
      this.config.onError(e);
    };
    const backoff = { backoffMs: c.ledgerRetryBackoffMs, maxBackoffMs: LEDGER_RETRY_MAX_MS };
    this.writer = new LedgerWriter<PartitionRun>(c.ledger, {
      answered: (writes, results, durationMs) => this.onLedgerResults(writes, results, durationMs),
      lost: (writes) => this.onLedgerLost(writes),
      retrying,
      fatal: (e) => this.fatal(e),
    }, backoff);
    this.reader = new LedgerReader<PartitionRun>(c.ledger, {
      row: (run, _epoch, row) => this.onLedgerRow(run, row),
      retrying,
      fatal: (e) => this.fatal(e),
    }, backoff);
    this.stopped = new Promise((resolve) => { this.resolveStopped = resolve; });
  }

  /** Connects, joins the group and starts consuming; resolves once kafkajs runs. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ConsumerStateError(`start() called on a ${this.state} consumer`);
    this.state = 'running';
    const c = this.config;
    const consumer = c.kafka.consumer({
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 250,
      retry: { retries: 10, initialRetryTime: 250, maxRetryTime: 5000 },
      ...c.consumerOptions,
      groupId: c.groupId,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.memberId = e.payload.memberId;
      const assignment = e.payload.memberAssignment;
      void this.groupEvent(() => this.onGroupJoin(assignment));
    });
    consumer.on(consumer.events.REBALANCING, () => { void this.groupEvent(() => this.revokeAll()); });
    consumer.on(consumer.events.CRASH, (e) => {
      c.onError(e.payload.error);
      void this.groupEvent(() => this.revokeAll());
    });
    await consumer.connect();
    for (const topic of c.topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // A batch whose records wait for window room must not hold the other partitions' batches back.
      partitionsConsumedConcurrently: 64,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /**
   * Graceful stop: no new records are fetched or started; running handlers get
   * stopTimeoutMs to finish (then their records are abandoned, to be redone by
   * the next holder); every finished record is committed to the ledger; the
   * advisory group offsets are committed; the consumer leaves the group.
   * After a fatal error the same steps run on their own (see `stopped`).
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      this.resolveStopped(this.fatalError);
      return;
    }
    this.state = 'stopping';
    const deadline = Date.now() + this.config.stopTimeoutMs;
    const workers: Promise<void>[] = [];
    for (const run of this.runs) {
      if (run === undefined) continue;
      this.pausePartition(run);
      if (run.worker !== undefined) workers.push(run.worker);
    }
    if (workers.length > 0) await untilOrTimeout(Promise.all(workers), deadline);
    await this.writer.settle(() => true, deadline);
    await this.commitBrokerOffsets();
    clearTimeout(this.tickTimer);
    clearTimeout(this.brokerTimer);
    try {
      await this.consumer?.disconnect();
    } finally {
      await this.groupEvent(() => this.revokeAll());
      this.writer.halt();
      this.reader.halt();
      await this.relay?.stop();
      this.trace?.close();
      this.state = 'stopped';
      this.resolveStopped(this.fatalError);
    }
  }

  /** A non-retriable ledger error: reported once, then the consumer stops; `stopped` resolves with it. */
  private fatal(e: ConsumerFatalError): void {
    this.counters.ledgerErrors++;
    if (this.fatalError !== undefined) return;
    this.fatalError = e;
    this.config.onError(e);
    void this.stop().catch((err: unknown) => this.config.onError(err));
  }

  snapshot(): ConsumerSnapshot {
    const core = this.core.snapshot();
    const paused = new Map(core.partitions.map((x) => [x.p, x.paused]));
    const partitions: PartitionView[] = [];
    for (const run of this.runs) {
      if (run === undefined) continue;
      partitions.push({
        p: run.p, topic: run.topic, partition: run.partition, epoch: run.epoch, ledgerNext: run.base, position: run.position,
        inFlight: run.position - run.base, paused: paused.get(run.p) ?? true,
      });
    }
    return {
      groupId: this.config.groupId, memberId: this.memberId, running: this.state === 'running', joins: this.joins,
      partitions, counters: { ...this.counters }, core,
    };
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: ConsumerObserver): () => void {
    this.observers.push(observer);
    return () => {
      const i = this.observers.indexOf(observer);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  // ------------------------------------------------------- group events --

  /** Queues a group event behind the ones before it (header, group events); its errors go to onError. */
  private groupEvent(task: () => Promise<void>): Promise<void> {
    const next = this.groupQueue.then(task).catch((e: unknown) => this.config.onError(e));
    this.groupQueue = next;
    return next;
  }

  /** Spec Revoke then Assign for the new assignment (kafkajs rebalances eagerly). */
  private async onGroupJoin(assignment: Record<string, number[]>): Promise<void> {
    await this.revokeAll();
    if (this.state !== 'running') return;
    this.joins++;
    this.counters.rebalances++;
    const gen = this.joins;
    for (const topic of Object.keys(assignment)) {
      for (const partition of assignment[topic]!) {
        await this.assign(topic, partition, gen, 0);
        faultPoint('mid-rebalance');
      }
    }
  }

  /**
   * Spec Assign: fence the ledger (it issues the epoch), then Assigned(p,
   * epoch, next, gen).  A retriable fence error leaves the partition unheld
   * and paused and fences it again after backoff, while this join is current;
   * a non-retriable one stops the consumer.
   */
  private async assign(topic: string, partition: number, gen: number, attempt: number): Promise<void> {
    const p = this.indexOf(topic, partition);
    let fenced: { epoch: number; next: number };
    try {
      fenced = await this.config.ledger.fence({ topic, partition });
    } catch (e) {
      if (!(e instanceof LedgerError && e.retriable)) {
        this.fatal(new ConsumerFatalError({ topic, partition, offset: undefined }, 'the ledger fence (spec Assign)', e));
        return;
      }
      this.config.onError(e);
      this.counters.ledgerErrors++;
      this.kafkaCall(() => this.consumer!.pause([{ topic, partitions: [partition] }]));
      const delay = Math.min(LEDGER_RETRY_MAX_MS, this.config.ledgerRetryBackoffMs * 4 * 2 ** Math.min(attempt, 16));
      setTimeout(() => {
        void this.groupEvent(async () => {
          if (this.joins === gen && this.runs[p] === undefined && this.state === 'running') await this.assign(topic, partition, gen, attempt + 1);
        });
      }, delay).unref();
      return;
    }
    if (this.joins !== gen || this.state !== 'running' || this.runs[p] !== undefined) return;
    const run = new PartitionRun(p, topic, partition, fenced.epoch, gen, fenced.next);
    this.runs[p] = run;
    this.execute(this.core.assigned(p, fenced.epoch, fenced.next, gen));
    this.relay?.onAssigned(run);
  }

  /** Spec Revoke for every held partition (header, group events steps 1 to 3). */
  private async revokeAll(): Promise<void> {
    const runs = this.runs.filter((r): r is PartitionRun => r !== undefined);
    if (runs.length === 0) return;
    for (const run of runs) {
      run.revoking = true;
      run.drained?.();
    }
    const deadline = Date.now() + this.config.stopTimeoutMs;
    do await this.writer.settle((r) => r.revoking, deadline);
    while (this.writer.committing);
    for (const run of runs) {
      if (this.runs[run.p] !== run) continue;
      this.drop(run);
      this.execute(this.core.revoked(run.p));
    }
  }

  private drop(run: PartitionRun): void {
    run.active = false;
    this.runs[run.p] = undefined;
    this.brokerOffsets.delete(run.p);
    this.relay?.onRevoked(run);
  }

  // ------------------------------------------------------------- fetch --

  /**
   * Spec Fetch: hands the batch's records to the core as far as the window has
   * room; the rest is the run's spill, which enters the window as commits free
   * room.  eachBatch waits (heartbeating) up to SPILL_WAIT_MS for the spill to
   * drain, which holds kafkajs's next fetch back: backpressure without pausing
   * (kafkajs sleeps maxWaitTimeInMs when every partition is paused, and drops
   * a paused partition's in-flight data).  A spill that outlasts the wait (a
   * slow or failing head) pauses the partition instead, so that it alone stops
   * fetching; Resume feeds the spill first, then resumes kafkajs.
   */
  private async onBatch({ batch, resolveOffset, heartbeat, isStale, isRunning }: EachBatchPayload): Promise<void> {
    if (this.state !== 'running' || !isRunning() || isStale()) return;
    const p = this.indexByKey.get(batch.topic + '\u0000' + batch.partition);
    const run = p === undefined ? undefined : this.runs[p];
    if (run === undefined || run.revoking) return;
    // kafkajs's Batch keeps the offset it asked for; its typings omit it.
    const fetchedOffset = Number((batch as typeof batch & { fetchedOffset: string }).fetchedOffset);
    if (fetchedOffset !== run.fetchEnd) {
      // Fetched from somewhere else than where this run reads next (a seek not yet applied).
      this.kafkaCall(() => this.consumer!.seek({ topic: run.topic, partition: run.partition, offset: String(run.fetchEnd) }));
      return;
    }
    const messages = batch.messages;
    if (messages.length === 0) return;
    const lastOffset = messages[messages.length - 1]!.offset;
    const last = Number(lastOffset);
    if (last < run.fetchEnd) return;
    if (run.spillAt >= run.spill.length) {
      run.spill = messages;
      run.spillAt = 0;
    } else {
      // A fetch that was in flight when the spill paused the partition.
      for (const m of messages) run.spill.push(m);
    }
    run.fetchEnd = last + 1;
    resolveOffset(lastOffset);
    this.feed(run);
    const deadline = performance.now() + SPILL_WAIT_MS;
    while (run.spillAt < run.spill.length && run.active && !run.revoking && this.state === 'running' && isRunning() && !isStale()) {
      const left = deadline - performance.now();
      if (left <= 0) {
        this.pausePartition(run);
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { run.drained = undefined; resolve(); }, Math.min(left, SPILL_HEARTBEAT_MS));
        run.drained = () => { clearTimeout(timer); resolve(); };
      });
      run.drained = undefined;
      if (run.spillAt < run.spill.length && run.active && !run.revoking) await heartbeat();
    }
  }

  /** Moves spilled records into the window (spec Fetch) as far as it has room. */
  private feed(run: PartitionRun): void {
    if (run.revoking) return;
    const room = this.config.maxInFlightPerPartition - (run.position - run.base);
    const spill = run.spill;
    if (room > 0 && run.spillAt < spill.length) {
      const base = run.position;
      const limit = Math.min(run.fetchEnd, base + room);
      const count = limit - base;
      const cmds = this.core.fetched(run.p, base, count);
      // The core accepts what fits its window; a Seek back means it took less.
      let accepted = count;
      for (let i = 0; i < cmds.count; i++) {
        if (cmds.op(i) === CommandOp.Seek && cmds.p(i) === run.p) accepted = cmds.a(i) - base;
      }
      const end = base + accepted;
      let at = run.spillAt;
      const lastAt = at + accepted - 1;
      if (accepted > 0 && lastAt < spill.length && Number(spill[at]!.offset) === base && Number(spill[lastAt]!.offset) === end - 1) {
        // No gap (offsets rise strictly, so first and last fix every one in between).
        for (let i = at; i <= lastAt; i++) run.records.push(spill[i]!);
        at = lastAt + 1;
      } else {
        for (let o = base; o < end; o++) {
          const msg = spill[at];
          if (msg !== undefined && Number(msg.offset) === o) {
            run.records.push(msg);
            at++;
          } else {
            run.records.push(null);
          }
        }
      }
      run.spillAt = at;
      run.position = end;
      if (at >= spill.length) {
        run.spill = [];
        run.spillAt = 0;
      }
      this.execute(cmds);
    }
    if (run.spillAt >= run.spill.length) {
      run.drained?.();
      if (run.kafkaPaused && !run.corePaused && run.active && this.state === 'running') this.resumePartition(run);
    }
  }

  // ------------------------------------------------------ handler pool --

  private startWorker(run: PartitionRun): void {
    if (run.running || !run.active || run.revoking) return;
    run.running = true;
    run.worker = this.runWorker(run).catch((e: unknown) => this.config.onError(e));
  }

  /**
   * Runs the records of one partition in offset order from run.nextToRun, in
   * chunks; each chunk is reported to the core in one call.
   */
  private async runWorker(run: PartitionRun): Promise<void> {
    const handler = this.config.handler;
    try {
      while (run.mayRun && run.active && !run.revoking && this.state === 'running') {
        run.mayRun = false;
        const from = run.nextToRun;
        const end = Math.min(run.position, from + CHUNK);
        let o = from;
        let failed = false;
        const chunkEnd = performance.now() + CHUNK_MS;
        while (o < end && this.state === 'running' && !run.revoking) {
          const i = o - run.base;
          const record = run.records[i];
          if (record === null || record === undefined) {
            run.outcomes[i] = ABSENT;
            o++;
            continue;
          }
          if (typeof record === 'string') {
            // Handled already (released after its handler): its outcome stands.
            o++;
            continue;
          }
          const tx = new MessageTx(
            run.topic, run.partition, o, run.failures + 1, record.key ?? null, record.value ?? null, record.headers ?? {}, record.timestamp);
          try {
            // A handler that returns no promise costs no microtask.
            const pending = handler(tx, tx);
            if (pending !== undefined && pending !== null && typeof (pending as Promise<void>).then === 'function') await pending;
          } catch (e) {
            tx.open = false;
            run.failures++;
            run.lastError = e;
            failed = true;
            break;
          }
          tx.open = false;
          if (!run.active) return;
          // Index from the base as it is now: a commit may have moved it while the handler ran.
          const at = o - run.base;
          // Not the tx itself: it holds the record's key, value and headers.
          run.outcomes[at] = tx.effects === null ? DONE_NO_EFFECTS : { effects: tx.effects, deadLetter: null, absent: false };
          run.records[at] = record.timestamp;
          if (run.failures !== 0) {
            run.failures = 0;
            run.lastError = undefined;
          }
          o++;
          // The clock is read every 16 records: a fast handler is not slowed by it.
          if ((o & 15) === 0 && performance.now() > chunkEnd) break;
        }
        if (!run.active) return;
        run.nextToRun = o;
        this.counters.handled += o - from;
        if (o > from) this.execute(this.core.succeededRange(run.p, from, o));
        if (failed) {
          // The RunHandler(p, o) that succeededRange just issued is the run that failed.
          run.mayRun = false;
          this.counters.failed++;
          this.tickCore();
          this.execute(this.core.handlerFailed(run.p, o));
          if (run.failures <= this.config.maxRetries) this.scheduleTick(this.config.retryBackoff);
        }
        if (run.mayRun) await yieldToEventLoop();
      }
    } finally {
      // Here, not in a .finally() of the promise: a run that ends synchronously (a sync
      // handler that throws) must be restartable by a RunHandler later in the same tick.
      run.running = false;
      run.worker = undefined;
    }
  }

  // ---------------------------------------------------------- commands --

  /** Executes a batch of core commands.  Never calls the core itself (workers start afterwards). */
  private execute(cmds: CommandBatch): void {
    for (let i = 0; i < cmds.count; i++) {
      const p = cmds.p(i);
      const run = this.runs[p];
      switch (cmds.op(i)) {
        case CommandOp.RunHandler: {
          if (run === undefined) break;
          const o = cmds.a(i);
          if (o === run.nextToRun) {
            run.mayRun = true;
            this.startQueue.push(run);
          }
          break;
        }
        case CommandOp.WriteLedger:
          if (run !== undefined) this.queueWrite(run, cmds.a(i), cmds.b(i), cmds.c(i));
          break;
        case CommandOp.ReadLedger:
          if (run !== undefined) this.reader.read(run, cmds.a(i));
          break;
        case CommandOp.DeadLetter:
          if (run !== undefined) this.deadLetter(run, cmds.a(i));
          break;
        case CommandOp.CommitBroker:
          if (run !== undefined) this.queueBrokerCommit(run, cmds.a(i));
          break;
        case CommandOp.Pause: {
          if (run !== undefined) {
            // A full window: eachBatch holds the next fetch back (onBatch); kafkajs is paused only for a spill that waits too long.
            run.corePaused = true;
            break;
          }
          const ref = this.refs[p]!;
          this.kafkaCall(() => this.consumer!.pause([{ topic: ref.topic, partitions: [ref.partition] }]));
          break;
        }
        case CommandOp.Resume: {
          if (run !== undefined) {
            run.corePaused = false;
            // The window has room: spilled records enter it before kafkajs fetches more.
            if (run.spillAt < run.spill.length) this.feedQueue.push(run);
            else if (this.state === 'running') this.resumePartition(run);
            break;
          }
          const ref = this.refs[p]!;
          if (this.state === 'running') this.kafkaCall(() => this.consumer!.resume([{ topic: ref.topic, partitions: [ref.partition] }]));
          break;
        }
        case CommandOp.Seek: {
          const ref = this.refs[p]!;
          const offset = cmds.a(i);
          if (run !== undefined) {
            // kafkajs reads from here again: what was spilled past it is fetched anew.
            run.fetchEnd = offset;
            run.spill = [];
            run.spillAt = 0;
          }
          this.kafkaCall(() => this.consumer!.seek({ topic: ref.topic, partition: ref.partition, offset: String(offset) }));
          break;
        }
      }
    }
    if (this.core.tracing) this.drainTrace();
    while (this.feedQueue.length > 0) {
      const run = this.feedQueue.pop()!;
      if (run.active && this.runs[run.p] === run) this.feed(run);
    }
    while (this.startQueue.length > 0) this.startWorker(this.startQueue.pop()!);
  }

  /** Moves the core's transition records to the trace file and the observers. */
  private drainTrace(): void {
    const observers = this.observers.filter((o) => o.transition !== undefined);
    if (observers.length === 0) {
      this.trace?.drain(this.core);
      return;
    }
    const trace = this.trace;
    this.core.drainTrace((r) => {
      trace?.add(r);
      const ref = this.refs[r.p]!;
      for (const o of observers) o.transition!(r, ref);
    });
  }

  /** Command DeadLetter(p, o): the record's outcome becomes its dead letter (committed to the outbox). */
  private deadLetter(run: PartitionRun, o: number): void {
    faultPoint('mid-dead-letter');
    const record = run.records[o - run.base];
    if (typeof record === 'string') throw new Error(`DeadLetter(${run.topic}[${run.partition}], ${o}): its handler succeeded (the core dead-letters only a failed record)`);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(record?.headers ?? {})) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
    }
    const e = run.lastError;
    const deadLetter: DeadLetterEntry = {
      key: record?.key ?? null, value: record?.value ?? null, headers, timestamp: record?.timestamp ?? '0',
      error: e instanceof Error ? `${e.name}: ${e.message}` : String(e), attempts: run.failures,
    };
    run.outcomes[o - run.base] = { effects: null, deadLetter, absent: false };
    run.nextToRun = o + 1;
    run.failures = 0;
    run.lastError = undefined;
    this.counters.deadLettered++;
  }

  private pausePartition(run: PartitionRun): void {
    run.kafkaPaused = true;
    this.kafkaCall(() => this.consumer!.pause([{ topic: run.topic, partitions: [run.partition] }]));
  }

  /** Resumes kafkajs for the run unless it runs already. */
  private resumePartition(run: PartitionRun): void {
    if (!run.kafkaPaused) return;
    run.kafkaPaused = false;
    this.kafkaCall(() => this.consumer!.resume([{ topic: run.topic, partitions: [run.partition] }]));
  }

  /** kafkajs throws when its consumer group is not (yet, or any more) initialised; the next join redoes the call. */
  private kafkaCall(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.config.onError(e);
    }
  }

  // ------------------------------------------------------------- ticks --

  private now(): number { return Math.floor(performance.now()); }

  private tickCore(): void {
    this.execute(this.core.tick(this.now()));
  }

  /** Spec Retry happens on the first Tick at or after the failed record's due time. */
  private scheduleTick(afterMs: number): void {
    const due = this.now() + afterMs + 1;
    if (this.tickTimer !== undefined && this.tickDueAt <= due) return;
    clearTimeout(this.tickTimer);
    this.tickDueAt = due;
    this.tickTimer = setTimeout(() => {
      this.tickTimer = undefined;
      this.tickDueAt = Infinity;
      if (this.state !== 'running') return;
      this.tickCore();
      // Failed heads of other partitions may fall due later.
      for (const ps of this.core.snapshot().partitions) {
        if (ps.retryDueAt > 0) this.scheduleTick(Math.max(0, ps.retryDueAt - this.now()));
      }
    }, afterMs + 1);
  }

  // ------------------------------------------------------------ ledger --

  /** Command WriteLedger(p, epoch, expectedNext, upTo): queued for the next group commit. */
  private queueWrite(run: PartitionRun, epoch: number, expectedNext: number, upTo: number): void {
    const from = expectedNext - run.base;
    const outcomes = run.outcomes.slice(from, upTo - run.base) as Outcome[];
    const write: LedgerWrite = { topic: run.topic, partition: run.partition, epoch, expectedNext, upTo, outcomes };
    this.unsafeLedger?.commitBrokerFirst(run, upTo);
    this.writer.add(run, write);
  }

  private onLedgerResults(batch: readonly PendingWrite[], results: readonly FinalResult[], durationMs: number): void {
    this.counters.ledgerCommits++;
    if (this.observers.some((o) => o.ledgerCommit !== undefined)) this.reportCommit(batch, results, durationMs);
    for (let i = 0; i < batch.length; i++) this.onLedgerAnswer(batch[i]!, results[i]!);
  }

  private reportCommit(batch: readonly PendingWrite[], results: readonly FinalResult[], durationMs: number): void {
    const writes: CommittedWrite[] = [];
    for (let i = 0; i < batch.length; i++) writes.push(this.committedWrite(batch[i]!.run, batch[i]!.write, results[i]!.status === 'committed'));
    const event: LedgerCommitEvent = { durationMs, recovered: false, committedAtMs: Date.now(), writes };
    for (const o of this.observers) o.ledgerCommit?.(event);
  }

  /** One write as the ledgerCommit observers see it; the run's records must still hold its range. */
  private committedWrite(run: PartitionRun, write: LedgerWrite, accepted: boolean): CommittedWrite {
    let deadLettered = 0;
    if (accepted) for (const o of write.outcomes) if (o.deadLetter !== null) deadLettered++;
    let firstTimestampMs = -1;
    for (let o = write.expectedNext; o < write.upTo && o - run.base < run.records.length; o++) {
      const record = run.records[o - run.base];
      if (record !== null && record !== undefined) {
        firstTimestampMs = Number(typeof record === 'string' ? record : record.timestamp);
        break;
      }
    }
    return { topic: write.topic, partition: write.partition, from: write.expectedNext, upTo: write.upTo, accepted, deadLettered, firstTimestampMs };
  }

  /** Input LedgerUnknown (spec LoseAnswer) for each write whose answer was lost; the core asks for the row (ReadLedger). */
  private onLedgerLost(writes: readonly PendingWrite[]): void {
    for (const { run, write } of writes) {
      if (!run.active || this.runs[run.p] !== run) continue;
      this.counters.ledgerLostAnswers++;
      run.lostWrite = write;
      for (const o of this.observers) o.ledgerAnswerLost?.(run);
      this.execute(this.core.ledgerUnknown(run.p));
    }
  }

  /**
   * Input LedgerRead(p, epoch, next) (spec Recover): the core decides from
   * the row -- committed (Commit, CommitBroker), not applied (a new
   * WriteLedger), or fenced (CommitRejected) -- and the run follows what it
   * decided, read from the core's own state before its commands run.
   */
  private onLedgerRow(run: PartitionRun, row: LedgerRow | undefined): void {
    if (!run.active || this.runs[run.p] !== run) return;
    let cmds: CommandBatch;
    try {
      cmds = this.core.ledgerRead(run.p, row?.epoch ?? 0, row?.next ?? 0);
    } catch (e) {
      if (e instanceof UnheldPartitionError) return;
      this.fatal(new ConsumerFatalError({ topic: run.topic, partition: run.partition, offset: run.base },
        `the ledger row read after a lost answer (epoch ${row?.epoch ?? 0}, next ${row?.next ?? 0})`, e));
      return;
    }
    const held = this.core.snapshot().partitions.find((x) => x.p === run.p);
    const lost = run.lostWrite;
    run.lostWrite = undefined;
    if (held === undefined) {
      this.counters.ledgerRejections++;
      this.drop(run);
    } else if (held.base > run.base) {
      if (lost !== undefined && this.observers.some((o) => o.ledgerCommit !== undefined)) {
        const event: LedgerCommitEvent = { durationMs: NaN, recovered: true, committedAtMs: Date.now(), writes: [this.committedWrite(run, lost, true)] };
        for (const o of this.observers) o.ledgerCommit?.(event);
      }
      const deadLetters = this.advance(run, held.base);
      this.counters.ledgerCommits++;
      this.execute(cmds);
      if (deadLetters) this.relay?.kick(run);
      return;
    }
    this.execute(cmds);
  }

  /** The window drops its committed prefix up to next (Commit); true when it held dead letters (the relay has work). */
  private advance(run: PartitionRun, next: number): boolean {
    const k = next - run.base;
    let deadLetters = false;
    for (let i = 0; i < k; i++) {
      const o = run.outcomes[i];
      if (o !== undefined && o.deadLetter !== null) deadLetters = true;
    }
    run.records.splice(0, k);
    run.outcomes.splice(0, k);
    run.base = next;
    this.counters.committed += k;
    return deadLetters;
  }

  /** LedgerCommitted or LedgerRejected, unless the run was dropped meanwhile. */
  private onLedgerAnswer({ run }: PendingWrite, result: FinalResult): void {
    if (!run.active || this.runs[run.p] !== run) return;
    if (result.status === 'committed') {
      const deadLetters = this.advance(run, result.next);
      this.execute(this.core.ledgerCommitted(run.p, result.next));
      if (deadLetters) this.relay?.kick(run);
      return;
    }
    this.counters.ledgerRejections++;
    this.drop(run);
    try {
      this.execute(this.core.ledgerRejected(run.p));
    } catch (e) {
      if (!(e instanceof UnheldPartitionError)) throw e;
    }
  }

  // ------------------------------------------------- advisory offsets --

  /** Command CommitBroker(p, offset): coalesced per partition, sent every brokerCommitIntervalMs. */
  private queueBrokerCommit(run: PartitionRun, offset: number): void {
    this.brokerOffsets.set(run.p, { run, offset });
    this.scheduleBrokerCommit();
  }

  private scheduleBrokerCommit(): void {
    if (this.brokerTimer !== undefined) return;
    this.brokerTimer = setTimeout(() => {
      this.brokerTimer = undefined;
      void this.commitBrokerOffsets();
    }, this.config.brokerCommitIntervalMs);
  }

  private async commitBrokerOffsets(): Promise<void> {
    if (this.brokerCommitting !== undefined) await this.brokerCommitting;
    // A CommitBroker the core issued for a run that a rebalance has since
    // dropped waits until this consumer holds the partition again and is
    // then sent as the current run's base: the ledger's next as this run
    // read it, never below the dropped one's (spec CommitBroker(c, p) sets
    // the group offset to local[c][p].base).  Without the carry-over a
    // partition whose last records were committed just before a rebalance
    // kept its group offset behind the ledger for good.
    const sent: { run: PartitionRun; offset: number }[] = [];
    for (const [p, entry] of this.brokerOffsets) {
      const run = entry.run.active ? entry.run : this.runs[p];
      if (run === undefined || !run.active) continue;
      this.brokerOffsets.delete(p);
      sent.push(run === entry.run ? entry : { run, offset: Math.max(entry.offset, run.base) });
    }
    if (this.brokerOffsets.size > 0 && this.state === 'running') this.scheduleBrokerCommit();
    if (sent.length === 0 || this.consumer === undefined) return;
    const offsets = sent.map(({ run, offset }) => ({ topic: run.topic, partition: run.partition, offset: String(offset) }));
    // Advisory only: recovery reads the ledger, so a failed commit is
    // reported and sent again on the next interval unless a newer offset of
    // the partition is queued meanwhile.
    this.brokerCommitting = this.consumer.commitOffsets(offsets).catch((e: unknown) => {
      this.config.onError(e);
      if (this.state !== 'running') return;
      for (const entry of sent) if (!this.brokerOffsets.has(entry.run.p)) this.brokerOffsets.set(entry.run.p, entry);
      if (this.brokerOffsets.size > 0) this.scheduleBrokerCommit();
    }).finally(() => { this.brokerCommitting = undefined; });
    await this.brokerCommitting;
  }

  // ----------------------------------------------------------- helpers --

  private indexOf(topic: string, partition: number): number {
    const key = topic + '\u0000' + partition;
    let p = this.indexByKey.get(key);
    if (p === undefined) {
      p = this.refs.length;
      this.refs.push({ topic, partition });
      this.indexByKey.set(key, p);
      this.trace?.declarePartition(p, topic, partition);
    }
    return p;
  }
}

/** Resolves when `work` settles or at `deadline` (Date.now), whichever comes first. */
async function untilOrTimeout(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())); });
  try {
    await Promise.race([work.then(() => undefined, () => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
