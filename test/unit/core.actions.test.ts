// Unit tests per spec action (spec/DCSM.tla), run against both cores through
// the facade: the same expectations hold for the TypeScript reference and the
// native core.

import { strict as assert } from 'assert';
import {
  AnswerLostError, AnswerNotLostError, ClockWentBackwardsError, CommandOp, createCore, DcsmError, HandlerNotRunningError,
  InvalidArgumentError, InvalidInputError, Inputs, LedgerNextMismatchError, NoLedgerWriteInFlightError, OffsetOutsideWindowError,
  OffsetState, PartitionAlreadyHeldError, StaleEpochError, UnheldPartitionError, initialState, step,
  type Command, type Core, type CoreKind, type TraceRecord,
} from '../../src/core';

const SPEC_ACTIONS = [
  'Assign', 'Revoke', 'Fetch', 'Begin', 'Succeed', 'Fail', 'Retry', 'DeadLetter', 'Commit', 'CommitRejected', 'CommitBroker',
  'WriteLedger', 'LoseAnswer', 'Recover',
];

function make(kind: CoreKind, window = 3, maxRetries = 1, tracing = true): Core {
  return createCore({ kind, maxInFlightPerPartition: window, maxRetries, retryBackoffMs: 10, tracing, traceCapacity: 1024 });
}

function cmds(batch: { toArray(): Command[] }): Command[] { return batch.toArray(); }

function trace(core: Core): TraceRecord[] {
  const out: TraceRecord[] = [];
  core.drainTrace((r) => out.push(r));
  return out;
}

function throwsClass(fn: () => unknown, cls: new (...args: never[]) => Error): DcsmError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    return e as DcsmError;
  }
  throw new assert.AssertionError({ message: `expected ${cls.name}, nothing thrown` });
}

