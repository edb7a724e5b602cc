// A test world for the DCSM cores: the spec's environment (log, owner, gen,
// brokerOffset, ledger) around Consumers processes, each running the
// TypeScript and the native core side by side on the same inputs.
//
// exec() is the differential check: both cores must return the same commands
// (or the same typed error, with the same applied prefix and its commands),
// reach the same snapshot and emit the same trace records.  checkInvariants()
// asserts the spec's invariants over the model ledger and the snapshots.

import { strict as assert } from 'assert';
import {
  createCore, DcsmError, finishedPrefixLen, isFinished, OffsetState, renderTraceRecord,
  type Command, type Core, type CoreSnapshot, type PartitionSnapshot, type TraceRecord,
} from '../../../src/core';

export interface WorldConfig {
  readonly consumers: number;
  readonly partitions: number;
  readonly window: number;
  readonly maxRetries: number;
  readonly backoff: number;
  readonly maxLog: number;
}

/** Spec LedgerRec: the durable row of a partition. */
export interface LedgerRow {
  next: number;
  epoch: number;
  writer: number;
  effects: number[];
  dlq: number[];
}

/** One consumer process: both cores plus what the test knows of its I/O. */
export class Process {
  readonly ts: Core;
  readonly native: Core;
  now = 0;
  /** WriteLedger commands issued and not yet answered, by partition. */
  readonly writes = new Map<number, Extract<Command, { kind: 'WriteLedger' }>>();
  /** Partitions whose write's answer was lost (ReadLedger asked for the row; LedgerRead decides). */
  readonly lost = new Set<number>();
  lastSeq = 0;

  constructor(cfg: WorldConfig) {
    const options = { maxInFlightPerPartition: cfg.window, maxRetries: cfg.maxRetries, retryBackoffMs: cfg.backoff, maxPartitions: 16, tracing: true, traceCapacity: 1024 };
    this.ts = createCore({ ...options, kind: 'ts' });
    this.native = createCore({ ...options, kind: 'native' });
  }

  held(p: number): PartitionSnapshot | undefined {
    return this.ts.snapshot().partitions.find((ps) => ps.p === p);
  }
}

export interface ExecResult {
  readonly commands: readonly Command[];
  readonly error?: DcsmError;
}

export class World {
  readonly log: number[];
  readonly owner: number[];
  readonly gen: number[];
  readonly brokerOffset: number[];
  readonly ledger: LedgerRow[];
  readonly procs: Process[];
  /** Human-readable steps, printed when a check fails. */
  readonly history: string[] = [];

  constructor(readonly cfg: WorldConfig) {
    const n = cfg.partitions;
    this.log = new Array<number>(n).fill(0);
    this.owner = new Array<number>(n).fill(-1);
    this.gen = new Array<number>(n).fill(0);
    this.brokerOffset = new Array<number>(n).fill(0);
    this.ledger = Array.from({ length: n }, () => ({ next: 0, epoch: 0, writer: 0, effects: [], dlq: [] }));
    this.procs = Array.from({ length: cfg.consumers }, () => new Process(cfg));
  }

  /** Spec Crash + Restart: the process's volatile state is gone. */
  crash(c: number): void {
    this.procs[c] = new Process(this.cfg);
  }

  /**
   * Runs the same call on both cores of process c and compares everything;
   * then applies the commands' effects on the environment.
   */
  exec(c: number, label: string, call: (core: Core) => { toArray(): Command[] }): ExecResult {
    this.history.push(`c${c}: ${label}`);
    const proc = this.procs[c]!;
    const ts = outcome(() => call(proc.ts).toArray());
    const native = outcome(() => call(proc.native).toArray());
    const where = `after c${c}: ${label}`;
    if (ts.error !== undefined || native.error !== undefined) {
      assert.ok(ts.error instanceof DcsmError, `${where}: ts threw ${String(ts.error ?? 'nothing')}`);
      assert.ok(native.error instanceof DcsmError, `${where}: native threw ${String(native.error ?? 'nothing')} but ts threw ${ts.error.name}`);
      assert.equal(native.error.constructor, ts.error.constructor, `${where}: error classes differ (${native.error.name} vs ${ts.error.name})`);
      assert.equal(native.error.code, ts.error.code, `${where}: error codes differ`);
      assert.equal(native.error.applied, ts.error.applied, `${where}: applied prefixes differ`);
      assert.deepEqual(native.error.commands, ts.error.commands, `${where}: commands of the applied prefix differ`);
    } else {
      assert.deepEqual(native.commands, ts.commands, `${where}: commands differ`);
    }
    const snap = proc.ts.snapshot();
    assert.deepEqual(proc.native.snapshot(), snap, `${where}: snapshots differ`);
    const tsTrace = drain(proc.ts);
    const nativeTrace = drain(proc.native);
    assert.deepEqual(nativeTrace.map(renderTraceRecord), tsTrace.map(renderTraceRecord), `${where}: trace records differ`);
    assert.equal(proc.native.traceLost(), 0, `${where}: native trace records lost`);
    for (const r of tsTrace) {
      assert.equal(r.seq, proc.lastSeq + 1, `${where}: trace seq ${r.seq} does not follow ${proc.lastSeq}`);
      proc.lastSeq = r.seq;
    }
    assert.equal(snap.seq, proc.lastSeq, `${where}: snapshot seq ${snap.seq} is not the last trace seq ${proc.lastSeq}`);
    const commands = ts.error !== undefined ? (ts.error as DcsmError).commands : ts.commands!;
    this.applyCommands(c, commands, snap);
    return ts.error !== undefined ? { commands, error: ts.error as DcsmError } : { commands };
  }

