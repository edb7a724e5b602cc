// The fast trace checker: replays the merged records of every process of a
// run through the transition relation of spec/DCSM.tla and checks the
// safety invariants after every step.
//
// Written from spec/DCSM.tla alone; it shares no code with src/core or
// native/ (only the record codes of SCHEMA.md).  Each file is one spec
// consumer c.  The spec state is kept in a compact but exact form:
//
//   ledger[p]      next, epoch, writer, and the number of Done / DeadLettered
//                  outcomes appended (effects and dlq are appended as whole
//                  ranges [next, upTo), so the sequences need not be stored)
//   local[c][p]    epoch, gen, base, and the window as WindowShapeOK says it
//                  is: a finished prefix of `fin` slots (the DeadLettered
//                  offsets among them listed), one head slot (st, tries),
//                  then Pending slots up to `len`; writeUpTo and answer
//   writes[p]      the WriteLedger transactions the database has not settled
//                  (sender, epoch, expectedNext, upTo, dead letters among them)
//   log, owner, gen, brokerOffset as in the spec
//
// The database's own steps (ApplyWrite, AbortWrite) are in no trace: a write
// is applied when a record needs it -- the answer (Commit, CommitRejected),
// the Recover that read the row, a fence that read the next it set, or the
// ledger's final row -- and aborted when a Recover shows it did not apply.
//
// Invariants are checked in their incremental form: a step only changes one
// partition and one consumer, so each invariant is re-checked for exactly
// what the step changed (with the inductive facts that make this equivalent
// stated where they are used).
//
// Merge rule (SCHEMA.md, "Merge rule of the checkers"): records of one file
// are taken in file order; a record of another file may be taken whenever it
// is enabled.  Only four records wait for other processes: Assign (its epoch
// must be the ledger's epoch + 1 and its base the ledger's next, or the upTo
// of a write in flight that applies), CommitRejected (the ledger must have
// moved away from the holder) and Recover (the row it read must be there).  Every
// other record is either enabled or a violation.  Environment steps
// (Produce, Rebalance) are inserted when a record needs them.

import { A, ACTION_NAME, readPartitionMap, renderRec, type Rec, TraceCursor, TraceFormatError } from './parse';

// Window head states.
const NONE = 0, PENDING = 1, PROCESSING = 2, FAILED = 3;
const HEAD_NAME = ['-', 'Pending', 'Processing', 'Failed'];

const NO_CONSUMER = -1;

// Answers (spec Answers) and how a consumer's last write settled.
const NO_ANSWER = 0, COMMITTED = 1, REJECTED = 2, UNKNOWN = 3;
const ANSWER_NAME = ['NoAnswer', 'Committed', 'Rejected', 'Unknown'];
const UNSETTLED = 0, APPLIED = 1, NOT_APPLIED = 2;

/** A WriteRec in writes[p]. */
interface Write {
  readonly c: number;
  readonly epoch: number;
  readonly expectedNext: number;
  readonly upTo: number;
  /** DeadLettered offsets among expectedNext..upTo-1 (the rest are Done). */
  readonly deadIn: number;
}

class Local {
  epoch = 0;
  gen = 0;
  base = 0;
  len = 0;
  /** FinishedPrefixLen(win). */
  fin = 0;
  /** DeadLettered offsets within the finished prefix, ascending. */
  dead: number[] = [];
  /** State and tries of the head slot (index fin), when fin < len. */
  headSt = NONE;
  headTries = 0;
  /** upTo of the WriteLedger in flight, 0 = none. */
  writeUpTo = 0;
  answer = NO_ANSWER;
  /** How that write left writes[p] (UNSETTLED while it is there). */
  settled = UNSETTLED;

  drop(): void {
    this.epoch = 0; this.gen = 0; this.base = 0; this.len = 0; this.fin = 0; this.dead = []; this.headSt = NONE; this.headTries = 0;
    this.writeUpTo = 0; this.answer = NO_ANSWER; this.settled = UNSETTLED;
  }

  describe(): string {
    if (this.epoch === 0) return 'NotHeld';
    const head = this.fin < this.len ? `${HEAD_NAME[this.headSt]}(tries ${this.headTries}) at ${this.base + this.fin}` : 'none';
    const write = this.writeUpTo === 0 ? 'none' : `up to ${this.writeUpTo}, answer ${ANSWER_NAME[this.answer]}`;
    return `[epoch ${this.epoch}, gen ${this.gen}, base ${this.base}, Position ${this.base + this.len}, ` +
      `window ${this.len} slots: ${this.fin} finished (${this.dead.length} DeadLettered), head ${head}, write in flight ${write}]`;
  }
}

/** DeadLettered offsets of l's finished prefix below upTo (l.dead is ascending). */
function deadBelow(l: Local, upTo: number): number {
  let n = 0;
  while (n < l.dead.length && l.dead[n]! < upTo) n++;
  return n;
}

class Partition {
  log = 0;
  owner = NO_CONSUMER;
  gen = 0;
  brokerOffset = 0;
  next = 0;
  epoch = 0;
  writer = 0;
  effects = 0;
  dlq = 0;
  /** The consumer holding the ledger's current epoch, or -1. */
  holder = -1;
  /** writes[p]: at most one per epoch (WriteInFlightInv). */
  writes: Write[] = [];
}

/** The ledger's own account of a run (written by the harness from the ledger tables). */
export interface LedgerDump {
  /** Per partition: the final row of htmqc_partitions. */
  readonly partitions: Record<string, { next: number; epoch: number }>;
  /** Per partition: for each epoch that committed, the offsets its commits cover ([lo, hi], contiguous). */
  readonly epochRanges: Record<string, { epoch: number; lo: number; hi: number }[]>;
}

