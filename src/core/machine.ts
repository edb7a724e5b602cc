// The TypeScript reference DCSM: one consumer process, the spec's local[c].
//
// step(state, input) applies one input and returns the commands it produced;
// stepBatch applies several inputs as one Ready cycle.  No clock, randomness
// or I/O: time arrives as Tick(now).  `state` is updated in place (ownership
// passes to step); snapshot() it first to keep the old one.
//
// Every transition is one spec action and emits one trace record (a run of
// Fetch steps is one record with a count, see trace-check/SCHEMA.md):
//
//   input               actions (in this order)
//   Assigned            Assign
//   Revoked             Revoke
//   Fetched             Fetch x n, then Begin if the head became startable
//   HandlerSucceeded    Succeed, then Begin of the next offset
//   HandlerFailed       Fail, then DeadLetter + Begin when retries are spent
//   LedgerCommitted     Commit, CommitBroker
//   LedgerRejected      CommitRejected
//   LedgerUnknown       LoseAnswer (command ReadLedger)
//   LedgerRead          Recover, then by RecoverDecision: Commit, CommitBroker
//                       (Committed); CommitRejected (Rejected); nothing more
//                       (NoAnswer: the Ready point sends the write again)
//   Tick                Retry of every due failed head, ascending partition
//   (Ready point)       WriteLedger, at the end of every step (below)
//
// The ledger contract (spec WriteLedger .. Recover): at most one WriteLedger
// per partition is in flight.  At the end of each step (the Ready point),
// every partition the step touched that has a finished prefix and no write in
// flight gets WriteLedger(p, epoch, base, base + FinishedPrefixLen), the spec
// action WriteLedger.  Its answer is LedgerCommitted(p, upTo) (= Commit),
// LedgerRejected(p) (= CommitRejected), or LedgerUnknown(p) (= LoseAnswer:
// the connection dropped and the outcome is unknown).  After LedgerUnknown
// the core asks for the row (command ReadLedger(p, epoch)): the runtime must
// first settle the lost write (terminate its database connection), then read
// the row and give LedgerRead(p, row.epoch, row.next) (= Recover), which
// decides as the spec's RecoverDecision:
//   row.epoch = epoch and row.next = writeUpTo   Committed: Commit, CommitBroker
//   row.epoch = epoch and row.next = base        NoAnswer: not applied; written again
//   row.epoch > epoch                            Rejected: CommitRejected
// Any other row is impossible (StaleEpochError, LedgerNextMismatchError), and
// while the answer is lost LedgerCommitted / LedgerRejected / LedgerUnknown
// are AnswerLostError: only LedgerRead may follow.
//
// Inputs that the state does not allow are rejected with a typed error and
// change nothing.  Note the race this implies for the runtime:
//  1. the core issues RunHandler(p, o), WriteLedger(p, ...) or ReadLedger(p, ...);
//  2. Revoked(p) (or LedgerRejected(p)) drops p;
//  3. the handler's result, the ledger's answer or the row read for p arrives;
// step 3 is an UnheldPartitionError, which the runtime discards: the next
// holder redoes everything past the ledger's next.

import {
  AnswerLostError, AnswerNotLostError, ClockWentBackwardsError, DcsmError, HandlerNotRunningError,
  LedgerNextMismatchError, NoLedgerWriteInFlightError, OffsetOutsideWindowError, PartitionAlreadyHeldError,
  StaleEpochError, UnheldPartitionError,
} from './errors';
import { Action, makeTraceRecord, type TraceSink } from './trace';
import {
  Answer, isFinished, OffsetState, type Command, type CoreConfig, type CoreSnapshot, type Input,
  type PartitionSnapshot,
} from './types';
import { checkInput, normaliseConfig } from './validate';

interface Slot { st: OffsetState; tries: number }