  private applyCommands(c: number, commands: readonly Command[], snap: CoreSnapshot): void {
    const proc = this.procs[c]!;
    for (const cmd of commands) {
      if (cmd.kind === 'WriteLedger') {
        assert.ok(!proc.writes.has(cmd.p), `c${c}: a second WriteLedger for partition ${cmd.p} while one is in flight`);
        proc.writes.set(cmd.p, cmd);
      } else if (cmd.kind === 'ReadLedger') {
        const ps = snap.partitions.find((x) => x.p === cmd.p);
        assert.ok(proc.writes.has(cmd.p), `c${c}: ReadLedger for partition ${cmd.p} without a write in flight`);
        assert.equal(cmd.epoch, ps?.epoch, `c${c}: ReadLedger for partition ${cmd.p} names another epoch than the held one`);
        proc.lost.add(cmd.p);
      } else if (cmd.kind === 'CommitBroker') {
        // Spec CommitBroker: Kafka rejects the commit of an old generation's member.
        const ps = snap.partitions.find((x) => x.p === cmd.p);
        if (ps !== undefined && this.owner[cmd.p] === c && this.gen[cmd.p] === ps.gen) this.brokerOffset[cmd.p] = cmd.offset;
      }
    }
    for (const p of [...proc.writes.keys()]) {
      if (!snap.partitions.some((x) => x.p === p)) proc.writes.delete(p);
    }
    for (const p of [...proc.lost]) {
      if (!snap.partitions.some((x) => x.p === p)) proc.lost.delete(p);
    }
  }