export interface CheckOptions {
  /** Spec MaxRetries of the run (Retry needs tries <= MaxRetries, DeadLetter tries > MaxRetries). */
  readonly maxRetries: number;
  /** Spec Window; unbounded when absent. */
  readonly window?: number;
  /** Per partition: the log end offset at the end of the run (completeness and the bound of Fetch). */
  readonly endOffsets?: Record<string, number>;
  /**
   * The ledger's account.  When given, the trace tail a SIGKILLed process never
   * wrote (its last fence, or its last commit per partition) may be inferred
   * from it; without it every accepted commit and fence must be in a trace.
   */
  readonly ledger?: LedgerDump;
  /** Records of the merged order are passed here, as checked (for TLC slices). */
  readonly onStep?: (c: number, r: Rec, inferred: boolean, line: number) => void;
}

export interface Violation {
  /** Index of the record's file among the checked files (-1: the end-of-run checks). */
  readonly c: number;
  /** The record in the binary layout, its p mapped (undefined for format and end-of-run failures). */
  readonly rec?: Rec;
  readonly file: string;
  readonly line: number;
  readonly record: string;
  readonly action: string;
  /** Why the step is not allowed: the failed guard or invariant. */
  readonly reason: string;
  /** The abstract state of the record's partition before the step. */
  readonly stateBefore: string;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly violation?: Violation;
  readonly records: number;
  readonly bytes: number;
  readonly files: number;
  readonly partitions: number;
  readonly steps: number;
  readonly commits: number;
  readonly committedOffsets: number;
  readonly deadLettered: number;
  readonly rebalancesInserted: number;
  readonly lostCommitsInferred: number;
  readonly lostFencesInferred: number;
  /** LoseAnswer records, and the Recover decisions that resolved them. */
  readonly lostAnswers: number;
  readonly recovered: { readonly committed: number; readonly notApplied: number; readonly rejected: number };
  readonly tornLines: number;
  /** Per partition: the ledger's next after replay. */
  readonly ledgerNext: Record<string, number>;
  /** Offsets below the end offsets the ledger never reached (completeness). */
  readonly lost: number;
  readonly seconds: number;
}

class Blocked {
  constructor(readonly reason: string) {}
}

class Fault extends Error {}

export class Checker {
  private readonly cursors: TraceCursor[] = [];
  private readonly locals: Local[][] = [];
  private readonly parts: Partition[] = [];
  private readonly lostFenceUsed: boolean[] = [];
  private readonly window: number;
  private steps = 0;
  private commits = 0;
  private committedOffsets = 0;
  private deadLettered = 0;
  private rebalances = 0;
  private lostCommits = 0;
  private lostAnswers = 0;
  private readonly recovered = { committed: 0, notApplied: 0, rejected: 0 };
  private lostFences = 0;

  constructor(private readonly opts: CheckOptions) {
    this.window = opts.window ?? Number.MAX_SAFE_INTEGER;
    for (const [p, end] of Object.entries(opts.endOffsets ?? {})) this.ends[Number(p)] = end;
  }

  private readonly ends: number[] = [];

  addFile(file: string, name = file): void {
    this.pendingFiles.push([file, name]);
  }

  private readonly pendingFiles: [string, string][] = [];

  private open(): void {
    for (const [file, name] of this.pendingFiles) this.openFile(file, name);
  }

  private openFile(file: string, name: string): void {
    this.cursors.push(new TraceCursor(file, name, readPartitionMap(file)));
    this.locals.push([]);
    this.lostFenceUsed.push(false);
  }