/** local[c][p] of a held partition plus the core's bookkeeping. */
interface PartitionState {
  epoch: number;
  gen: number;
  /** First offset of the window = the ledger's next as this process knows it. */
  base: number;
  /** win[i] is the slot of offset base + i. */
  win: Slot[];
  /** FinishedPrefixLen(win): slots before it are finished, win[head] is the head. */
  head: number;
  paused: boolean;
  /** upTo of the WriteLedger in flight, 0 when none. */
  writeUpTo: number;
  /** Spec answer: NoAnswer, or Unknown from LedgerUnknown to LedgerRead (Committed and Rejected never outlive a step). */
  answer: Answer;
  /** When the Failed head may Retry (meaningful only while it is Failed). */
  retryDueAt: number;
}

export interface DcsmState {
  readonly config: Required<CoreConfig>;
  now: number;
  seq: number;
  readonly held: Map<number, PartitionState>;
  /** Highest epoch ever assigned per partition: an Assigned at or below it is stale. */
  readonly fences: Map<number, number>;
}

export interface StepResult {
  readonly state: DcsmState;
  readonly commands: Command[];
}

export function initialState(config: CoreConfig): DcsmState {
  return { config: normaliseConfig(config), now: 0, seq: 0, held: new Map(), fences: new Map() };
}

export function step(state: DcsmState, input: Input, trace?: TraceSink): StepResult {
  return stepBatch(state, [input], trace);
}

/**
 * Applies inputs in order as one Ready cycle.  If input i is rejected, inputs
 * 0..i-1 stay applied and flushed: the thrown DcsmError carries applied = i
 * and the commands they produced.
 */
export function stepBatch(state: DcsmState, inputs: readonly Input[], trace?: TraceSink): StepResult {
  const cycle = new ReadyCycle(state, trace ?? null);
  for (let i = 0; i < inputs.length; i++) {
    try {
      cycle.apply(inputs[i]!);
    } catch (e) {
      if (e instanceof DcsmError) {
        cycle.flush();
        e.applied = i;
        e.commands = cycle.commands;
      }
      throw e;
    }
  }
  cycle.flush();
  return { state, commands: cycle.commands };
}

/** One step's worth of work: applies inputs, collects commands, then flushes. */
class ReadyCycle {
  readonly commands: Command[] = [];
  private readonly touched: number[] = [];

  constructor(private readonly s: DcsmState, private readonly sink: TraceSink | null) {}

  apply(input: Input): void {
    checkInput(input, this.s.config.maxPartitions);
    switch (input.kind) {
      case 'Assigned': return this.assign(input.p, input.epoch, input.ledgerNext, input.gen);
      case 'Revoked': return this.revoke(input.p);
      case 'Fetched': return this.fetch(input.p, input.base, input.count);
      case 'HandlerSucceeded': return this.succeed(input.p, input.o);
      case 'HandlerFailed': return this.fail(input.p, input.o);
      case 'LedgerCommitted': return this.commit(input.p, input.next);
      case 'LedgerRejected': return this.commitRejected(input.p);
      case 'LedgerUnknown': return this.loseAnswer(input.p);
      case 'LedgerRead': return this.recover(input.p, input.epoch, input.next);
      case 'Tick': return this.tick(input.now);
    }
  }

  /** The Ready point: spec WriteLedger for touched partitions with a finished prefix and no write in flight. */
  flush(): void {
    for (const p of this.touched) {
      const ps = this.s.held.get(p);
      if (ps === undefined || ps.writeUpTo !== 0 || ps.head === 0) continue;
      ps.writeUpTo = ps.base + ps.head;
      this.emit(Action.WriteLedger, p, ps, ps.base, ps.writeUpTo);
      this.commands.push({ kind: 'WriteLedger', p, epoch: ps.epoch, expectedNext: ps.base, upTo: ps.writeUpTo });
    }
    this.touched.length = 0;
  }

  // ------------------------------------------------------------ actions --

