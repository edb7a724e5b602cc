// The runtime's ledger writer (src/runtime/ledger-writer.ts) against a real
// SQLite ledger, with decorators of the ledger port that inject what a
// backend may answer: a retriable error, a non-retriable one, and { status:
// 'unknown' } after applying the commit or without applying it.  Spec
// actions: Commit, CommitRejected (WriteLedger's answer) and LoseAnswer (the
// writer hands a lost answer on; the core decides, test/unit/lost-answer).
// No broker.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  LedgerBusyError, LedgerError, LedgerSchemaError, LedgerStatementError, openSqliteLedger, type CommittedRange, type Fenced, type LedgerPort, type LedgerRow,
  type LedgerWrite, type OffsetOutcome, type OutboxEntry, type PartitionRef, type SqliteLedger, type Statement, type WriteResult,
} from '../../src/ledger';
import { ConsumerFatalError, OverlappingCommitError } from '../../src/runtime/errors';
import { LedgerWriter, type FinalResult, type QueuedWrite, type WriterRun } from '../../src/runtime/ledger-writer';

const T = 'orders';

/** A port that forwards to a real ledger; `commit` may be replaced per test. */
class Decorated implements LedgerPort<Statement> {
  readonly backend = 'decorated';
  readonly concurrentCommits: number;
  commits = 0;
  constructor(
    readonly inner: LedgerPort<Statement>,
    private readonly onCommit: (n: number, writes: readonly LedgerWrite[]) => Promise<WriteResult[]> | undefined,
    concurrentCommits = inner.concurrentCommits,
  ) {
    this.concurrentCommits = concurrentCommits;
  }
  fence(ref: PartitionRef): Promise<Fenced> { return this.inner.fence(ref); }
  commit(writes: readonly LedgerWrite<Statement>[]): Promise<WriteResult[]> {
    this.commits++;
    return this.onCommit(this.commits, writes) ?? this.inner.commit(writes);
  }
  read(ref: PartitionRef): Promise<LedgerRow | undefined> { return this.inner.read(ref); }
  readSettled(ref: PartitionRef): Promise<LedgerRow | undefined> { return this.inner.readSettled(ref); }
  outcomeAt(ref: PartitionRef, offset: number): Promise<OffsetOutcome | undefined> { return this.inner.outcomeAt(ref, offset); }
  committedRanges(topic: string, partition?: number): Promise<CommittedRange[]> { return this.inner.committedRanges(topic, partition); }
  deadLetters(ref: PartitionRef, after: number, limit: number): Promise<OutboxEntry[]> { return this.inner.deadLetters(ref, after, limit); }
  lastDeadLetter(ref: PartitionRef): Promise<number> { return this.inner.lastDeadLetter(ref); }
  close(): Promise<void> { return this.inner.close(); }
}

interface Run extends WriterRun { active: boolean }

/** One commit() call of a Scripted port, answered by the test. */
interface Call {
  readonly writes: readonly LedgerWrite[];
  readonly partitions: number[];
  answered: boolean;
  resolve(results: WriteResult[]): void;
  reject(e: unknown): void;
}

/**
 * A port whose commits stay in flight until the test answers them: apply()
 * runs the call's writes on the real ledger and answers its results,
 * lose() applies them and answers { status: 'unknown' }, fail() rejects
 * without applying anything.  Reads go to the real ledger.
 */
class Scripted extends Decorated {
  readonly calls: Call[] = [];
  constructor(inner: SqliteLedger, concurrentCommits: number) {
    super(inner, (_, writes) => new Promise<WriteResult[]>((resolve, reject) => {
      this.calls.push({ writes, partitions: writes.map((w) => w.partition), answered: false, resolve, reject });
    }), concurrentCommits);
  }
  /** The calls not answered yet, by their partitions. */
  get pending(): number[][] { return this.calls.filter((c) => !c.answered).map((c) => c.partitions); }
  async apply(i: number): Promise<void> {
    const c = this.take(i);
    c.resolve(await this.inner.commit(c.writes));
  }
  async lose(i: number): Promise<void> {
    const c = this.take(i);
    c.resolve((await this.inner.commit(c.writes)).map((): WriteResult => ({ status: 'unknown' })));
  }
  fail(i: number, e: unknown): void { this.take(i).reject(e); }
  private take(i: number): Call {
    const c = this.calls[i];
    if (c === undefined || c.answered) throw new Error(`call ${i} is not in flight (${this.calls.length} calls)`);
    c.answered = true;
    return c;
  }
}

