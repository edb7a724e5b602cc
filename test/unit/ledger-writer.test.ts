// The runtime's ledger writer (src/runtime/ledger-writer.ts) and the lost
// answer's resolution (src/runtime/lost-answer.ts) against a real SQLite
// ledger, with decorators of the ledger port that inject what a backend may
// answer: a retriable error, a non-retriable one, and { status: 'unknown' }
// after applying the commit or without applying it.  Spec actions: Commit,
// CommitRejected (WriteLedger's answer), and the recovery step for a lost
// answer that the spec will model (issue 15).  No broker.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  LedgerBusyError, LedgerError, LedgerSchemaError, LedgerStatementError, openSqliteLedger, type CommittedRange, type Fenced, type LedgerPort, type LedgerRow,
  type LedgerWrite, type OffsetOutcome, type OutboxEntry, type PartitionRef, type SqliteLedger, type Statement, type WriteResult,
} from '../../src/ledger';
import { ConsumerFatalError } from '../../src/runtime/errors';
import { LedgerWriter, type FinalResult, type QueuedWrite, type WriterRun } from '../../src/runtime/ledger-writer';
import { resolveLostAnswer } from '../../src/runtime/lost-answer';

const T = 'orders';

/** A port that forwards to a real ledger; `commit` may be replaced per test. */
class Decorated implements LedgerPort<Statement> {
  readonly backend = 'decorated';
  commits = 0;
  constructor(readonly inner: LedgerPort<Statement>, private readonly onCommit: (n: number, writes: readonly LedgerWrite[]) => Promise<WriteResult[]> | undefined) {}
  fence(ref: PartitionRef): Promise<Fenced> { return this.inner.fence(ref); }
  commit(writes: readonly LedgerWrite<Statement>[]): Promise<WriteResult[]> {
    this.commits++;
    return this.onCommit(this.commits, writes) ?? this.inner.commit(writes);
  }
  read(ref: PartitionRef): Promise<LedgerRow | undefined> { return this.inner.read(ref); }
  outcomeAt(ref: PartitionRef, offset: number): Promise<OffsetOutcome | undefined> { return this.inner.outcomeAt(ref, offset); }
  committedRanges(topic: string, partition?: number): Promise<CommittedRange[]> { return this.inner.committedRanges(topic, partition); }
  deadLetters(ref: PartitionRef, after: number, limit: number): Promise<OutboxEntry[]> { return this.inner.deadLetters(ref, after, limit); }
  lastDeadLetter(ref: PartitionRef): Promise<number> { return this.inner.lastDeadLetter(ref); }
  close(): Promise<void> { return this.inner.close(); }
}

interface Run extends WriterRun { active: boolean }

function insert(id: string): Statement {
  return { sql: 'INSERT INTO effects (id) VALUES (?)', params: [id] };
}

function write(partition: number, epoch: number, expectedNext: number, effects: (Statement | null)[]): LedgerWrite {
  return {
    topic: T, partition, epoch, expectedNext, upTo: expectedNext + effects.length,
    outcomes: effects.map((e) => ({ effects: e === null ? null : [e], deadLetter: null, absent: false })),
  };
}

/** A writer over `ledger` that records everything it reports. */
function recorder(ledger: LedgerPort<Statement>, backoffMs = 5) {
  const answered: { ref: string; result: FinalResult }[] = [];
  const retrying: unknown[] = [];
  const retryAt: number[] = [];
  const fatal: ConsumerFatalError[] = [];
  const writer = new LedgerWriter<Run>(ledger, {
    answered: (writes: readonly QueuedWrite<Run>[], results: readonly FinalResult[]) => {
      writes.forEach((w, i) => answered.push({ ref: `${w.write.topic}/${w.write.partition}@${w.write.expectedNext}`, result: results[i]! }));
    },
    retrying: (e) => { retrying.push(e); retryAt.push(Date.now()); },
    fatal: (e) => fatal.push(e),
  }, { backoffMs, maxBackoffMs: 1000 });
  return { writer, answered, retrying, retryAt, fatal };
}