  /** Spec Assign: the ledger was fenced with epoch; resume at its next. */
  private assign(p: number, epoch: number, ledgerNext: number, gen: number): void {
    if (this.s.held.has(p)) throw new PartitionAlreadyHeldError(`partition ${p} is already held; Revoked must come first`);
    const fence = this.s.fences.get(p) ?? 0;
    if (epoch <= fence) throw new StaleEpochError(`Assigned(${p}) epoch ${epoch} is not above the last epoch ${fence}`);
    const ps: PartitionState = { epoch, gen, base: ledgerNext, win: [], head: 0, paused: false, writeUpTo: 0, answer: Answer.NoAnswer, retryDueAt: 0 };
    this.s.held.set(p, ps);
    this.s.fences.set(p, epoch);
    this.emit(Action.Assign, p, ps, gen, 0);
    this.commands.push({ kind: 'Seek', p, offset: ledgerNext }, { kind: 'Resume', p });
  }

  /** Spec Revoke: drop the window; the next holder redoes it from the ledger. */
  private revoke(p: number): void {
    const ps = this.heldOrThrow(p);
    this.s.held.delete(p);
    this.emit(Action.Revoke, p, null, ps.epoch, 0);
  }

  /**
   * Spec Fetch, once per accepted record.  Only the window's free room is
   * accepted; for the rest the runtime must Seek(p, position) back, and a full
   * window pauses the partition until a Commit frees room.
   */
  private fetch(p: number, base: number, count: number): void {
    const ps = this.heldOrThrow(p);
    const pos = ps.base + ps.win.length;
    if (base !== pos) throw new OffsetOutsideWindowError(`Fetched(${p}) base ${base} is not the position ${pos}`);
    const accepted = Math.min(count, this.s.config.maxInFlightPerPartition - ps.win.length);
    for (let i = 0; i < accepted; i++) ps.win.push({ st: OffsetState.Pending, tries: 0 });
    if (accepted > 0) this.emit(Action.Fetch, p, ps, base, accepted);
    if (accepted < count) this.commands.push({ kind: 'Seek', p, offset: base + accepted });
    if (ps.win.length === this.s.config.maxInFlightPerPartition && !ps.paused) {
      ps.paused = true;
      this.commands.push({ kind: 'Pause', p });
    }
    this.touch(p);
    this.begin(p, ps);
  }

  /** Spec Begin: start the head when it is Pending (offset order). */
  private begin(p: number, ps: PartitionState): void {
    const slot = ps.win[ps.head];
    if (slot === undefined || slot.st !== OffsetState.Pending) return;
    slot.st = OffsetState.Processing;
    const o = ps.base + ps.head;
    this.emit(Action.Begin, p, ps, o, slot.tries);
    this.commands.push({ kind: 'RunHandler', p, o });
  }

  /** Spec Succeed, then Begin of the next offset. */
  private succeed(p: number, o: number): void {
    const ps = this.heldOrThrow(p);
    const slot = this.runningHeadOrThrow(p, ps, o);
    slot.st = OffsetState.Done;
    ps.head++;
    this.emit(Action.Succeed, p, ps, o, slot.tries);
    this.touch(p);
    this.begin(p, ps);
  }

  /** Spec Fail; when tries exceed MaxRetries, spec DeadLetter and Begin follow. */
  private fail(p: number, o: number): void {
    const ps = this.heldOrThrow(p);
    const slot = this.runningHeadOrThrow(p, ps, o);
    slot.st = OffsetState.Failed;
    slot.tries++;
    this.emit(Action.Fail, p, ps, o, slot.tries);
    this.touch(p);
    if (slot.tries <= this.s.config.maxRetries) {
      ps.retryDueAt = this.s.now + this.s.config.retryBackoffMs;
      return;
    }
    slot.st = OffsetState.DeadLettered;
    ps.head++;
    this.emit(Action.DeadLetter, p, ps, o, slot.tries);
    this.commands.push({ kind: 'DeadLetter', p, o });
    this.begin(p, ps);
  }

