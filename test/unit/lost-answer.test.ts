// A lost ledger answer end to end without a broker: the core's LedgerUnknown
// (spec LoseAnswer) asks for the row (ReadLedger), the runtime's LedgerReader
// reads it through the ledger port once the write settled (readSettled) and
// hands it to the core's LedgerRead (spec Recover), which decides: committed
// (Commit, CommitBroker), not applied (a new WriteLedger of the same range),
// or fenced (CommitRejected).  A real SQLite ledger; both cores.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCore, type Command, type Core, type CoreKind } from '../../src/core';
import {
  LedgerBusyError, LedgerError, openSqliteLedger, type LedgerRow, type PartitionRef, type SqliteLedger, type Statement,
} from '../../src/ledger';
import type { ConsumerFatalError } from '../../src/runtime/errors';
import { LedgerReader } from '../../src/runtime/lost-answer';

const T = 'orders';
const P0: PartitionRef = { topic: T, partition: 0 };

interface Run extends PartitionRef { active: boolean; base: number }

function commandsOf(core: Core, f: (c: Core) => { toArray(): Command[] }): Command[] {
  return f(core).toArray();
}

/** A reader over `ledger` whose row event feeds the core, and what it reported. */
function reader(ledger: SqliteLedger | ReturnType<typeof flaky>, core: Core | undefined) {
  const rows: (LedgerRow | undefined)[] = [];
  const decided: Command[][] = [];
  const retrying: unknown[] = [];
  const fatal: ConsumerFatalError[] = [];
  const r = new LedgerReader<Run>(ledger, {
    row: (_run, _epoch, row) => {
      rows.push(row);
      if (core !== undefined) decided.push(core.ledgerRead(0, row?.epoch ?? 0, row?.next ?? 0).toArray());
    },
    retrying: (e) => retrying.push(e),
    fatal: (e) => fatal.push(e),
  }, { backoffMs: 5, maxBackoffMs: 20 });
  return { r, rows, decided, retrying, fatal };
}

/** The ledger port with readSettled failing `errors` first. */
function flaky(inner: SqliteLedger, errors: unknown[]) {
  return Object.assign(Object.create(inner) as SqliteLedger, {
    readSettled: (ref: PartitionRef): Promise<LedgerRow | undefined> => {
      const e = errors.shift();
      return e === undefined ? inner.readSettled(ref) : Promise.reject(e);
    },
  });
}