/** Lets the event loop run until `done` (at most 3 s). */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A few turns of the event loop, for asserting that something did NOT happen. */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

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
  const lost: string[] = [];
  const writer = new LedgerWriter<Run>(ledger, {
    answered: (writes: readonly QueuedWrite<Run>[], results: readonly FinalResult[]) => {
      writes.forEach((w, i) => answered.push({ ref: `${w.write.topic}/${w.write.partition}@${w.write.expectedNext}`, result: results[i]! }));
    },
    lost: (writes) => { for (const w of writes) lost.push(`${w.write.topic}/${w.write.partition}@${w.write.expectedNext}`); },
    retrying: (e) => { retrying.push(e); retryAt.push(Date.now()); },
    fatal: (e) => fatal.push(e),
  }, { backoffMs, maxBackoffMs: 1000 });
  return { writer, answered, retrying, retryAt, fatal, lost };
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

  it('a lost answer goes to `lost`, never answered, never sent again by the writer (the core decides: LedgerUnknown)', async () => {
    const { epoch } = await sqlite.fence({ topic: T, partition: 0 });
    const ledger = new Decorated(sqlite, (n, writes) => (n === 1
      ? sqlite.commit(writes).then((applied) => applied.map((): WriteResult => ({ status: 'unknown' })))
      : undefined));
    const r = recorder(ledger);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, epoch, 0, [insert('a'), insert('b')]));
    await r.writer.settle(everything, soon());
    await turns();
    assert.deepStrictEqual(r.lost, [`${T}/0@0`]);
    assert.strictEqual(r.answered.length, 0, 'no answer is made up');
    assert.strictEqual(ledger.commits, 1, 'not sent again');
    assert.deepStrictEqual(effects(), ['a', 'b']);
    assert.deepStrictEqual(r.retrying, []);
    assert.deepStrictEqual(r.fatal, []);
    assert.strictEqual(r.writer.committing, false, 'the commit is over: its partition is free for the core\'s next write');
  });

  it('in one group commit, a lost answer is reported for each of its writes', async () => {
    const a = await sqlite.fence({ topic: T, partition: 0 });
    const b = await sqlite.fence({ topic: T, partition: 1 });
    const ledger = new Decorated(sqlite, (n, writes) => (n === 1 ? Promise.resolve(writes.map((): WriteResult => ({ status: 'unknown' }))) : undefined));
    const r = recorder(ledger);
    r.writer.add({ topic: T, partition: 0, active: true }, write(0, a.epoch, 0, [insert('a')]));
    r.writer.add({ topic: T, partition: 1, active: true }, write(1, b.epoch, 0, [insert('b')]));
    await r.writer.settle(everything, soon());
    await turns();
    assert.deepStrictEqual(r.lost, [`${T}/0@0`, `${T}/1@0`]);
    assert.strictEqual(ledger.commits, 1);
    assert.strictEqual(r.answered.length, 0);
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

  describe('several group commits in flight over disjoint partitions (ledger.concurrentCommits)', () => {
    const run = (partition: number): Run => ({ topic: T, partition, active: true });
    const fence = async (n: number): Promise<number[]> => {
      const epochs: number[] = [];
      for (let p = 0; p < n; p++) epochs.push((await sqlite.fence({ topic: T, partition: p })).epoch);
      return epochs;
    };

    it('concurrentCommits 1 (SQLite): a write queued while a commit is in flight waits for its answer', async () => {
      const e = await fence(2);
      const ledger = new Scripted(sqlite, 1);
      const r = recorder(ledger);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('p0')]));
      await until(() => ledger.calls.length === 1, 'the first commit');
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('p1')]));
      await turns();
      assert.deepStrictEqual(ledger.pending, [[0]], 'only one commit in flight');
      await ledger.apply(0);
      await until(() => ledger.calls.length === 2, 'the second commit');
      assert.deepStrictEqual(ledger.calls[1]!.partitions, [1]);
      await ledger.apply(1);
      await r.writer.settle(everything, soon());
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/0@0`, `${T}/1@0`]);
    });

    it('two commits in flight at once; answers are handed on in the order they arrive; a third waits for a free slot', async () => {
      const e = await fence(3);
      const ledger = new Scripted(sqlite, 2);
      const r = recorder(ledger);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('p0')]));
      await until(() => ledger.calls.length === 1, 'the first commit');
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('p1')]));
      await until(() => ledger.calls.length === 2, 'the second commit');
      assert.deepStrictEqual(ledger.pending, [[0], [1]], 'both in flight, each over its own partition');
      assert.strictEqual(r.writer.commitsInFlight, 2);
      assert.ok(r.writer.committing);
      r.writer.add(run(2), write(2, e[2]!, 0, [insert('p2')]));
      await turns();
      assert.strictEqual(ledger.calls.length, 2, 'no third commit while both slots are taken');
      await ledger.apply(1);
      await until(() => ledger.calls.length === 3, 'the third commit, in the freed slot');
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/1@0`], 'the second commit answered first');
      assert.deepStrictEqual(ledger.pending, [[0], [2]]);
      await ledger.apply(2);
      await ledger.apply(0);
      await r.writer.settle(everything, soon());
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/1@0`, `${T}/2@0`, `${T}/0@0`]);
      assert.ok(r.answered.every((a) => a.result.status === 'committed'));
      assert.deepStrictEqual(effects(), ['p0', 'p1', 'p2']);
      assert.strictEqual(r.writer.committing, false);
    });

    it('what queued at once is split by partition over the free slots, about the same offsets each; one partition never in two', async () => {
      const e = await fence(4);
      const ledger = new Scripted(sqlite, 3);
      const r = recorder(ledger);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('a'), insert('b'), insert('c'), insert('d'), insert('e')]));
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('f')]));
      r.writer.add(run(2), write(2, e[2]!, 0, [insert('g')]));
      r.writer.add(run(3), write(3, e[3]!, 0, [insert('h')]));
      await until(() => ledger.calls.length === 3, 'three commits');
      assert.deepStrictEqual(ledger.pending, [[0], [1, 3], [2]]);
      for (let i = 0; i < 3; i++) await ledger.apply(i);
      await r.writer.settle(everything, soon());
      assert.deepStrictEqual(r.answered.map((a) => a.ref).sort(), [`${T}/0@0`, `${T}/1@0`, `${T}/2@0`, `${T}/3@0`]);
      assert.strictEqual(effects().length, 8);
    });

    it('a write for a partition a commit in flight holds is never sent: OverlappingCommitError, the writer halts', async () => {
      const e = await fence(2);
      const ledger = new Scripted(sqlite, 2);
      const r = recorder(ledger);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('p0-a')]));
      await until(() => ledger.calls.length === 1, 'the first commit');
      // A core bug: a second write of partition 0 while its first is in flight.
      r.writer.add(run(0), write(0, e[0]!, 1, [insert('p0-b')]));
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('p1')]));
      await until(() => r.fatal.length > 0, 'the fatal error');
      assert.strictEqual(ledger.calls.length, 1, 'nothing of that flush was sent');
      const f = r.fatal[0]!;
      assert.deepStrictEqual([f.topic, f.partition, f.offset], [T, 0, 1]);
      assert.ok(f.cause instanceof OverlappingCommitError);
      assert.match(f.message, /the write of orders\/0 from offset 1 was about to be sent while a group commit holding orders\/0 is in flight/);
      await ledger.apply(0);
      await r.writer.settle(everything, soon());
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/0@0`], 'the commit in flight is still answered');
      assert.strictEqual(ledger.calls.length, 1, 'a halted writer sends nothing more');
      assert.deepStrictEqual(effects(), ['p0-a']);
    });

    it('a partition is free again when its answer is handed on: the next write it causes is sent, even while answers arrive together', async () => {
      const e = await fence(3);
      const ledger = new Scripted(sqlite, 3);
      // Like the core: each answer queues the partition's next write, until offset 6.
      const writer: LedgerWriter<Run> = new LedgerWriter<Run>(ledger, {
        answered: (writes, results) => {
          writes.forEach((w, i) => {
            answered.push(`${w.write.partition}@${w.write.expectedNext}`);
            const next = (results[i] as { next: number }).next;
            if (next < 6) writer.add(w.run, write(w.write.partition, e[w.write.partition]!, next, [insert(`p${w.write.partition}-${next}`), null]));
          });
        },
        lost: () => undefined,
        retrying: () => undefined,
        fatal: (f) => fatal.push(f),
      }, { backoffMs: 5, maxBackoffMs: 100 });
      const answered: string[] = [];
      const fatal: ConsumerFatalError[] = [];
      for (let p = 0; p < 3; p++) writer.add(run(p), write(p, e[p]!, 0, [insert(`p${p}-0`), null]));
      for (let round = 0; round < 3; round++) {
        await until(() => ledger.pending.length === 3, `round ${round}: three commits in flight`);
        // Answer all three in one go: their continuations interleave with the others' releases.
        const live = ledger.calls.map((c, i) => (c.answered ? -1 : i)).filter((i) => i >= 0);
        const results = await Promise.all(live.map((i) => sqlite.commit(ledger.calls[i]!.writes)));
        live.forEach((i, k) => { ledger.calls[i]!.answered = true; ledger.calls[i]!.resolve(results[k]!); });
      }
      await writer.settle(everything, soon());
      assert.deepStrictEqual(fatal, []);
      for (let p = 0; p < 3; p++) assert.deepStrictEqual(answered.filter((a) => a.startsWith(`${p}@`)), [`${p}@0`, `${p}@2`, `${p}@4`], `partition ${p} in offset order`);
      assert.strictEqual(effects().length, 9);
      assert.ok(ledger.calls.every((c) => c.partitions.length === 1));
    });

    it('a retriable error of one commit backs off and retries its writes, never skipping them, while the other commit completes', async () => {
      const e = await fence(3);
      const ledger = new Scripted(sqlite, 2);
      const r = recorder(ledger, 40);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('p0')]));
      await until(() => ledger.calls.length === 1, 'the first commit');
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('p1')]));
      await until(() => ledger.calls.length === 2, 'the second commit');
      const t0 = Date.now();
      ledger.fail(0, new LedgerBusyError('commit: database is locked'));
      await until(() => r.retrying.length === 1, 'the retry');
      // The whole ledger failed: nothing new is sent until the backoff ends.
      r.writer.add(run(2), write(2, e[2]!, 0, [insert('p2')]));
      await ledger.apply(1);
      await turns();
      assert.strictEqual(ledger.calls.length, 2, 'blocked during the backoff');
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/1@0`]);
      await until(() => ledger.calls.length >= 3, 'the retry after the backoff');
      assert.ok(Date.now() - t0 >= 35, `waited for the backoff: ${Date.now() - t0} ms`);
      assert.deepStrictEqual(ledger.pending, [[0], [2]], 'the failed write again, first, and partition 2 beside it in the other slot');
      await ledger.apply(3);
      await ledger.apply(2);
      await r.writer.settle(everything, soon());
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/1@0`, `${T}/2@0`, `${T}/0@0`]);
      assert.deepStrictEqual(effects(), ['p0', 'p1', 'p2'], 'every write applied once');
      assert.deepStrictEqual(r.fatal, []);
    });

    it('a retriable failing statement of one commit holds back only its partition; the commit beside it and new writes go on', async () => {
      const e = await fence(3);
      const ledger = new Scripted(sqlite, 2);
      const r = recorder(ledger, 200);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('p0')]));
      await until(() => ledger.calls.length === 1, 'the first commit');
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('p1')]));
      await until(() => ledger.calls.length === 2, 'the second commit');
      ledger.fail(0, new LedgerStatementError('disk I/O error', T, 0, 0, undefined, true));
      await until(() => r.retrying.length === 1, 'the retry');
      r.writer.add(run(2), write(2, e[2]!, 0, [insert('p2')]));
      await until(() => ledger.calls.length === 3, 'partition 2 sent at once');
      assert.deepStrictEqual(ledger.pending, [[1], [2]]);
      await ledger.apply(1);
      await ledger.apply(2);
      await turns();
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/1@0`, `${T}/2@0`], 'partition 0 still waits for its backoff');
      await until(() => ledger.calls.length === 4, 'partition 0 after its backoff');
      assert.deepStrictEqual(ledger.calls[3]!.partitions, [0]);
      await ledger.apply(3);
      await r.writer.settle(everything, soon());
      assert.deepStrictEqual(effects(), ['p0', 'p1', 'p2']);
    });

    it('a lost answer while another commit is in flight: reported at once, the other commit still answered', async () => {
      const e = await fence(2);
      const ledger = new Scripted(sqlite, 2);
      const r = recorder(ledger);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('p0')]));
      await until(() => ledger.calls.length === 1, 'the first commit');
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('p1')]));
      await until(() => ledger.calls.length === 2, 'the second commit');
      await ledger.lose(0);
      await until(() => r.lost.length === 1, 'the lost answer');
      assert.deepStrictEqual(r.lost, [`${T}/0@0`]);
      assert.strictEqual(r.answered.length, 0);
      assert.deepStrictEqual(ledger.pending, [[1]], 'never re-sent');
      await ledger.apply(1);
      await r.writer.settle(everything, soon());
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/1@0`]);
      assert.deepStrictEqual(effects(), ['p0', 'p1']);
      assert.strictEqual(ledger.calls.length, 2);
    });

    it('settle waits for every commit in flight, even past its deadline; committing is true while any is', async () => {
      const e = await fence(2);
      const ledger = new Scripted(sqlite, 2);
      const r = recorder(ledger);
      r.writer.add(run(0), write(0, e[0]!, 0, [insert('p0')]));
      await until(() => ledger.calls.length === 1, 'the first commit');
      r.writer.add(run(1), write(1, e[1]!, 0, [insert('p1')]));
      await until(() => ledger.calls.length === 2, 'the second commit');
      let settled = false;
      const s = r.writer.settle(everything, Date.now()).then(() => { settled = true; });
      await ledger.apply(0);
      await turns();
      assert.strictEqual(settled, false, 'one commit still in flight');
      assert.strictEqual(r.writer.committing, true);
      assert.strictEqual(r.writer.commitsInFlight, 1);
      await ledger.apply(1);
      await s;
      assert.strictEqual(r.writer.committing, false);
      assert.deepStrictEqual(r.answered.map((a) => a.ref), [`${T}/0@0`, `${T}/1@0`]);
    });

    it('refuses a ledger whose concurrentCommits is not an integer >= 1, naming it', () => {
      for (const bad of [0, -1, 1.5, NaN]) {
        assert.throws(() => recorder(new Scripted(sqlite, bad as never)), /the decorated ledger's concurrentCommits must be an integer >= 1, got /);
      }
    });
  });

  it('LedgerError defaults to not retriable; the busy and I/O errors are retriable', () => {
    assert.strictEqual(new LedgerError('x').retriable, false);
    assert.strictEqual(new LedgerBusyError('x').retriable, true);
  });
});