const everything = (): boolean => true;
const soon = (): number => Date.now() + 10000;

describe('runtime: ledger writer (WriteLedger answers, retriable and fatal ledger errors, lost answers)', () => {
  let dir: string;
  let sqlite: SqliteLedger;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-writer-'));
    sqlite = openSqliteLedger(path.join(dir, 'ledger.db'));
    sqlite.database.exec('CREATE TABLE effects (id TEXT PRIMARY KEY)');
  });

  afterEach(async () => {
    await sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const effects = (): string[] => (sqlite.database.prepare('SELECT id FROM effects ORDER BY id').all() as { id: string }[]).map((r) => r.id);

  describe('resolveLostAnswer: the row decides (the spec recovery step, issue 15)', () => {
    it('applied: the row is at the write\'s epoch and upTo -> committed', async () => {
      const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
      const w = write(0, epoch, 0, [insert('a'), null]);
      await sqlite.commit([w]);
      assert.deepStrictEqual(await resolveLostAnswer(sqlite, w), { status: 'committed', next: 2 });
    });

    it('not applied: the row is at the write\'s epoch and expectedNext -> resend', async () => {
      const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
      assert.strictEqual(await resolveLostAnswer(sqlite, write(0, epoch, 0, [insert('a')])), 'resend');
    });

    it('fenced by a newer holder, or a partition never fenced -> rejected (epoch)', async () => {
      const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
      const newer = await sqlite.fence({ topic: T, partition: 0 });
      assert.deepStrictEqual(await resolveLostAnswer(sqlite, write(0, epoch, 0, [insert('a')])),
        { status: 'rejected', reason: 'epoch', ledger: { epoch: newer.epoch, next: 0, writer: 0 } });
      assert.deepStrictEqual(await resolveLostAnswer(sqlite, write(9, 1, 0, [insert('a')])),
        { status: 'rejected', reason: 'epoch', ledger: { epoch: 0, next: 0, writer: 0 } });
    });

    it('same epoch but the row moved elsewhere -> rejected (next)', async () => {
      const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
      await sqlite.commit([write(0, epoch, 0, [null, null, null])]);
      assert.deepStrictEqual(await resolveLostAnswer(sqlite, write(0, epoch, 1, [insert('a')])),
        { status: 'rejected', reason: 'next', ledger: { epoch, next: 3, writer: epoch } });
    });
  });

  it('commits queued writes as one group commit and answers each (spec Commit, CommitRejected)', async () => {
    const e0 = (await sqlite.fence({ topic: T, partition: 0 })).epoch;
    const stale = (await sqlite.fence({ topic: T, partition: 1 })).epoch;
    await sqlite.fence({ topic: T, partition: 1 });
    const ledger = new Decorated(sqlite, () => undefined);
    const r = recorder(ledger);
    const run: Run = { topic: T, partition: 0, active: true };
    r.writer.add(run, write(0, e0, 0, [insert('a')]));
    r.writer.add({ topic: T, partition: 1, active: true }, write(1, stale, 0, [insert('stale')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(ledger.commits, 1, 'one transaction for both writes');
    assert.deepStrictEqual(r.answered.map((a) => [a.ref, a.result.status]), [[`${T}/0@0`, 'committed'], [`${T}/1@0`, 'rejected']]);
    assert.deepStrictEqual(effects(), ['a']);
  });

  it('a lost answer after the commit applied is resolved by reading the row: committed, never written twice', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
    const ledger = new Decorated(sqlite, (n, writes) => (n === 1
      ? sqlite.commit(writes).then((applied) => applied.map((): WriteResult => ({ status: 'unknown' })))
      : undefined));
    const r = recorder(ledger);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, epoch, 0, [insert('a'), insert('b')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(ledger.commits, 1, 'the applied write is not sent again');
    assert.deepStrictEqual(r.answered, [{ ref: `${T}/0@0`, result: { status: 'committed', next: 2 } }]);
    assert.deepStrictEqual(effects(), ['a', 'b'], 'effects exactly once');
    assert.deepStrictEqual(r.retrying, []);
    assert.deepStrictEqual(r.fatal, []);
  });

  it('a lost answer of a commit that did not apply is resolved by reading the row: sent again, committed once', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
    const ledger = new Decorated(sqlite, (n, writes) => (n === 1 ? Promise.resolve(writes.map((): WriteResult => ({ status: 'unknown' }))) : undefined));
    const r = recorder(ledger);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, epoch, 0, [insert('a')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(ledger.commits, 2, 'sent again once the row showed it did not apply');
    assert.deepStrictEqual(r.answered, [{ ref: `${T}/0@0`, result: { status: 'committed', next: 1 } }]);
    assert.deepStrictEqual(effects(), ['a']);
  });

  it('a lost answer whose read fails is resolved again later, before the write is ever re-sent', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
    let reads = 0;
    const ledger = new Decorated(sqlite, (n, writes) => (n === 1
      ? sqlite.commit(writes).then((applied) => applied.map((): WriteResult => ({ status: 'unknown' })))
      : undefined));
    ledger.read = (ref) => (++reads === 1 ? Promise.reject(new LedgerBusyError('read: database is locked')) : sqlite.read(ref));
    const r = recorder(ledger);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, epoch, 0, [insert('a')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(ledger.commits, 1, 'never re-sent: the second read found it applied');
    assert.strictEqual(reads, 2);
    assert.strictEqual(r.retrying.length, 1);
    assert.deepStrictEqual(r.answered, [{ ref: `${T}/0@0`, result: { status: 'committed', next: 1 } }]);
    assert.deepStrictEqual(effects(), ['a']);
  });

  it('retries a retriable error with exponential backoff, never skipping the write', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
    const ledger = new Decorated(sqlite, (n) => (n <= 3 ? Promise.reject(new LedgerBusyError(`commit ${n}: database is locked`)) : undefined));
    const r = recorder(ledger, 20);
    const t0 = Date.now();
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, epoch, 0, [insert('a')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(ledger.commits, 4);
    assert.strictEqual(r.retrying.length, 3);
    assert.ok(r.retrying.every((e) => e instanceof LedgerBusyError && e.retriable));
    // Waits of 20, 40 and 80 ms before the 2nd, 3rd and 4th attempt.
    assert.ok(Date.now() - t0 >= 20 + 40 + 80 - 5, `backoff doubled: took ${Date.now() - t0} ms`);
    assert.deepStrictEqual(r.answered, [{ ref: `${T}/0@0`, result: { status: 'committed', next: 1 } }]);
    assert.deepStrictEqual(effects(), ['a']);
    assert.deepStrictEqual(r.fatal, []);
  });

  it('a non-retriable ledger error stops with a ConsumerFatalError naming topic, partition and offset; nothing more is sent', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 3 });
    await sqlite.commit([write(3, epoch, 0, [null, null, null, null, null, null, null])]);
    const ledger = new Decorated(sqlite, () => Promise.reject(new LedgerSchemaError('ledger schema version 9 is newer than this htmqc\'s 2')));
    const r = recorder(ledger);
    r.writer.add({ topic: T, partition: 3, active: true }, write(3, epoch, 7, [insert('a')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(r.fatal.length, 1);
    const e = r.fatal[0]!;
    assert.ok(e instanceof ConsumerFatalError);
    assert.deepStrictEqual([e.topic, e.partition, e.offset], [T, 3, 7]);
    assert.match(e.message, /topic orders partition 3 offset 7/);
    assert.match(e.message, /LedgerSchemaError: ledger schema version 9/);
    assert.ok(e.cause instanceof LedgerSchemaError);
    assert.deepStrictEqual(r.retrying, [], 'not retried');
    r.writer.add({ topic: T, partition: 3, active: true }, write(3, epoch, 8, [insert('b')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(ledger.commits, 1, 'a halted writer sends nothing');
    assert.deepStrictEqual(effects(), []);
  });

  it('an error that is not a LedgerError is not retriable either', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
    const ledger = new Decorated(sqlite, () => Promise.reject(new TypeError('backend bug')));
    const r = recorder(ledger);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, epoch, 0, [insert('a')]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(r.fatal.length, 1);
    assert.match(r.fatal[0]!.message, /partition 0 offset 0 failed and cannot be retried: TypeError: backend bug/);
  });

  it('a deterministic effect statement (real SQLite, missing table) stops naming its offset; the other partitions are committed', async () => {
    const e0 = (await sqlite.fence({ topic: T, partition: 0 })).epoch;
    const e1 = (await sqlite.fence({ topic: T, partition: 1 })).epoch;
    const r = recorder(sqlite);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, e0, 0, [insert('p0-a'), insert('p0-b')]));
    r.writer.add({ topic: T, partition: 1, active: true }, write(1, e1, 0, [insert('p1-a'), { sql: 'INSERT INTO no_such_table VALUES (?)', params: [1] }]));
    await r.writer.settle(everything, soon());
    assert.strictEqual(r.fatal.length, 1);
    assert.deepStrictEqual([r.fatal[0]!.partition, r.fatal[0]!.offset], [1, 1]);
    assert.match(r.fatal[0]!.message, /topic orders partition 1 offset 1 .*no such table: no_such_table/);
    assert.deepStrictEqual(r.answered.map((a) => [a.ref, a.result.status]), [[`${T}/0@0`, 'committed']], 'partition 0 committed on its own');
    assert.deepStrictEqual(effects(), ['p0-a', 'p0-b']);
    assert.strictEqual((await sqlite.read({ topic: T, partition: 1 }))!.next, 0, 'nothing of partition 1 applied');
  });

  it('a retriable failing statement holds back only its partition', async () => {
    const e0 = (await sqlite.fence({ topic: T, partition: 0 })).epoch;
    const e1 = (await sqlite.fence({ topic: T, partition: 1 })).epoch;
    const ledger = new Decorated(sqlite, (n) => (n === 1 ? Promise.reject(new LedgerStatementError('disk I/O error', T, 1, 0, undefined, true)) : undefined));
    const r = recorder(ledger, 200);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, e0, 0, [insert('p0')]));
    r.writer.add({ topic: T, partition: 1, active: true }, write(1, e1, 0, [insert('p1')]));
    const t0 = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/0@0`], 'partition 0 committed before the backoff of partition 1 ended');
    await r.writer.settle(everything, soon());
    assert.ok(Date.now() - t0 >= 150, 'partition 1 waited for its backoff');
    assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/0@0`, `${T}/1@0`]);
    assert.deepStrictEqual(effects(), ['p0', 'p1']);
  });

  it('settle awaits the commit in flight even past its deadline (a Revoke never overtakes a Commit)', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const ledger = new Decorated(sqlite, (n, writes) => (n === 1 ? gate.then(() => sqlite.commit(writes)) : undefined));
    const r = recorder(ledger);
    const run: Run = { topic: T, partition: 0, active: true };
    r.writer.add(run, write(0, epoch, 0, [insert('a')]));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(r.writer.committing);
    let settled = false;
    const s = r.writer.settle(everything, Date.now()).then(() => { settled = true; });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.strictEqual(settled, false, 'still waiting for the answer');
    r.writer.add(run, write(0, epoch, 1, [insert('b')]));
    release();
    await s;
    // The answer queued more: the writer sent it at once, and settle waited for that commit too.
    assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/0@0`, `${T}/0@1`], 'answered before settle resolved');
    assert.strictEqual(r.writer.committing, false, 'no commit in flight when settle resolves');
    assert.deepStrictEqual(effects(), ['a', 'b']);
  });

  it('LedgerError defaults to not retriable; the busy and I/O errors are retriable', () => {
    assert.strictEqual(new LedgerError('x').retriable, false);
    assert.strictEqual(new LedgerBusyError('x').retriable, true);
  });
});