for (const kind of ['ts', 'native'] as CoreKind[]) {
  describe(`runtime: a lost ledger answer resolved by the ${kind} core from the row (LedgerUnknown, ReadLedger, LedgerRead)`, () => {
    let dir: string;
    let ledger: SqliteLedger;
    let core: Core;
    let epoch: number;

    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-lost-'));
      ledger = openSqliteLedger(path.join(dir, 'ledger.db'));
      core = createCore({ kind, maxInFlightPerPartition: 8, maxRetries: 0, retryBackoffMs: 10 });
      epoch = (await ledger.fence(P0)).epoch;
      core.assigned(0, epoch, 0, 1);
      core.fetched(0, 0, 1);
    });
    afterEach(async () => {
      await ledger.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The handler's success issues WriteLedger(0, epoch, 0, 1); the answer to it is lost. */
    function writeAndLose(): { write: Command; read: Command[] } {
      const write = commandsOf(core, (c) => c.handlerSucceeded(0, 0)).find((c) => c.kind === 'WriteLedger')!;
      assert.deepStrictEqual(write, { kind: 'WriteLedger', p: 0, epoch, expectedNext: 0, upTo: 1 });
      const read = commandsOf(core, (c) => c.ledgerUnknown(0));
      assert.deepStrictEqual(read, [{ kind: 'ReadLedger', p: 0, epoch }]);
      return { write, read };
    }
    const outcomes = (n: number): { effects: Statement[] | null; deadLetter: null; absent: false }[] =>
      Array.from({ length: n }, () => ({ effects: null, deadLetter: null, absent: false }));

    it('the write applied: the row shows upTo under its epoch -> Commit and CommitBroker, nothing written again', async () => {
      writeAndLose();
      await ledger.commit([{ ...P0, epoch, expectedNext: 0, upTo: 1, outcomes: outcomes(1) }]);
      const x = reader(ledger, core);
      const run: Run = { ...P0, active: true, base: 0 };
      x.r.read(run, epoch);
      await x.r.settle();
      assert.deepStrictEqual(x.rows, [{ epoch, next: 1, writer: epoch }]);
      assert.ok(x.decided[0]!.some((c) => c.kind === 'CommitBroker' && c.offset === 1), JSON.stringify(x.decided));
      assert.ok(!x.decided[0]!.some((c) => c.kind === 'WriteLedger'), 'never the same write twice');
      assert.strictEqual(core.snapshot().partitions[0]!.base, 1);
    });

    it('the write did not apply: the row shows the old next -> a new WriteLedger of the same range', async () => {
      writeAndLose();
      const x = reader(ledger, core);
      x.r.read({ ...P0, active: true, base: 0 }, epoch);
      await x.r.settle();
      assert.deepStrictEqual(x.decided, [[{ kind: 'WriteLedger', p: 0, epoch, expectedNext: 0, upTo: 1 }]]);
      assert.strictEqual(core.snapshot().partitions[0]!.base, 0);
    });

    it('fenced meanwhile: the row shows a newer epoch -> the partition is dropped (CommitRejected)', async () => {
      writeAndLose();
      await ledger.fence(P0);
      const x = reader(ledger, core);
      x.r.read({ ...P0, active: true, base: 0 }, epoch);
      await x.r.settle();
      assert.strictEqual(core.snapshot().partitions.length, 0);
      assert.ok(!x.decided[0]!.some((c) => c.kind === 'WriteLedger' || c.kind === 'CommitBroker'));
    });

    it('a lost answer is never taken for an answer: LedgerCommitted after LedgerUnknown is refused', () => {
      writeAndLose();
      assert.throws(() => core.ledgerCommitted(0, 1), /lost|Unknown|LedgerRead/i);
    });
  });
}

describe('runtime: LedgerReader (command ReadLedger): retries, stops, never guesses', () => {
  let dir: string;
  let ledger: SqliteLedger;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-reader-'));
    ledger = openSqliteLedger(path.join(dir, 'ledger.db'));
    await ledger.fence(P0);
  });
  afterEach(async () => {
    await ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a retriable error is reported and the read tried again after backoff', async () => {
    const x = reader(flaky(ledger, [new LedgerBusyError('read: database is locked'), new LedgerBusyError('again')]), undefined);
    const t0 = Date.now();
    x.r.read({ ...P0, active: true, base: 0 }, 1);
    await x.r.settle();
    assert.strictEqual(x.retrying.length, 2);
    assert.deepStrictEqual(x.rows, [{ epoch: 1, next: 0, writer: 0 }]);
    assert.ok(Date.now() - t0 >= 14, 'backed off 5 ms, then 10 ms');
    assert.strictEqual(x.fatal.length, 0);
  });

  it('a non-retriable error stops the consumer, naming the partition and the offset; no row is made up', async () => {
    const x = reader(flaky(ledger, [new LedgerError('schema mismatch')]), undefined);
    x.r.read({ ...P0, active: true, base: 7 }, 1);
    await x.r.settle();
    assert.strictEqual(x.rows.length, 0);
    assert.strictEqual(x.fatal.length, 1);
    assert.match(x.fatal[0]!.message, /orders.*0.*7/);
    assert.match(x.fatal[0]!.message, /ReadLedger/);
  });

  it('a run that lost its partition stops reading: its row is not handed on', async () => {
    const run: Run = { ...P0, active: true, base: 0 };
    const x = reader(flaky(ledger, [new LedgerBusyError('locked')]), undefined);
    x.r.read(run, 1);
    run.active = false;
    await x.r.settle();
    assert.strictEqual(x.rows.length, 0);
    assert.strictEqual(x.retrying.length, 1);
  });
});