  /** NoDuplicateInv, NoGapInv, OffsetOrderInv, FencingInv, WindowShapeInv and the core's own contracts. */
  checkInvariants(): void {
    const { window, maxRetries } = this.cfg;
    for (let p = 0; p < this.cfg.partitions; p++) {
      const l = this.ledger[p]!;
      const outcomes = [...l.effects, ...l.dlq];
      assert.equal(new Set(outcomes).size, outcomes.length, `NoDuplicateInv: partition ${p} outcomes ${JSON.stringify(outcomes)}`);
      assert.deepEqual([...outcomes].sort((a, b) => a - b), range(0, l.next), `NoGapInv: partition ${p} outcomes vs next ${l.next}`);
      assert.ok(this.brokerOffset[p]! <= l.next, `OffsetOrderInv: brokerOffset ${this.brokerOffset[p]} > ledger next ${l.next}`);
      assert.ok(l.next <= this.log[p]!, `OffsetOrderInv: ledger next ${l.next} > log ${this.log[p]}`);
      assert.ok(l.writer === 0 || l.writer === l.epoch, `FencingInv: writer ${l.writer} with epoch ${l.epoch}`);
      const holders: number[] = [];
      this.procs.forEach((proc, c) => {
        const ps = proc.held(p);
        if (ps === undefined) return;
        holders.push(ps.epoch);
        const at = `c${c} p${p}`;
        assert.ok(ps.base <= l.next, `OffsetOrderInv: ${at} base ${ps.base} > ledger next ${l.next}`);
        assert.ok(ps.pos <= this.log[p]!, `OffsetOrderInv: ${at} position ${ps.pos} > log ${this.log[p]}`);
        assert.ok(ps.epoch <= l.epoch, `FencingInv: ${at} epoch ${ps.epoch} > ledger epoch ${l.epoch}`);
        // HolderOrderOK: the holder of the ledger's epoch starts at its next, or its lost write applied up to writeUpTo.
        if (ps.epoch === l.epoch) {
          assert.ok(ps.base === l.next || (ps.answer === 'Unknown' && l.next === ps.writeUpTo),
            `OffsetOrderInv: ${at} holds the ledger epoch but base ${ps.base} != next ${l.next} (writeUpTo ${ps.writeUpTo}, answer ${ps.answer})`);
        }
        assert.equal(ps.answer === 'Unknown', proc.lost.has(p), `${at}: answer ${ps.answer}, but the runtime saw ${proc.lost.has(p) ? 'a' : 'no'} ReadLedger`);
        // WindowShapeInv.
        const w = ps.win;
        assert.ok(w.length <= window, `TypeOK: ${at} window ${w.length} > Window ${window}`);
        assert.equal(ps.head, finishedPrefixLen(w), `${at}: head is not FinishedPrefixLen`);
        w.forEach((s, i) => {
          if (s.st === OffsetState.Processing) assert.ok(s.tries <= maxRetries, `WindowShapeInv: ${at} Processing with tries ${s.tries}`);
          if (s.st === OffsetState.Failed || s.st === OffsetState.DeadLettered) assert.ok(s.tries >= 1, `WindowShapeInv: ${at} tries 0`);
          if (s.st === OffsetState.DeadLettered) assert.ok(s.tries > maxRetries, `WindowShapeInv: ${at} dead-lettered early`);
          if (s.st === OffsetState.Pending) assert.equal(s.tries, 0, `WindowShapeInv: ${at} Pending with tries`);
          if (i > ps.head) assert.equal(s.st, OffsetState.Pending, `WindowShapeInv: ${at} slot ${i} after the head is not Pending`);
        });
        // The Ready contract: a finished prefix always has its WriteLedger in flight.
        if (ps.head > 0) assert.ok(ps.writeUpTo > 0, `${at}: finished prefix without a WriteLedger`);
        if (ps.writeUpTo > 0) {
          assert.ok(ps.writeUpTo > ps.base && ps.writeUpTo <= ps.base + ps.head, `${at}: writeUpTo ${ps.writeUpTo} outside the finished prefix`);
          assert.equal(proc.writes.get(p)?.upTo, ps.writeUpTo, `${at}: the WriteLedger the runtime saw differs`);
        }
        if (ps.retryDueAt > 0) assert.equal(w[ps.head]?.st, OffsetState.Failed, `${at}: retryDueAt without a Failed head`);
      });
      assert.equal(new Set(holders).size, holders.length, `FencingInv: two holders of p${p} share an epoch`);
    }
  }

  /** Spec ApplyWrite then the answer (Commit or CommitRejected) on the model ledger: accepted iff CommitAccepted. */
  ledgerCommit(c: number, p: number): 'accepted' | 'rejected' {
    const verdict = this.ledgerApply(c, p);
    this.procs[c]!.writes.delete(p);
    return verdict;
  }

  /** Spec ApplyWrite of c's write in flight for p on the model ledger (the write stays c's to answer). */
  ledgerApply(c: number, p: number): 'accepted' | 'rejected' {
    const proc = this.procs[c]!;
    const w = proc.writes.get(p)!;
    const l = this.ledger[p]!;
    if (w.epoch !== l.epoch || w.expectedNext !== l.next) return 'rejected';
    const ps = proc.held(p)!;
    assert.equal(ps.base, w.expectedNext, `c${c} p${p}: WriteLedger expectedNext is not the window base`);
    for (let o = w.expectedNext; o < w.upTo; o++) {
      const slot = ps.win[o - ps.base]!;
      assert.ok(isFinished(slot.st), `c${c} p${p}: WriteLedger covers unfinished offset ${o}`);
      (slot.st === OffsetState.Done ? l.effects : l.dlq).push(o);
    }
    l.next = w.upTo;
    l.writer = w.epoch;
    return 'accepted';
  }
}

function outcome(fn: () => Command[]): { commands?: Command[]; error?: unknown } {
  try {
    return { commands: fn() };
  } catch (error) {
    return { error };
  }
}

function drain(core: Core): TraceRecord[] {
  const out: TraceRecord[] = [];
  core.drainTrace((r) => out.push(r));
  return out;
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