for (const kind of ['ts', 'native'] as const) {
  describe(`DCSM ${kind} core: one test per spec action`, () => {
    let core: Core;
    beforeEach(() => { core = make(kind); });

    /** Assigned(0, 1, 10, 7) then Fetched(0, 10, n): the head 10 is running. */
    function heldWith(n: number): void {
      core.assigned(0, 1, 10, 7);
      core.fetched(0, 10, n);
      trace(core);
    }

    it('Assign: Assigned(p, epoch, ledgerNext, gen) holds p at the ledger next and emits Seek + Resume', () => {
      assert.deepEqual(cmds(core.assigned(0, 1, 10, 7)), [{ kind: 'Seek', p: 0, offset: 10 }, { kind: 'Resume', p: 0 }]);
      const [ps] = core.snapshot().partitions;
      assert.deepEqual(ps, { p: 0, epoch: 1, gen: 7, base: 10, pos: 10, head: 0, paused: false, writeUpTo: 0, answer: 'NoAnswer', retryDueAt: 0, win: [] });
      assert.deepEqual(trace(core), [{ seq: 1, action: 'Assign', p: 0, epoch: 1, base: 10, pos: 10, gen: 7 }]);
    });

    it('Assign: a held partition or a stale epoch is rejected with a typed error and no change', () => {
      core.assigned(0, 2, 10, 7);
      throwsClass(() => core.assigned(0, 3, 10, 8), PartitionAlreadyHeldError);
      core.revoked(0);
      const stale = throwsClass(() => core.assigned(0, 2, 10, 8), StaleEpochError);
      assert.ok(stale instanceof InvalidInputError && stale instanceof DcsmError);
      assert.equal(stale.retriable, false);
      assert.deepEqual(core.snapshot().partitions, []);
      assert.deepEqual(core.snapshot().fences, [[0, 2]]);
    });

    it('Revoke: Revoked(p) drops the window; an unheld partition is an UnheldPartitionError', () => {
      heldWith(2);
      assert.deepEqual(cmds(core.revoked(0)), []);
      assert.deepEqual(core.snapshot().partitions, []);
      assert.deepEqual(trace(core), [{ seq: 4, action: 'Revoke', p: 0, epoch: 0, base: 0, pos: 0, dropped: 1 }]);
      throwsClass(() => core.revoked(0), UnheldPartitionError);
      throwsClass(() => core.fetched(0, 12, 1), UnheldPartitionError);
    });

    it('Fetch: accepts the free room, Seeks back and Pauses for the rest; Begin starts the head only', () => {
      core.assigned(0, 1, 10, 7);
      trace(core);
      assert.deepEqual(cmds(core.fetched(0, 10, 5)), [
        { kind: 'Seek', p: 0, offset: 13 }, { kind: 'Pause', p: 0 }, { kind: 'RunHandler', p: 0, o: 10 },
      ]);
      const [ps] = core.snapshot().partitions;
      assert.equal(ps!.pos, 13);
      assert.equal(ps!.paused, true);
      assert.deepEqual(ps!.win.map((s) => s.st), [OffsetState.Processing, OffsetState.Pending, OffsetState.Pending]);
      assert.deepEqual(trace(core), [
        { seq: 2, action: 'Fetch', p: 0, epoch: 1, base: 10, pos: 13, o: 10, n: 3 },
        { seq: 3, action: 'Begin', p: 0, epoch: 1, base: 10, pos: 13, o: 10, tries: 0 },
      ]);
      assert.deepEqual(cmds(core.fetched(0, 13, 2)), [{ kind: 'Seek', p: 0, offset: 13 }], 'a full window accepts nothing');
    });

    it('Fetch: a batch that does not start at the position is an OffsetOutsideWindowError', () => {
      heldWith(1);
      throwsClass(() => core.fetched(0, 10, 1), OffsetOutsideWindowError);
      throwsClass(() => core.fetched(0, 12, 1), OffsetOutsideWindowError);
    });

    it('Begin + Succeed: HandlerSucceeded finishes the head, starts the next offset, then WriteLedger', () => {
      heldWith(2);
      assert.deepEqual(cmds(core.handlerSucceeded(0, 10)), [
        { kind: 'RunHandler', p: 0, o: 11 },
        { kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 10, upTo: 11 },
      ]);
      assert.deepEqual(trace(core).map((r) => r.action), ['Succeed', 'Begin', 'WriteLedger']);
      throwsClass(() => core.handlerSucceeded(0, 10), HandlerNotRunningError);
      throwsClass(() => core.handlerSucceeded(0, 12), OffsetOutsideWindowError);
      throwsClass(() => core.handlerSucceeded(0, 9), OffsetOutsideWindowError);
    });

    it('Begin: only the first unfinished offset runs (offset order); a later offset is not running', () => {
      heldWith(3);
      throwsClass(() => core.handlerSucceeded(0, 11), HandlerNotRunningError);
      assert.deepEqual(core.snapshot().partitions[0]!.win.map((s) => s.st), [OffsetState.Processing, OffsetState.Pending, OffsetState.Pending]);
    });

    it('Fail + Retry: a failed head waits for its backoff, then Tick(now) runs it again', () => {
      heldWith(2);
      assert.deepEqual(cmds(core.handlerFailed(0, 10)), []);
      assert.deepEqual(core.snapshot().partitions[0]!.win[0], { st: OffsetState.Failed, tries: 1 });
      assert.equal(core.snapshot().partitions[0]!.retryDueAt, 10);
      assert.deepEqual(cmds(core.tick(9)), []);
      assert.deepEqual(cmds(core.tick(10)), [{ kind: 'RunHandler', p: 0, o: 10 }]);
      assert.deepEqual(trace(core).map((r) => [r.action, 'tries' in r ? r.tries : -1]), [['Fail', 1], ['Retry', 1]]);
    });

    it('DeadLetter: tries > MaxRetries dead-letters the head, starts the next, and the ledger commits it', () => {
      heldWith(2);
      core.handlerFailed(0, 10);
      core.tick(10);
      assert.deepEqual(cmds(core.handlerFailed(0, 10)), [
        { kind: 'DeadLetter', p: 0, o: 10 },
        { kind: 'RunHandler', p: 0, o: 11 },
        { kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 10, upTo: 11 },
      ]);
      assert.deepEqual(core.snapshot().partitions[0]!.win[0], { st: OffsetState.DeadLettered, tries: 2 });
      assert.deepEqual(trace(core).map((r) => r.action), ['Fail', 'Retry', 'Fail', 'DeadLetter', 'Begin', 'WriteLedger']);
    });

    it('Commit + CommitBroker: LedgerCommitted advances base, frees slots, Resumes, and writes the next prefix', () => {
      heldWith(5);
      core.handlerSucceeded(0, 10);
      core.handlerSucceeded(0, 11);
      trace(core);
      assert.deepEqual(cmds(core.ledgerCommitted(0, 11)), [
        { kind: 'CommitBroker', p: 0, offset: 11 },
        { kind: 'Resume', p: 0 },
        { kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 11, upTo: 12 },
      ]);
      const [ps] = core.snapshot().partitions;
      assert.equal(ps!.base, 11);
      assert.equal(ps!.paused, false);
      assert.deepEqual(trace(core), [
        { seq: 9, action: 'Commit', p: 0, epoch: 1, base: 11, pos: 13, from: 10, upTo: 11 },
        { seq: 10, action: 'CommitBroker', p: 0, epoch: 1, base: 11, pos: 13, offset: 11 },
        { seq: 11, action: 'WriteLedger', p: 0, epoch: 1, base: 11, pos: 13, expectedNext: 11, upTo: 12 },
      ]);
    });

    it('Commit: an answer without a write, or for another next, is rejected', () => {
      heldWith(2);
      throwsClass(() => core.ledgerCommitted(0, 11), NoLedgerWriteInFlightError);
      throwsClass(() => core.ledgerRejected(0), NoLedgerWriteInFlightError);
      core.handlerSucceeded(0, 10);
      throwsClass(() => core.ledgerCommitted(0, 12), LedgerNextMismatchError);
    });

    it('CommitRejected: LedgerRejected drops the partition and Pauses it', () => {
      heldWith(2);
      core.handlerSucceeded(0, 10);
      trace(core);
      assert.deepEqual(cmds(core.ledgerRejected(0)), [{ kind: 'Pause', p: 0 }]);
      assert.deepEqual(core.snapshot().partitions, []);
      assert.deepEqual(trace(core), [{ seq: 7, action: 'CommitRejected', p: 0, epoch: 0, base: 0, pos: 0, dropped: 1 }]);
      throwsClass(() => core.handlerSucceeded(0, 11), UnheldPartitionError);
    });

    it('WriteLedger: the Ready point logs the write it sends, one in flight per partition', () => {
      heldWith(3);
      core.handlerSucceeded(0, 10);
      assert.deepEqual(trace(core), [
        { seq: 4, action: 'Succeed', p: 0, epoch: 1, base: 10, pos: 13, o: 10, tries: 0 },
        { seq: 5, action: 'Begin', p: 0, epoch: 1, base: 10, pos: 13, o: 11, tries: 0 },
        { seq: 6, action: 'WriteLedger', p: 0, epoch: 1, base: 10, pos: 13, expectedNext: 10, upTo: 11 },
      ]);
      assert.deepEqual(cmds(core.handlerSucceeded(0, 11)), [{ kind: 'RunHandler', p: 0, o: 12 }], 'no second write while one is in flight');
      assert.equal(core.snapshot().partitions[0]!.writeUpTo, 11);
    });

    /** heldWith(2) with offset 10 done: WriteLedger(0, 1, 10, 11) in flight, 11 running. */
    function writing(): void {
      heldWith(2);
      core.handlerSucceeded(0, 10);
      trace(core);
    }

    it('LoseAnswer: LedgerUnknown marks the answer Unknown and asks for the row (ReadLedger); handling goes on, no write is sent', () => {
      writing();
      const batch = core.ledgerUnknown(0);
      assert.deepEqual(cmds(batch), [{ kind: 'ReadLedger', p: 0, epoch: 1 }]);
      assert.deepEqual([batch.op(0), batch.p(0), batch.a(0)], [CommandOp.ReadLedger, 0, 1], 'packed as [8, p, epoch, 0, 0]');
      assert.deepEqual(trace(core), [{ seq: 7, action: 'LoseAnswer', p: 0, epoch: 1, base: 10, pos: 12, upTo: 11 }]);
      const [ps] = core.snapshot().partitions;
      assert.deepEqual([ps!.answer, ps!.writeUpTo, ps!.base], ['Unknown', 11, 10]);
      assert.deepEqual(cmds(core.handlerSucceeded(0, 11)), [], 'the lost write is still in flight: no WriteLedger');
      assert.equal(core.snapshot().partitions[0]!.head, 2);
    });

    it('LoseAnswer: without a write in flight, or a second time, is rejected; after it only LedgerRead may follow (AnswerLostError)', () => {
      heldWith(2);
      throwsClass(() => core.ledgerUnknown(0), NoLedgerWriteInFlightError);
      core.handlerSucceeded(0, 10);
      core.ledgerUnknown(0);
      const before = core.snapshot();
      for (const call of [() => core.ledgerUnknown(0), () => core.ledgerCommitted(0, 11), () => core.ledgerCommitted(0, 12), () => core.ledgerRejected(0)]) {
        const e = throwsClass(call, AnswerLostError);
        assert.ok(e instanceof InvalidInputError);
      }
      throwsClass(() => core.ledgerUnknown(1), UnheldPartitionError);
      assert.deepEqual(core.snapshot(), before);
    });

    it('Recover decides Committed (row epoch = held, next = writeUpTo): Commit + CommitBroker in the same step, then the next write', () => {
      writing();
      core.handlerSucceeded(0, 11);
      core.ledgerUnknown(0);
      trace(core);
      assert.deepEqual(cmds(core.ledgerRead(0, 1, 11)), [
        { kind: 'CommitBroker', p: 0, offset: 11 },
        { kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 11, upTo: 12 },
      ]);
      assert.deepEqual(trace(core), [
        { seq: 9, action: 'Recover', p: 0, epoch: 1, base: 10, pos: 12, rowEpoch: 1, rowNext: 11 },
        { seq: 10, action: 'Commit', p: 0, epoch: 1, base: 11, pos: 12, from: 10, upTo: 11 },
        { seq: 11, action: 'CommitBroker', p: 0, epoch: 1, base: 11, pos: 12, offset: 11 },
        { seq: 12, action: 'WriteLedger', p: 0, epoch: 1, base: 11, pos: 12, expectedNext: 11, upTo: 12 },
      ]);
      const [ps] = core.snapshot().partitions;
      assert.deepEqual([ps!.answer, ps!.writeUpTo, ps!.base], ['NoAnswer', 12, 11]);
      assert.deepEqual(cmds(core.ledgerCommitted(0, 12)), [{ kind: 'CommitBroker', p: 0, offset: 12 }]);
    });

    it('Recover decides Committed on a full window: Resume as LedgerCommitted does', () => {
      heldWith(3);
      core.handlerSucceeded(0, 10);
      core.ledgerUnknown(0);
      assert.deepEqual(cmds(core.ledgerRead(0, 1, 11)), [{ kind: 'CommitBroker', p: 0, offset: 11 }, { kind: 'Resume', p: 0 }]);
      assert.equal(core.snapshot().partitions[0]!.paused, false);
    });

    it('Recover decides NoAnswer (row epoch = held, next = base): the window stays, the Ready point writes the whole finished prefix again', () => {
      writing();
      core.handlerSucceeded(0, 11);
      core.ledgerUnknown(0);
      trace(core);
      assert.deepEqual(cmds(core.ledgerRead(0, 1, 10)), [{ kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 10, upTo: 12 }]);
      assert.deepEqual(trace(core), [
        { seq: 9, action: 'Recover', p: 0, epoch: 1, base: 10, pos: 12, rowEpoch: 1, rowNext: 10 },
        { seq: 10, action: 'WriteLedger', p: 0, epoch: 1, base: 10, pos: 12, expectedNext: 10, upTo: 12 },
      ]);
      const [ps] = core.snapshot().partitions;
      assert.deepEqual([ps!.answer, ps!.writeUpTo, ps!.base, ps!.head], ['NoAnswer', 12, 10, 2]);
      assert.deepEqual(cmds(core.ledgerCommitted(0, 12)), [{ kind: 'CommitBroker', p: 0, offset: 12 }]);
    });

    it('Recover decides Rejected (row epoch above the held one, whatever its next): CommitRejected in the same step', () => {
      for (const next of [10, 11, 57]) {
        core = make(kind);
        writing();
        core.ledgerUnknown(0);
        trace(core);
        assert.deepEqual(cmds(core.ledgerRead(0, 2, next)), [{ kind: 'Pause', p: 0 }]);
        assert.deepEqual(core.snapshot().partitions, []);
        assert.deepEqual(trace(core), [
          { seq: 8, action: 'Recover', p: 0, epoch: 1, base: 10, pos: 12, rowEpoch: 2, rowNext: next },
          { seq: 9, action: 'CommitRejected', p: 0, epoch: 0, base: 0, pos: 0, dropped: 1 },
        ]);
        throwsClass(() => core.handlerSucceeded(0, 11), UnheldPartitionError);
      }
    });

    it('Recover: a read without a lost answer, and rows the invariants rule out, are rejected and change nothing', () => {
      writing();
      throwsClass(() => core.ledgerRead(0, 1, 11), AnswerNotLostError);
      core.ledgerUnknown(0);
      const before = core.snapshot();
      throwsClass(() => core.ledgerRead(0, 0, 10), StaleEpochError);
      for (const next of [9, 12, 0]) throwsClass(() => core.ledgerRead(0, 1, next), LedgerNextMismatchError);
      throwsClass(() => core.ledgerRead(0, 1, -1), InvalidArgumentError);
      throwsClass(() => core.ledgerRead(0, 1.5, 10), InvalidArgumentError);
      assert.deepEqual(core.snapshot(), before);
      assert.deepEqual(cmds(core.ledgerRead(0, 1, 11)), [{ kind: 'CommitBroker', p: 0, offset: 11 }]);
      throwsClass(() => core.ledgerRead(0, 1, 11), AnswerNotLostError);
    });

    it('the race: LedgerUnknown, then Revoked, then the row read is an UnheldPartitionError (and stale for the next holder)', () => {
      writing();
      core.ledgerUnknown(0);
      assert.deepEqual(cmds(core.revoked(0)), []);
      throwsClass(() => core.ledgerRead(0, 1, 11), UnheldPartitionError);
      core.assigned(0, 2, 11, 8);
      throwsClass(() => core.ledgerRead(0, 1, 11), StaleEpochError);
      assert.deepEqual(core.snapshot().partitions[0]!.answer, 'NoAnswer');
    });

    it('Succeed batch: handlerResults applies a prefix and reports applied + its commands on a rejected input', () => {
      heldWith(3);
      const e = throwsClass(() => core.handlerResults(
        Int32Array.of(0, 0, 0), Float64Array.of(10, 11, 13), Uint8Array.of(1, 1, 1),
      ), OffsetOutsideWindowError);
      assert.equal(e.applied, 2);
      assert.deepEqual(e.commands, [
        { kind: 'RunHandler', p: 0, o: 11 }, { kind: 'RunHandler', p: 0, o: 12 },
        { kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 10, upTo: 12 },
      ]);
      assert.equal(core.snapshot().partitions[0]!.head, 2);
    });

    it('Succeed fast path: succeededRange equals HandlerSucceeded per offset', () => {
      heldWith(3);
      assert.deepEqual(cmds(core.succeededRange(0, 10, 13)), [
        { kind: 'RunHandler', p: 0, o: 11 }, { kind: 'RunHandler', p: 0, o: 12 },
        { kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 10, upTo: 13 },
      ]);
      assert.deepEqual(trace(core).map((r) => r.action), ['Succeed', 'Begin', 'Succeed', 'Begin', 'Succeed', 'WriteLedger']);
    });

    it('Tick: time never goes backwards', () => {
      core.tick(5);
      throwsClass(() => core.tick(4), ClockWentBackwardsError);
    });

    it('arguments: malformed values are InvalidArgumentError before any state changes', () => {
      for (const bad of [-1, 1.5, Number.NaN, 4096]) throwsClass(() => core.revoked(bad), InvalidArgumentError);
      throwsClass(() => core.assigned(0, 0, 0, 0), InvalidArgumentError);
      throwsClass(() => core.fetched(0, 0, 0), InvalidArgumentError);
      throwsClass(() => core.tick(-1), InvalidArgumentError);
      throwsClass(() => core.handlerResults(new Int32Array(1), new Float64Array(1), new Uint8Array(1), 2), InvalidArgumentError);
      assert.equal(core.snapshot().seq, 0);
    });

    it('traces: every record names a spec action, seq is consecutive, tracing off records nothing', () => {
      heldWith(3);
      core.handlerFailed(0, 10);
      core.tick(100);
      core.succeededRange(0, 10, 13);
      core.ledgerUnknown(0);
      core.ledgerRead(0, 1, 10);
      core.ledgerCommitted(0, 13);
      const records = trace(core);
      for (const r of records) assert.ok(SPEC_ACTIONS.includes(r.action), r.action);
      assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => 4 + i));
      const quiet = make(kind, 3, 1, false);
      quiet.assigned(0, 1, 0, 0);
      assert.equal(quiet.drainTrace(() => assert.fail('tracing is off')), 0);
      assert.equal(quiet.snapshot().seq, 1);
    });
  });
}

describe('DCSM reference step(state, input)', () => {
  it('Assign then Fetch: step returns the commands and the updated state', () => {
    const s = initialState({ maxInFlightPerPartition: 2, maxRetries: 0, retryBackoffMs: 0 });
    assert.deepEqual(step(s, Inputs.Assigned(3, 1, 0, 1)).commands, [{ kind: 'Seek', p: 3, offset: 0 }, { kind: 'Resume', p: 3 }]);
    const { state, commands } = step(s, Inputs.Fetched(3, 0, 1));
    assert.deepEqual(commands, [{ kind: 'RunHandler', p: 3, o: 0 }]);
    assert.equal(state.held.get(3)!.win.length, 1);
  });

  it('errors carry retriable and cause', () => {
    const cause = new Error('root');
    const e = new UnheldPartitionError('x', { cause, retriable: true });
    assert.equal(e.cause, cause);
    assert.equal(e.retriable, true);
    assert.equal(e.name, 'UnheldPartitionError');
  });
});