  /** Spec Retry for every Failed head whose backoff is over, ascending partition. */
  private tick(now: number): void {
    if (now < this.s.now) throw new ClockWentBackwardsError(`Tick(${now}) is before the last Tick(${this.s.now})`);
    this.s.now = now;
    const due = [...this.s.held.keys()].sort((a, b) => a - b);
    for (const p of due) {
      const ps = this.s.held.get(p)!;
      const slot = ps.win[ps.head];
      if (slot === undefined || slot.st !== OffsetState.Failed || ps.retryDueAt > now) continue;
      slot.st = OffsetState.Processing;
      ps.retryDueAt = 0;
      const o = ps.base + ps.head;
      this.emit(Action.Retry, p, ps, o, slot.tries);
      this.commands.push({ kind: 'RunHandler', p, o });
    }
  }

  /** Input LedgerCommitted: spec Commit (the ledger applied WriteLedger), then spec CommitBroker. */
  private commit(p: number, next: number): void {
    const ps = this.heldOrThrow(p);
    if (ps.writeUpTo === 0) throw new NoLedgerWriteInFlightError(`LedgerCommitted(${p}) without a WriteLedger in flight`);
    if (ps.answer === Answer.Unknown) throw answerLost('LedgerCommitted', p);
    if (next !== ps.writeUpTo) throw new LedgerNextMismatchError(`LedgerCommitted(${p}, ${next}) but WriteLedger asked for ${ps.writeUpTo}`);
    this.takeCommit(p, ps);
  }

  /** Spec Commit of the write in flight (answer Committed), then spec CommitBroker. */
  private takeCommit(p: number, ps: PartitionState): void {
    const from = ps.base;
    const next = ps.writeUpTo;
    const k = next - from;
    ps.win.splice(0, k);
    ps.head -= k;
    ps.base = next;
    ps.writeUpTo = 0;
    ps.answer = Answer.NoAnswer;
    this.emit(Action.Commit, p, ps, from, next);
    this.commands.push({ kind: 'CommitBroker', p, offset: next });
    this.emit(Action.CommitBroker, p, ps, next, 0);
    if (ps.paused) {
      ps.paused = false;
      this.commands.push({ kind: 'Resume', p });
    }
    this.touch(p);
  }

  /** Input LedgerRejected: spec CommitRejected. */
  private commitRejected(p: number): void {
    const ps = this.heldOrThrow(p);
    if (ps.writeUpTo === 0) throw new NoLedgerWriteInFlightError(`LedgerRejected(${p}) without a WriteLedger in flight`);
    if (ps.answer === Answer.Unknown) throw answerLost('LedgerRejected', p);
    this.takeRejected(p, ps);
  }

  /** Spec CommitRejected (answer Rejected): a newer epoch fenced the ledger; drop the partition. */
  private takeRejected(p: number, ps: PartitionState): void {
    this.s.held.delete(p);
    this.emit(Action.CommitRejected, p, null, ps.epoch, 0);
    this.commands.push({ kind: 'Pause', p });
  }

  /** Input LedgerUnknown: spec LoseAnswer; the core asks for the row (ReadLedger). */
  private loseAnswer(p: number): void {
    const ps = this.heldOrThrow(p);
    if (ps.writeUpTo === 0) throw new NoLedgerWriteInFlightError(`LedgerUnknown(${p}) without a WriteLedger in flight`);
    if (ps.answer === Answer.Unknown) throw answerLost('LedgerUnknown', p);
    ps.answer = Answer.Unknown;
    this.emit(Action.LoseAnswer, p, ps, ps.writeUpTo, 0);
    this.commands.push({ kind: 'ReadLedger', p, epoch: ps.epoch });
  }