  run(): CheckResult {
    const t0 = process.hrtime.bigint();
    let violation: Violation | undefined;
    try {
      this.open();
      this.replay();
      this.finish();
    } catch (e) {
      if (e instanceof TraceFormatError) {
        violation = { c: this.cursors.findIndex((x) => x.name === e.file), file: e.file, line: e.line, record: e.text, action: '?', reason: e.message.split('\n')[0]!, stateBefore: '(not parsed)' };
      } else if (e instanceof ViolationError) {
        violation = e.violation;
      } else {
        throw e;
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const ledgerNext: Record<string, number> = {};
    this.parts.forEach((x, p) => { if (x !== undefined) ledgerNext[p] = x.next; });
    let lost = 0;
    for (const [p, end] of Object.entries(this.opts.endOffsets ?? {})) lost += Math.max(0, end - (this.parts[Number(p)]?.next ?? 0));
    return {
      ok: violation === undefined, ...(violation === undefined ? {} : { violation }),
      records: this.cursors.reduce((n, c) => n + c.count, 0),
      bytes: this.cursors.reduce((n, c) => n + c.bytes, 0),
      files: this.cursors.length, partitions: this.parts.filter((x) => x !== undefined).length,
      steps: this.steps, commits: this.commits, committedOffsets: this.committedOffsets, deadLettered: this.deadLettered,
      rebalancesInserted: this.rebalances, lostCommitsInferred: this.lostCommits, lostFencesInferred: this.lostFences,
      lostAnswers: this.lostAnswers, recovered: { ...this.recovered },
      tornLines: this.cursors.filter((c) => c.torn).length, ledgerNext, lost, seconds,
    };
  }

  // ------------------------------------------------------------ merge --

  private replay(): void {
    const cursors = this.cursors;
    for (;;) {
      let progressed = false;
      let live = 0;
      for (let c = 0; c < cursors.length; c++) {
        const cur = cursors[c]!;
        while (!cur.done) {
          const blocked = this.step(c, cur.rec, cur, false);
          if (blocked !== undefined) break;
          progressed = true;
          cur.advance();
        }
        if (!cur.done) live++;
      }
      if (live === 0) return;
      if (progressed) {
        this.forcing = false;
        continue;
      }
      if (!this.forcing) {
        // Ordering preferences (recoverPending) only: nothing moves with them, so drop them for one round.
        this.forcing = true;
        continue;
      }
      this.forcing = false;
      if (!this.inferLostTail()) this.reportStuck();
    }
  }

  /** Applies r as consumer c's step; returns a Blocked when it must wait for another process. */
  private step(c: number, r: Rec, cur: TraceCursor | undefined, inferred: boolean): Blocked | undefined {
    const p = r.p;
    const x = this.part(p);
    const l = this.local(c, p);
    this.cur = cur;
    this.failC = c;
    this.failR = r;
    this.applied = false;
    const fail = this.fail;
    switch (r.action) {
      case A.Assign: {
        if (l.epoch !== 0) fail(`Assign needs ~Held(c, p), but this process already holds epoch ${l.epoch}`);
        if (r.epoch <= x.epoch) {
          fail(`Assign epoch ${r.epoch} was already issued (ledger epoch is ${x.epoch}): every fence issues ledger.epoch + 1 (FencingInv)`);
        }
        if (r.epoch > x.epoch + 1) return new Blocked(`waits for the fence of epoch ${x.epoch + 1} (ledger epoch ${x.epoch})`);
        if (r.base < x.next) {
          fail(`Assign reads ledger next ${r.base}, but the ledger's next is ${x.next}: offsets ${r.base}..${x.next - 1} ` +
            `would be handled and committed again (duplicates; Assign must read ledger[p].next)`);
        }
        if (r.base > x.next && !(r.epoch === x.epoch + 1 && this.applyWriteUpTo(p, r.base))) {
          return new Blocked(`waits for commits up to ${r.base} (ledger next ${x.next})`);
        }
        if (cur !== undefined && !this.forcing) {
          const recovering = this.recoverPending(c, p, x);
          if (recovering >= 0) {
            return new Blocked(`yields to the Recover in ${this.cursors[recovering]!.name}, whose row may predate this fence`);
          }
        }
        if (x.owner !== c) this.rebalance(p, c);
        x.epoch = r.epoch;
        x.writer = 0;
        x.holder = c;
        l.drop();
        l.epoch = r.epoch; l.gen = x.gen; l.base = x.next;
        break;
      }
      case A.Revoke: {
        if (l.epoch === 0) fail('Revoke needs Held(c, p)');
        if (r.a !== l.epoch) fail(`Revoke drops epoch ${r.a}, but the process holds epoch ${l.epoch}`);
        if (x.owner === c && x.gen === l.gen) this.rebalance(p, NO_CONSUMER);
        if (x.holder === c) x.holder = -1;
        l.drop();
        break;
      }
      case A.Fetch: {
        if (l.epoch === 0) fail('Fetch needs Held(c, p)');
        const n = r.b;
        if (n < 1) fail('a Fetch run has n >= 1');
        if (r.a !== l.base + l.len) fail(`Fetch of offset ${r.a}, but Position(c, p) is ${l.base + l.len} (skipped or repeated offsets)`);
        if (l.len + n > this.window) fail(`Fetch of ${n} would make the window ${l.len + n} slots, above Window = ${this.window}`);
        const end = this.ends[p];
        if (end !== undefined && r.a + n > end) fail(`Fetch up to ${r.a + n}, past the log end ${end} (OffsetOrderInv)`);
        if (r.a + n > x.log) x.log = r.a + n;
        if (l.fin === l.len) { l.headSt = PENDING; l.headTries = 0; }
        l.len += n;
        this.steps += n - 1;
        break;
      }
      case A.Begin:
      case A.Succeed:
      case A.Fail:
      case A.Retry:
      case A.DeadLetter: {
        const name = ACTION_NAME[r.action]!;
        if (l.epoch === 0) fail(`${name} needs Held(c, p)`);
        if (l.fin >= l.len) fail(`${name} needs HasHead(win): every fetched offset is finished`);
        const head = l.base + l.fin;
        if (r.a !== head) fail(`${name} of offset ${r.a}, but the head (first unfinished offset) is ${head} (offset order)`);
        switch (r.action) {
          case A.Begin:
            if (l.headSt !== PENDING) fail(`Begin needs the head Pending, it is ${HEAD_NAME[l.headSt]}`);
            if (r.b !== l.headTries) fail(`Begin reports tries ${r.b}, the slot has ${l.headTries}`);
            l.headSt = PROCESSING;
            break;
          case A.Succeed:
            if (l.headSt !== PROCESSING) fail(`Succeed needs the head Processing, it is ${HEAD_NAME[l.headSt]}`);
            if (r.b !== l.headTries) fail(`Succeed reports tries ${r.b}, the slot has ${l.headTries}`);
            this.finishHead(l);
            break;
          case A.Fail:
            if (l.headSt !== PROCESSING) fail(`Fail needs the head Processing, it is ${HEAD_NAME[l.headSt]}`);
            if (r.b !== l.headTries + 1) fail(`Fail reports tries ${r.b}, the slot's tries become ${l.headTries + 1}`);
            l.headSt = FAILED;
            l.headTries++;
            break;
          case A.Retry:
            if (l.headSt !== FAILED) fail(`Retry needs the head Failed, it is ${HEAD_NAME[l.headSt]}`);
            if (l.headTries > this.opts.maxRetries) fail(`Retry needs tries ${l.headTries} <= MaxRetries = ${this.opts.maxRetries}`);
            if (r.b !== l.headTries) fail(`Retry reports tries ${r.b}, the slot has ${l.headTries}`);
            l.headSt = PROCESSING;
            break;
          default:
            if (l.headSt !== FAILED) fail(`DeadLetter needs the head Failed, it is ${HEAD_NAME[l.headSt]}`);
            if (l.headTries <= this.opts.maxRetries) fail(`DeadLetter needs tries ${l.headTries} > MaxRetries = ${this.opts.maxRetries}`);
            if (r.b !== l.headTries) fail(`DeadLetter reports tries ${r.b}, the slot has ${l.headTries}`);
            l.dead.push(head);
            this.finishHead(l);
            break;
        }
        break;
      }
      case A.WriteLedger: {
        if (l.epoch === 0) fail('WriteLedger needs Held(c, p)');
        if (r.epoch !== l.epoch) fail(`WriteLedger by epoch ${r.epoch}, but the process holds epoch ${l.epoch}`);
        if (l.writeUpTo !== 0) fail(`WriteLedger while the write up to ${l.writeUpTo} is in flight (one write per partition)`);
        if (r.a !== l.base) fail(`WriteLedger expects next ${r.a}, but the window starts at ${l.base}`);
        const k = r.b - l.base;
        if (k < 1 || k > l.fin) fail(`WriteLedger of ${k} offsets [${l.base}, ${r.b}), but the finished prefix has ${l.fin} (only finished offsets may be written)`);
        const deadIn = deadBelow(l, r.b);
        x.writes.push({ c, epoch: l.epoch, expectedNext: l.base, upTo: r.b, deadIn });
        l.writeUpTo = r.b;
        l.answer = NO_ANSWER;
        l.settled = UNSETTLED;
        break;
      }
      case A.LoseAnswer: {
        if (l.epoch === 0) fail('LoseAnswer needs Held(c, p)');
        if (l.writeUpTo === 0) fail('LoseAnswer needs a write in flight');
        if (r.b !== l.writeUpTo) fail(`LoseAnswer of the write up to ${r.b}, but the write in flight goes up to ${l.writeUpTo}`);
        if (l.answer === UNKNOWN) fail('LoseAnswer of an answer already lost');
        l.answer = UNKNOWN;
        this.lostAnswers++;
        break;
      }
      case A.Recover: {
        if (l.epoch === 0) fail('Recover needs Held(c, p)');
        if (l.answer !== UNKNOWN) fail(`Recover needs a lost answer, the answer is ${ANSWER_NAME[l.answer]}`);
        const rowEpoch = r.a, rowNext = r.b;
        if (rowEpoch < l.epoch) fail(`Recover read epoch ${rowEpoch}, below the epoch ${l.epoch} the process holds (FencingInv)`);
        if (rowEpoch > x.epoch) return new Blocked(`waits for the fence of epoch ${rowEpoch} it read (ledger epoch ${x.epoch})`);
        if (rowEpoch < x.epoch) {
          fail(`Recover read the row of epoch ${rowEpoch}, but the ledger is at epoch ${x.epoch}: a fence the merge could not ` +
            'put after this read (spec Recover reads the current row)');
        }
        if (rowEpoch === l.epoch && rowNext !== l.base && rowNext !== l.writeUpTo) {
          fail(`Recover read next ${rowNext} under its own epoch, neither its window's base ${l.base} nor its write's upTo ${l.writeUpTo}`);
        }
        const shownApplied = rowEpoch === l.epoch && rowNext === l.writeUpTo;
        // WriteSettled(p, epoch): the lost write settles here if the merge has not settled it yet.
        const own = this.writeOf(p, l.epoch);
        if (own !== undefined) {
          if (shownApplied) {
            if (!this.accepts(own, x)) fail(`Recover read the write up to ${l.writeUpTo} applied, but the ledger (epoch ${x.epoch}, next ${x.next}) refuses it`);
            this.applyWrite(p, own, false);
          } else {
            // Not applied under its own epoch; or fenced, and the fence (merged) read the old next.
            this.abortWrite(p, own);
          }
        }
        if (rowEpoch === x.epoch && rowNext > x.next) return new Blocked(`waits for commits up to ${rowNext} it read (ledger next ${x.next})`);
        if (rowEpoch === x.epoch && rowNext !== x.next) fail(`Recover read next ${rowNext}, but the ledger's next is ${x.next}`);
        let d: number;
        if (shownApplied) {
          if (l.settled !== APPLIED) fail(`Recover read the write up to ${l.writeUpTo} applied, but it did not apply`);
          d = COMMITTED;
        } else if (rowEpoch === l.epoch) {
          if (l.settled === APPLIED) fail(`Recover read next ${rowNext} (not applied), but the write up to ${l.writeUpTo} applied`);
          d = NO_ANSWER;
        } else {
          d = REJECTED;
        }
        if (d === NO_ANSWER) { l.writeUpTo = 0; l.answer = NO_ANSWER; l.settled = UNSETTLED; } else l.answer = d;
        if (d === COMMITTED) this.recovered.committed++;
        else if (d === NO_ANSWER) this.recovered.notApplied++;
        else this.recovered.rejected++;
        break;
      }
      case A.Commit: {
        if (l.epoch === 0) fail('Commit needs Held(c, p)');
        if (r.epoch !== l.epoch) fail(`Commit by epoch ${r.epoch}, but the process holds epoch ${l.epoch}`);
        if (r.a !== l.base) fail(`Commit from ${r.a}, but the window starts at ${l.base} (a repeated or skipped commit)`);
        if (l.writeUpTo === 0) fail('Commit needs a write in flight (no WriteLedger before it)');
        if (r.b !== l.writeUpTo) fail(`Commit up to ${r.b}, but the write in flight goes up to ${l.writeUpTo}`);
        if (l.answer === NO_ANSWER) {
          // The database applies the write now (ApplyWrite), and the answer is taken.
          if (l.epoch !== x.epoch) {
            fail(`Commit by stale epoch ${l.epoch}: the ledger was fenced with epoch ${x.epoch} before the write applied, so it ` +
              'must have been rejected (CommitAccepted; FencingInv)');
          }
          if (l.base !== x.next) fail(`Commit from ${l.base}, but the ledger's next is ${x.next} (CommitAccepted)`);
          if (cur !== undefined) {
            const fence = this.enabledFence(c, p, x);
            if (fence >= 0) return new Blocked(`yields to the fence in ${this.cursors[fence]!.name}:${this.cursors[fence]!.line}`);
            const read = this.enabledRecover(c, p, x);
            if (read >= 0) return new Blocked(`yields to the Recover in ${this.cursors[read]!.name}:${this.cursors[read]!.line}, which read the row before this write`);
          }
          const own = this.writeOf(p, l.epoch);
          if (own === undefined) fail('internal: a write awaiting its answer is not in writes[p]');
          this.applyWrite(p, own!, inferred);
        } else if (l.answer !== COMMITTED) {
          fail(`Commit, but the answer to the write is ${ANSWER_NAME[l.answer]}`);
        }
        const k = r.b - l.base;
        const deadIn = deadBelow(l, r.b);
        l.dead = deadIn === 0 ? l.dead : l.dead.slice(deadIn);
        l.base = r.b; l.len -= k; l.fin -= k;
        l.writeUpTo = 0; l.answer = NO_ANSWER; l.settled = UNSETTLED;
        break;
      }
      case A.CommitRejected: {
        if (l.epoch === 0) fail('CommitRejected needs Held(c, p)');
        if (r.a !== l.epoch) fail(`CommitRejected drops epoch ${r.a}, but the process holds epoch ${l.epoch}`);
        if (l.writeUpTo === 0) fail('CommitRejected needs a write in flight (nothing was written)');
        if (l.answer === NO_ANSWER) {
          const own = this.writeOf(p, l.epoch);
          if (own === undefined) fail('internal: a write awaiting its answer is not in writes[p]');
          if (this.accepts(own!, x)) {
            return new Blocked(`waits for a fence of partition ${p} (the ledger would accept epoch ${l.epoch} from ${l.base})`);
          }
          this.applyWrite(p, own!, inferred);
        } else if (l.answer !== REJECTED) {
          fail(`CommitRejected, but the answer to the write is ${ANSWER_NAME[l.answer]}`);
        }
        if (x.holder === c) x.holder = -1;
        l.drop();
        break;
      }
      case A.CommitBroker: {
        if (l.epoch === 0) fail('CommitBroker needs Held(c, p)');
        if (r.a !== l.base) fail(`CommitBroker of offset ${r.a}, but the ledger's next as the process knows it is ${l.base} (only committed offsets)`);
        // Kafka rejects a commit of a member of an old generation; then the step
        // changes nothing.  A commit of the current offset again is a stutter.
        if (x.owner === c && x.gen === l.gen && x.brokerOffset !== l.base) x.brokerOffset = l.base;
        break;
      }
      default:
        fail(`unknown action code ${r.action}`);
    }
    this.applied = true;
    // Post-state fields of the record.
    if (r.epoch !== l.epoch || r.base !== l.base || r.pos !== l.base + l.len) {
      fail(`post-state (epoch ${r.epoch}, base ${r.base}, pos ${r.pos}) differs from the spec's ` +
        `(epoch ${l.epoch}, base ${l.base}, Position ${l.base + l.len})`);
    }
    this.checkInvariants(c, p, x, l, fail);
    this.steps++;
    this.opts.onStep?.(c, r, inferred, cur === undefined ? 0 : cur.line);
    return undefined;
  }

  private cur: TraceCursor | undefined;
  private applied = false;
  /** One merge round without ordering preferences (see replay). */
  private forcing = false;
  private failC = 0;
  private failR: Rec | undefined;
  /** Throws the violation of the step in progress (set up by step()). */
  private readonly fail = (reason: string): never => {
    throw new ViolationError(this.violationAt(this.failC, this.failR!, this.cur, reason, this.applied));
  };

  private holderOk(h: Local, x: Partition): boolean {
    return h.epoch === 0 || (h.base <= x.next && h.base + h.len <= x.log &&
      (h.epoch !== x.epoch || h.base === x.next || (h.writeUpTo !== 0 && h.writeUpTo === x.next)));
  }

  /** CommitAccepted(w, p). */
  private accepts(w: Write, x: Partition): boolean {
    return w.epoch === x.epoch && w.expectedNext === x.next;
  }

  /** The write of epoch e in writes[p] (one per epoch). */
  private writeOf(p: number, e: number): Write | undefined {
    for (const w of this.part(p).writes) if (w.epoch === e) return w;
    return undefined;
  }

  /**
   * ApplyWrite(p, w): the database settles w -- applied whole iff
   * CommitAccepted, else nothing -- and the answer goes to its sender if it
   * still waits for it.  `inferred`: no trace holds the answer.
   */
  private applyWrite(p: number, w: Write, inferred: boolean): void {
    const x = this.part(p);
    x.writes.splice(x.writes.indexOf(w), 1);
    const ok = this.accepts(w, x);
    if (ok) {
      const k = w.upTo - w.expectedNext;
      // Appends OffsetsIn(Done) and OffsetsIn(DeadLettered) of [next, upTo): exactly the
      // offsets next..upTo-1, once each (WriteRangeOK), so with next = expectedNext
      // NoDuplicateInv and NoGapInv stay true (Range(effects \o dlq) = 0..upTo-1).
      x.effects += k - w.deadIn;
      x.dlq += w.deadIn;
      x.next = w.upTo;
      x.writer = w.epoch;
      this.commits++;
      this.committedOffsets += k;
      this.deadLettered += w.deadIn;
      if (inferred) this.lostCommits++;
    }
    const l = this.local(w.c, p);
    if (l.epoch === w.epoch && l.writeUpTo !== 0) {
      l.settled = ok ? APPLIED : NOT_APPLIED;
      if (l.answer === NO_ANSWER) l.answer = ok ? COMMITTED : REJECTED;
    }
    this.checkLedger(p, x);
  }

  /** AbortWrite(p, w): dropped with its connection, nothing applied. */
  private abortWrite(p: number, w: Write): void {
    const x = this.part(p);
    x.writes.splice(x.writes.indexOf(w), 1);
    const l = this.local(w.c, p);
    if (l.epoch === w.epoch && l.writeUpTo !== 0) l.settled = NOT_APPLIED;
  }

  /**
   * A fence (or the ledger's final row) read next = upTo: the write in
   * flight of the current epoch that ends there applied before it -- when
   * the ledger's account, if given, shows that it did.
   */
  private applyWriteUpTo(p: number, upTo: number): boolean {
    const x = this.part(p);
    const w = this.writeOf(p, x.epoch);
    if (w === undefined || !this.accepts(w, x) || w.upTo !== upTo) return false;
    // No trace holds its answer: with the ledger's account, a committed range of
    // that epoch ending at upTo must witness it (a write can be logged and never
    // sent: its sender died before the transaction began).
    const ranges = this.opts.ledger?.epochRanges[p];
    if (this.opts.ledger !== undefined && !(ranges ?? []).some((g) => g.epoch === w.epoch && g.lo <= w.expectedNext && g.hi + 1 === upTo)) return false;
    const sender = this.cursors[w.c];
    this.applyWrite(p, w, sender === undefined || sender.done);
    return true;
  }

  /** The invariants an ApplyWrite can break, for every consumer's view of p. */
  private checkLedger(p: number, x: Partition): void {
    if (x.effects + x.dlq !== x.next) this.fail(`NoGapInv/NoDuplicateInv: ${x.effects + x.dlq} outcomes for offsets 0..${x.next - 1}`);
    if (x.next > x.log) this.fail(`OffsetOrderInv: ledger next ${x.next} > log end ${x.log}`);
    if (x.writer !== 0 && x.writer !== x.epoch) this.fail(`FencingInv: ledger writer ${x.writer} is neither 0 nor the epoch ${x.epoch}`);
    if (x.holder >= 0 && !this.holderOk(this.local(x.holder, p), x)) {
      this.fail(`OffsetOrderInv: HolderOrderOK fails for the holder of epoch ${x.epoch} (file ${this.cursors[x.holder]!.name})`);
    }
  }

  /**
   * Another process holds the ledger's current epoch of p with its answer
   * lost, and has not logged its Recover: its read may have come before the
   * fence being merged, so the fence waits (the preference is dropped when
   * nothing else can move: `forcing`).  Returns that process, or -1.
   */
  private recoverPending(c: number, p: number, x: Partition): number {
    for (let d = 0; d < this.cursors.length; d++) {
      const h = this.cursors[d]!;
      if (d === c || h.done) continue;
      const l = this.locals[d]![p];
      if (l === undefined || l.epoch !== x.epoch || l.answer !== UNKNOWN) continue;
      const r = h.rec;
      if (r.action === A.Recover && r.p === p && r.a > x.epoch) continue;   // read after this fence: it waits for it
      return d;
    }
    return -1;
  }

  /**
   * Another file's next record is an Assign of p that the ledger would take
   * now (its epoch is the ledger's + 1 and it read the ledger's next): in
   * any real run that fence came before this Commit, because a Commit moves
   * next past the offset the fence read.  Returns that file, or -1.
   */
  /**
   * Another file's next record is a Recover of p that read the ledger's row
   * as it is now: in any real run that read came before this write applied,
   * which moves next past it.  Returns that file, or -1.
   */
  private enabledRecover(c: number, p: number, x: Partition): number {
    for (let d = 0; d < this.cursors.length; d++) {
      const h = this.cursors[d]!;
      if (d === c || h.done) continue;
      const r = h.rec;
      if (r.action === A.Recover && r.p === p && r.a === x.epoch && r.b === x.next && this.locals[d]![p]?.answer === UNKNOWN) return d;
    }
    return -1;
  }

  private enabledFence(c: number, p: number, x: Partition): number {
    for (let d = 0; d < this.cursors.length; d++) {
      const h = this.cursors[d]!;
      if (d === c || h.done) continue;
      const r = h.rec;
      if (r.action === A.Assign && r.p === p && r.epoch === x.epoch + 1 && r.base === x.next) return d;
    }
    return -1;
  }

  private finishHead(l: Local): void {
    l.fin++;
    if (l.fin < l.len) { l.headSt = PENDING; l.headTries = 0; } else { l.headSt = NONE; l.headTries = 0; }
  }

  /**
   * The invariants of spec/DCSM.tla for what one step changed.  Steps change
   * only ledger[p], local[c][p] and the environment of p; other consumers'
   * views of p only depend on ledger[p] through HolderOrderOK, whose
   * conjuncts are monotone in ledger[p].next and log[p] except the last,
   * which only concerns the holder of the current epoch (checked via
   * x.holder).
   */
  private checkInvariants(c: number, p: number, x: Partition, l: Local, fail: (reason: string) => never): void {
    // TypeOK (the parts a trace can break)
    if (l.len > this.window) fail(`TypeOK: window of ${l.len} slots above Window`);
    if (l.headTries > this.opts.maxRetries + 1) fail(`TypeOK: tries ${l.headTries} above MaxRetries + 1`);
    // NoDuplicateInv /\ NoGapInv: Range(effects \o dlq) = 0..next-1, each once.
    if (x.effects + x.dlq !== x.next) fail(`NoGapInv/NoDuplicateInv: ${x.effects + x.dlq} outcomes for offsets 0..${x.next - 1}`);
    // OffsetOrderInv
    if (x.brokerOffset > x.next) fail(`OffsetOrderInv: brokerOffset ${x.brokerOffset} > ledger next ${x.next}`);
    if (x.next > x.log) fail(`OffsetOrderInv: ledger next ${x.next} > log end ${x.log}`);
    if (!this.holderOk(l, x)) fail(`OffsetOrderInv: HolderOrderOK fails for ${l.describe()} against ledger next ${x.next}`);
    if (x.holder >= 0 && x.holder !== c && !this.holderOk(this.local(x.holder, p), x)) {
      fail(`OffsetOrderInv: HolderOrderOK fails for the holder of epoch ${x.epoch} (file ${this.cursors[x.holder]!.name})`);
    }
    // FencingInv
    if (x.writer !== 0 && x.writer !== x.epoch) fail(`FencingInv: ledger writer ${x.writer} is neither 0 nor the epoch ${x.epoch}`);
    if (l.epoch > x.epoch) fail(`FencingInv: the process holds epoch ${l.epoch} the ledger has not issued (${x.epoch})`);
    // WindowShapeOK (IInv) for the window's head and the write in flight
    if (l.headSt === PENDING && l.headTries !== 0) fail('WindowShapeInv: a Pending slot with tries');
    if (l.writeUpTo === 0 && l.answer !== NO_ANSWER) fail('WindowShapeInv: an answer without a write in flight');
    if (l.writeUpTo !== 0 && (l.writeUpTo <= l.base || l.writeUpTo > l.base + l.fin)) {
      fail(`WindowShapeInv: the write in flight up to ${l.writeUpTo} is not within the finished prefix [${l.base}, ${l.base + l.fin})`);
    }
    // WriteInFlightInv: writes carry issued epochs, one per epoch, the current one expects next.
    for (const w of x.writes) {
      if (w.epoch > x.epoch) fail(`WriteInFlightInv: a write of epoch ${w.epoch} the ledger has not issued (${x.epoch})`);
      if (w.epoch === x.epoch && w.expectedNext !== x.next) {
        fail(`WriteInFlightInv: the write of the current epoch ${w.epoch} expects next ${w.expectedNext}, the ledger's is ${x.next}`);
      }
    }
  }

  private rebalance(p: number, c: number): void {
    const x = this.part(p);
    x.owner = c;
    x.gen++;
    this.rebalances++;
  }

  // ---------------------------------------------- the lost trace tail --

  /**
   * A SIGKILLed process loses the records it had not written yet.  With
   * synchronous trace writes (HTMQC_TRACE_SYNC=1, as the harness runs) the
   * only records that can be lost are those of the last core call: the fence
   * of an Assign, or the Commits of a group commit, whose ledger transaction
   * was durable before the record was written.  When the merge is stuck and
   * the ledger's account shows such a step, it is applied as the spec step
   * of an ended process (at most one fence per process, one Commit per
   * process and partition, the Commit's range witnessed by the ledger rows
   * of that epoch).
   */
  private inferLostTail(): boolean {
    const dump = this.opts.ledger;
    if (dump === undefined) return false;
    // A lost Commit first: it is what an Assign of epoch ledger.epoch + 1 that
    // read a later next waits for, and that Assign is the real next fence.
    for (let c = 0; c < this.cursors.length; c++) {
      const cur = this.cursors[c]!;
      if (cur.done) continue;
      const r = cur.rec;
      const x = this.part(r.p);
      if (r.action === A.Assign && r.epoch > x.epoch && r.base > x.next && this.applyWriteUpTo(r.p, r.base)) return true;
    }
    // Then a lost fence, unless the fence of epoch ledger.epoch + 1 waits in some file (it is not lost).
    for (let c = 0; c < this.cursors.length; c++) {
      const cur = this.cursors[c]!;
      if (cur.done) continue;
      const r = cur.rec;
      const x = this.part(r.p);
      if ((r.action === A.Assign && r.epoch > x.epoch + 1 && !this.fenceInTraces(r.p, x)) ||
          (r.action === A.CommitRejected && r.epoch === x.epoch && r.base === x.next)) {
        if (this.inferFence(r.p)) return true;
      }
    }
    return false;
  }

  /** Some file's next record is the fence of p with epoch ledger.epoch + 1. */
  private fenceInTraces(p: number, x: Partition): boolean {
    for (const h of this.cursors) {
      if (!h.done && h.rec.action === A.Assign && h.rec.p === p && h.rec.epoch === x.epoch + 1) return true;
    }
    return false;
  }

  private inferFence(p: number): boolean {
    const x = this.part(p);
    for (let d = 0; d < this.cursors.length; d++) {
      if (!this.cursors[d]!.done || this.lostFenceUsed[d] || this.local(d, p).epoch !== 0) continue;
      const rec: Rec = { seq: 0, action: A.Assign, p, epoch: x.epoch + 1, base: x.next, pos: x.next, a: 0, b: 0 };
      this.step(d, rec, undefined, true);
      this.lostFenceUsed[d] = true;
      this.lostFences++;
      return true;
    }
    return false;
  }

  /** No file can take its next record: the first waiting record is the violation. */
  private reportStuck(): never {
    // The fence of epoch ledger.epoch + 1 that read a next beyond the ledger's is the cause.
    for (let c = 0; c < this.cursors.length; c++) {
      const cur = this.cursors[c]!;
      if (cur.done) continue;
      const r = cur.rec;
      const x = this.part(r.p);
      if (r.action === A.Assign && r.epoch === x.epoch + 1 && r.base > x.next) {
        throw new ViolationError(this.violationAt(c, r, cur,
          `Assign reads ledger next ${r.base}, but the ledger's next is ${x.next} and no trace ` +
          (this.opts.ledger === undefined ? '' : 'or ledger row ') + `commits offsets ${x.next}..${r.base - 1}: ` +
          'they would never be handled (losses; Assign must read ledger[p].next)', false));
      }
    }
    for (let c = 0; c < this.cursors.length; c++) {
      const cur = this.cursors[c]!;
      if (cur.done) continue;
      const blocked = this.step(c, cur.rec, cur, false);
      if (blocked === undefined) continue;
      const r = cur.rec;
      throw new ViolationError(this.violationAt(c, r, cur,
        `no interleaving of the files enables this ${ACTION_NAME[r.action]}: it ${blocked.reason}, and no other process ` +
        'can take a step (a commit or fence is missing from every trace' +
        (this.opts.ledger === undefined ? '' : ' and from the ledger') + ')', false));
    }
    throw new Error('internal: stuck without a blocked record');
  }

  private finish(): void {
    const dump = this.opts.ledger;
    if (dump !== undefined) {
      for (const [ps, row] of Object.entries(dump.partitions)) {
        const p = Number(ps);
        const x = this.part(p);
        if (row.next > x.next) this.applyWriteUpTo(p, row.next);
        while (row.epoch > x.epoch && this.inferFence(p)) { /* one lost fence per ended process */ }
        if (row.next !== x.next || row.epoch !== x.epoch) {
          throw new ViolationError({
            c: -1, file: '(ledger)', line: 0, record: JSON.stringify(row), action: 'end',
            reason: `the ledger ends at next ${row.next}, epoch ${row.epoch}, but the traces account for next ${x.next}, epoch ${x.epoch}`,
            stateBefore: this.describePartition(p),
          });
        }
      }
    }
    for (const [ps, end] of Object.entries(this.opts.endOffsets ?? {})) {
      const p = Number(ps);
      const x = this.part(p);
      if (end > x.log) x.log = end;
      if (x.next !== end) {
        throw new ViolationError({
          c: -1, file: '(end offsets)', line: 0, record: `{"p":${p},"end":${end}}`, action: 'end',
          reason: `completeness: partition ${p}'s ledger next is ${x.next}, its log end is ${end}: offsets ${x.next}..${end - 1} ` +
            'were never committed (lost)',
          stateBefore: this.describePartition(p),
        });
      }
    }
  }

  // ---------------------------------------------------------- helpers --

  private part(p: number): Partition {
    let x = this.parts[p];
    if (x === undefined) {
      x = new Partition();
      this.parts[p] = x;
    }
    return x;
  }

  private local(c: number, p: number): Local {
    const row = this.locals[c]!;
    let l = row[p];
    if (l === undefined) {
      l = new Local();
      row[p] = l;
    }
    return l;
  }

  private describePartition(p: number): string {
    const x = this.part(p);
    const owner = x.owner === NO_CONSUMER ? 'NoConsumer' : this.cursors[x.owner]!.name;
    const lines = [
      `ledger[${p}] = [next ${x.next}, epoch ${x.epoch}, writer ${x.writer}, ${x.effects} effects, ${x.dlq} dead letters]; ` +
      `log[${p}] = ${x.log}; owner = ${owner}, gen ${x.gen}; brokerOffset = ${x.brokerOffset}`,
    ];
    for (let c = 0; c < this.cursors.length; c++) {
      const l = this.locals[c]![p];
      if (l !== undefined && l.epoch !== 0) lines.push(`local[${this.cursors[c]!.name}][${p}] = ${l.describe()}`);
    }
    return lines.join('\n');
  }

  private violationAt(c: number, r: Rec, cur: TraceCursor | undefined, reason: string, applied: boolean): Violation {
    const state = this.describePartition(r.p);
    return {
      c, rec: { ...r },
      file: cur === undefined ? `${this.cursors[c]!.name} (inferred lost record)` : cur.name,
      line: cur === undefined ? 0 : cur.line,
      record: renderRec(r), action: ACTION_NAME[r.action] ?? '?', reason,
      stateBefore: applied ? `(after the step: the step's guard held, its post-state breaks the check)\n${state}` : state,
    };
  }
}

class ViolationError extends Fault {
  constructor(readonly violation: Violation) {
    super(`${violation.file}:${violation.line}: ${violation.reason}`);
  }
}

/** The violation as the checker prints it. */
export function formatViolation(v: Violation): string {
  return [
    `VIOLATION at ${v.file}:${v.line}`,
    `  record: ${v.record}`,
    `  why:    ${v.reason}`,
    '  state before the step:',
    ...v.stateBefore.split('\n').map((s) => `    ${s}`),
  ].join('\n');
}