  /**
   * Input LedgerRead(p, epoch, next): spec Recover, deciding from the row as
   * RecoverDecision; Committed and Rejected are taken in the same step (spec
   * Commit + CommitBroker, spec CommitRejected), NoAnswer leaves the window
   * as it is for the Ready point to write again.  Rows the invariants rule
   * out change nothing.
   */
  private recover(p: number, epoch: number, next: number): void {
    const ps = this.heldOrThrow(p);
    if (epoch < ps.epoch) {
      throw new StaleEpochError(`LedgerRead(${p}) row epoch ${epoch} is below the held epoch ${ps.epoch}: a ledger epoch never goes back`);
    }
    if (ps.answer !== Answer.Unknown) throw new AnswerNotLostError(`LedgerRead(${p}) without a lost answer: LedgerUnknown comes first`);
    if (epoch === ps.epoch && next !== ps.writeUpTo && next !== ps.base) {
      throw new LedgerNextMismatchError(`LedgerRead(${p}) row next ${next} under the held epoch ${epoch} is neither the write's ` +
        `expectedNext ${ps.base} nor its upTo ${ps.writeUpTo}`);
    }
    const d = epoch !== ps.epoch ? Answer.Rejected : next === ps.writeUpTo ? Answer.Committed : Answer.NoAnswer;
    ps.answer = d;
    if (d === Answer.NoAnswer) ps.writeUpTo = 0;
    this.emit(Action.Recover, p, ps, epoch, next);
    if (d === Answer.Committed) this.takeCommit(p, ps);
    else if (d === Answer.Rejected) this.takeRejected(p, ps);
    else this.touch(p);
  }

  // ------------------------------------------------------------ helpers --

  private heldOrThrow(p: number): PartitionState {
    const ps = this.s.held.get(p);
    if (ps === undefined) throw new UnheldPartitionError(`partition ${p} is not held`);
    return ps;
  }

  private runningHeadOrThrow(p: number, ps: PartitionState, o: number): Slot {
    const pos = ps.base + ps.win.length;
    if (o < ps.base || o >= pos) throw new OffsetOutsideWindowError(`offset ${o} of partition ${p} is outside the window [${ps.base}, ${pos})`);
    const slot = ps.win[o - ps.base]!;
    if (o - ps.base !== ps.head || slot.st !== OffsetState.Processing) {
      throw new HandlerNotRunningError(`no handler is running for offset ${o} of partition ${p}`);
    }
    return slot;
  }

  private touch(p: number): void {
    if (!this.touched.includes(p)) this.touched.push(p);
  }

  /** One trace record carrying the post-state (ps null = the partition is not held). */
  private emit(action: Action, p: number, ps: PartitionState | null, a: number, b: number): void {
    this.s.seq++;
    if (this.sink === null) return;
    this.sink(ps === null
      ? makeTraceRecord(this.s.seq, action, p, 0, 0, 0, a, b)
      : makeTraceRecord(this.s.seq, action, p, ps.epoch, ps.base, ps.base + ps.win.length, a, b));
  }
}

function answerLost(input: string, p: number): AnswerLostError {
  return new AnswerLostError(`${input}(${p}) after LedgerUnknown(${p}): the answer was lost; only LedgerRead may follow`);
}

/** A canonical, deep-copied view of the state (equal states give equal snapshots). */
export function snapshot(s: DcsmState): CoreSnapshot {
  const partitions: PartitionSnapshot[] = [...s.held.entries()]
    .sort(([a], [b]) => a - b)
    .map(([p, ps]) => {
      const head = ps.win[ps.head];
      return {
        p, epoch: ps.epoch, gen: ps.gen, base: ps.base, pos: ps.base + ps.win.length, head: ps.head,
        paused: ps.paused, writeUpTo: ps.writeUpTo, answer: ps.answer === Answer.Unknown ? 'Unknown' : 'NoAnswer',
        retryDueAt: head !== undefined && head.st === OffsetState.Failed ? ps.retryDueAt : 0,
        win: ps.win.map((slot) => ({ st: slot.st, tries: slot.tries })),
      };
    });
  const fences = [...s.fences.entries()].sort(([a], [b]) => a - b).map(([p, e]) => [p, e] as const);
  return { now: s.now, seq: s.seq, partitions, fences };
}

/** Spec: FinishedPrefixLen, recomputed from the slots (used by invariant checks). */
export function finishedPrefixLen(win: readonly { st: OffsetState }[]): number {
  let k = 0;
  while (k < win.length && isFinished(win[k]!.st)) k++;
  return k;
}
