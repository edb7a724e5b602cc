// The SQLite ledger (src/ledger/sqlite/) against the spec's ledger steps,
// through the async ledger port (src/ledger/port.ts):
// Assign's fence, Commit's acceptance test (epoch equal AND next equal),
// CommitRejected applying nothing, the outbox written with the offset, the
// committed ranges and outcomes of schema version 2, and the migration from
// version 1.  No broker; each test uses a fresh database file in a temp
// directory.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import {
  LedgerArgumentError, LedgerBusyError, LedgerError, LedgerSchemaError, LedgerStatementError, openSqliteLedger, outcomeAt, SCHEMA_VERSION,
  type CommittedRange, type DeadLetterEntry, type LedgerPort, type LedgerWrite, type Outcome, type SqliteLedger, type SqliteLedgerOptions, type Statement, type WriteResult,
} from '../../src/ledger';
import { fromWire, toWire } from '../../src/ledger/sqlite/thread';

const T = 'orders';

function done(...effects: Statement[]): Outcome {
  return { effects, deadLetter: null, absent: false };
}

function insertRow(id: string): Statement {
  return { sql: 'INSERT INTO effects (id) VALUES (?)', params: [id] };
}

function deadLettered(attempts = 3): Outcome {
  return { effects: null, deadLetter: deadLetterEntry(attempts), absent: false };
}

function deadLetterEntry(attempts: number): DeadLetterEntry {
  return { key: Buffer.from('k'), value: Buffer.from('v'), headers: { h: '1' }, timestamp: '1700000000000', error: 'Error: boom', attempts };
}

const ABSENT: Outcome = { effects: null, deadLetter: null, absent: true };

/** The answer to a commit of one write. */
async function one(ledger: LedgerPort<Statement>, w: LedgerWrite): Promise<WriteResult> {
  const r = await ledger.commit([w]);
  assert.strictEqual(r.length, 1, 'one result per write');
  return r[0]!;
}

function write(partition: number, epoch: number, expectedNext: number, outcomes: Outcome[]): LedgerWrite {
  return { topic: T, partition, epoch, expectedNext, upTo: expectedNext + outcomes.length, outcomes };
}

describe('ledger: SQLite backend (spec Assign fence, Commit, CommitRejected)', () => {
  let dir: string;
  let file: string;
  let ledger: SqliteLedger;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-ledger-'));
    file = path.join(dir, 'ledger.db');
    ledger = openSqliteLedger(file);
    ledger.database.exec('CREATE TABLE effects (id TEXT PRIMARY KEY)');
  });

  afterEach(async () => {
    await ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const effectIds = (): string[] =>
    (ledger.database.prepare('SELECT id FROM effects ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  const ranges = (p: number): Promise<CommittedRange[]> => ledger.committedRanges(T, p);
  const count = (table: string): number => (ledger.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

  it('creates the versioned schema on first use with WAL and synchronous=FULL', async () => {
    const db = ledger.database;
    assert.strictEqual(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.deepStrictEqual(db.prepare('SELECT version FROM htmqc_schema_version').all(), [{ version: SCHEMA_VERSION }]);
    assert.strictEqual(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.strictEqual(db.pragma('synchronous', { simple: true }), 2, 'synchronous=FULL is 2');
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'htmqc_%' ORDER BY name").all() as { name: string }[])
      .map((r) => r.name);
    assert.strictEqual(SCHEMA_VERSION, 2);
    assert.deepStrictEqual(tables, ['htmqc_absent', 'htmqc_dead_letters', 'htmqc_partitions', 'htmqc_ranges', 'htmqc_schema_version']);
  });

  it('fence issues a strictly increasing epoch and returns next (spec Assign)', async () => {
    assert.strictEqual(await ledger.read({ topic: T, partition: 0 }), undefined);
    assert.deepStrictEqual(await ledger.fence({ topic: T, partition: 0 }), { epoch: 1, next: 0 });
    assert.deepStrictEqual(await ledger.fence({ topic: T, partition: 0 }), { epoch: 2, next: 0 });
    assert.deepStrictEqual(await ledger.fence({ topic: T, partition: 1 }), { epoch: 1, next: 0 });
    assert.deepStrictEqual(await ledger.read({ topic: T, partition: 0 }), { epoch: 2, next: 0, writer: 0 });
  });

  it('accepts a commit with the current epoch and next, applying effects, the range and next together (spec Commit)', async () => {
    const { epoch, next } = await ledger.fence({ topic: T, partition: 0 });
    const r = (await one(ledger, write(0, epoch, next, [done(insertRow('a')), done(), done(insertRow('b'), insertRow('c'))])));
    assert.deepStrictEqual(r, { status: 'committed', next: 3 });
    assert.deepStrictEqual(await ledger.read({ topic: T, partition: 0 }), { epoch, next: 3, writer: epoch });
    assert.deepStrictEqual(effectIds(), ['a', 'b', 'c']);
    assert.deepStrictEqual(await ranges(0), [{ partition: 0, first: 0, next: 3, epoch }]);
    assert.deepStrictEqual((await one(ledger, write(0, epoch, 3, [done(insertRow('d'))]))), { status: 'committed', next: 4 });
  });

  it('writes one range row per accepted write, contiguous across writes and epochs (spec Commit)', async () => {
    const e1 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const e2 = (await ledger.fence({ topic: T, partition: 1 })).epoch;
    assert.deepStrictEqual(await ledger.commit([
      write(0, e1, 0, [done(), done()]),
      write(1, e2, 0, [done()]),
    ]), [{ status: 'committed', next: 2 }, { status: 'committed', next: 1 }]);
    assert.strictEqual((await one(ledger, write(0, e1, 2, [done(), done(), done()]))).status, 'committed');
    const e3 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    assert.strictEqual((await one(ledger, write(0, e3, 5, [done()]))).status, 'committed');
    assert.deepStrictEqual(await ledger.committedRanges(T), [
      { partition: 0, first: 0, next: 2, epoch: e1 },
      { partition: 0, first: 2, next: 5, epoch: e1 },
      { partition: 0, first: 5, next: 6, epoch: e3 },
      { partition: 1, first: 0, next: 1, epoch: e2 },
    ]);
    assert.strictEqual(count('htmqc_absent'), 0, 'Done offsets need no row of their own');
    assert.strictEqual(count('htmqc_dead_letters'), 0);
  });

  it('outcomeAt: Done, DeadLettered, Absent inside committed ranges; undefined outside them', async () => {
    const { epoch } = await ledger.fence({ topic: T, partition: 0 });
    assert.strictEqual((await one(ledger, write(0, epoch, 0, [done(insertRow('a')), deadLettered(), ABSENT, done()]))).status, 'committed');
    assert.strictEqual((await one(ledger, write(0, epoch, 4, [ABSENT]))).status, 'committed');
    const at = (p: number, offset: number) => ledger.outcomeAt({ topic: T, partition: p }, offset);
    assert.deepStrictEqual(await Promise.all([0, 1, 2, 3, 4, 5].map((o) => at(0, o))), ['Done', 'DeadLettered', 'Absent', 'Done', 'Absent', undefined]);
    assert.strictEqual(await at(1, 0), undefined, 'a partition never written');
    assert.strictEqual(await ledger.outcomeAt({ topic: 'other', partition: 0 }, 0), undefined);
    assert.deepStrictEqual(ledger.database.prepare('SELECT offset, epoch FROM htmqc_absent ORDER BY offset').all(),
      [{ offset: 2, epoch }, { offset: 4, epoch }]);
    // The same answers from a separate read-only connection, as auditors open it.
    const ro = new Database(file, { readonly: true, fileMustExist: true });
    try {
      assert.deepStrictEqual([0, 1, 2, 3, 4, 5].map((o) => outcomeAt(ro, T, 0, o)), ['Done', 'DeadLettered', 'Absent', 'Done', 'Absent', undefined]);
    } finally {
      ro.close();
    }
  });

  it('a rejected write writes no range, dead letter, absent row or effect (spec CommitRejected)', async () => {
    const stale = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const current = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const outcomes = [done(insertRow('x')), deadLettered(), ABSENT];
    assert.strictEqual((await one(ledger, write(0, stale, 0, outcomes))).status, 'rejected', 'epoch check');
    assert.strictEqual((await one(ledger, write(0, current, 1, outcomes))).status, 'rejected', 'next check');
    assert.deepStrictEqual(await ranges(0), []);
    assert.deepStrictEqual(effectIds(), []);
    assert.strictEqual(count('htmqc_dead_letters'), 0);
    assert.strictEqual(count('htmqc_absent'), 0);
    assert.deepStrictEqual(await Promise.all([0, 1, 2].map((o) => ledger.outcomeAt({ topic: T, partition: 0 }, o))), [undefined, undefined, undefined]);
  });

  it('rejects a stale epoch after a newer fence and applies nothing (spec CommitRejected, FencingInv)', async () => {
    const zombie = await ledger.fence({ topic: T, partition: 0 });
    const holder = await ledger.fence({ topic: T, partition: 0 });
    const r = (await one(ledger, write(0, zombie.epoch, 0, [done(insertRow('zombie'))])));
    assert.deepStrictEqual(r, { status: 'rejected', reason: 'epoch', ledger: { epoch: holder.epoch, next: 0, writer: 0 } });
    assert.deepStrictEqual(effectIds(), []);
    assert.deepStrictEqual(await ranges(0), []);
  });

  it('rejects an unexpected next and applies nothing (the next check)', async () => {
    const { epoch } = await ledger.fence({ topic: T, partition: 0 });
    assert.strictEqual((await one(ledger, write(0, epoch, 0, [done(insertRow('a'))]))).status, 'committed');
    const again = (await one(ledger, write(0, epoch, 0, [done(insertRow('again'))])));
    assert.deepStrictEqual(again, { status: 'rejected', reason: 'next', ledger: { epoch, next: 1, writer: epoch } });
    const ahead = (await one(ledger, write(0, epoch, 5, [done(insertRow('gap'))])));
    assert.strictEqual(ahead.status, 'rejected');
    assert.deepStrictEqual(effectIds(), ['a']);
    assert.deepStrictEqual(await ranges(0), [{ partition: 0, first: 0, next: 1, epoch }]);
  });

  it('rejects a commit for a partition that was never fenced', async () => {
    const r = (await one(ledger, write(7, 1, 0, [done(insertRow('x'))])));
    assert.strictEqual(r.status, 'rejected');
    assert.deepStrictEqual(effectIds(), []);
  });

  it('rolls back the whole group commit when a user statement fails mid-batch', async () => {
    const e0 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const e1 = (await ledger.fence({ topic: T, partition: 1 })).epoch;
    const bad: Statement = { sql: 'INSERT INTO no_such_table (id) VALUES (?)', params: ['x'] };
    await assert.rejects(
      ledger.commit([
        write(0, e0, 0, [done(insertRow('p0-a')), done(insertRow('p0-b'))]),
        write(1, e1, 0, [done(insertRow('p1-a')), done(bad), done(insertRow('p1-c'))]),
      ]),
      // A missing table fails the same way every time (SQLITE_ERROR): not retriable.
      (e: unknown) => e instanceof LedgerStatementError && e.partition === 1 && e.offset === 1 && !e.retriable && /SQLITE_ERROR/.test(e.message),
    );
    assert.deepStrictEqual(effectIds(), [], 'no effect of either partition survived');
    assert.deepStrictEqual(await ranges(0), []);
    assert.deepStrictEqual(await ranges(1), []);
    assert.deepStrictEqual(await ledger.read({ topic: T, partition: 0 }), { epoch: e0, next: 0, writer: 0 });
    assert.deepStrictEqual(await ledger.read({ topic: T, partition: 1 }), { epoch: e1, next: 0, writer: 0 });
    // The same writes without the bad statement then commit in full.
    const r = await ledger.commit([
      write(0, e0, 0, [done(insertRow('p0-a')), done(insertRow('p0-b'))]),
      write(1, e1, 0, [done(insertRow('p1-a')), done(), done(insertRow('p1-c'))]),
    ]);
    assert.deepStrictEqual(r, [{ status: 'committed', next: 2 }, { status: 'committed', next: 3 }]);
  });

  it('rolls back a failing effect that violates a constraint of the user schema', async () => {
    const { epoch } = await ledger.fence({ topic: T, partition: 0 });
    await assert.rejects(one(ledger, write(0, epoch, 0, [done(insertRow('dup')), done(insertRow('dup'))])),
      (e: unknown) => e instanceof LedgerStatementError && e.offset === 1 && !e.retriable && /SQLITE_CONSTRAINT/.test(e.message));
    assert.deepStrictEqual(effectIds(), []);
    assert.deepStrictEqual((await ledger.read({ topic: T, partition: 0 }))?.next, 0);
  });

  it('group commit accepts and rejects writes independently, in one transaction', async () => {
    const e0 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const stale = (await ledger.fence({ topic: T, partition: 1 })).epoch;
    await ledger.fence({ topic: T, partition: 1 });
    const r = await ledger.commit([write(0, e0, 0, [done(insertRow('ok'))]), write(1, stale, 0, [done(insertRow('stale'))])]);
    assert.strictEqual(r[0]!.status, 'committed');
    assert.strictEqual(r[1]!.status, 'rejected');
    assert.deepStrictEqual(effectIds(), ['ok']);
  });

  it('writes the dead letter to the outbox in the same transaction as the offset (spec DeadLetter + Commit)', async () => {
    const { epoch } = await ledger.fence({ topic: T, partition: 2 });
    const deadLetter = deadLetterEntry(3);
    const r = (await one(ledger, write(2, epoch, 0, [done(insertRow('a')), { effects: null, deadLetter, absent: false }, done(insertRow('c'))])));
    assert.deepStrictEqual(r, { status: 'committed', next: 3 });
    assert.deepStrictEqual(await Promise.all([0, 1, 2].map((o) => ledger.outcomeAt({ topic: T, partition: 2 }, o))), ['Done', 'DeadLettered', 'Done']);
    assert.strictEqual(await ledger.lastDeadLetter({ topic: T, partition: 2 }), 1);
    assert.strictEqual(await ledger.lastDeadLetter({ topic: T, partition: 0 }), -1);
    assert.deepStrictEqual(await ledger.deadLetters({ topic: T, partition: 2 }, -1, 10), [{ offset: 1, ...deadLetter }]);
    assert.deepStrictEqual(await ledger.deadLetters({ topic: T, partition: 2 }, 1, 10), []);
  });

  it('commits on the commit thread: same acceptance, effects with buffers, dead letters, ranges', async () => {
    ledger.database.exec('CREATE TABLE blobs (id TEXT PRIMARY KEY, v BLOB NOT NULL)');
    const e0 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const stale = (await ledger.fence({ topic: T, partition: 1 })).epoch;
    await ledger.fence({ topic: T, partition: 1 });
    const blob: Statement = { sql: 'INSERT INTO blobs (id, v) VALUES (?, ?)', params: ['b', Buffer.from([1, 2, 3])] };
    const r = await ledger.commit([
      write(0, e0, 0, [done(insertRow('a')), done(blob), done(), deadLettered(2), ABSENT]),
      write(1, stale, 0, [done(insertRow('stale'))]),
    ]);
    assert.strictEqual(r[0]!.status, 'committed');
    assert.deepStrictEqual(r[0], { status: 'committed', next: 5 });
    assert.strictEqual(r[1]!.status, 'rejected', 'the stale epoch is rejected on the thread too');
    assert.deepStrictEqual(effectIds(), ['a']);
    const v = (ledger.database.prepare('SELECT v FROM blobs').get() as { v: Buffer }).v;
    assert.deepStrictEqual([...v], [1, 2, 3], 'a Buffer param crosses to the thread and is bound as a BLOB');
    assert.deepStrictEqual(await Promise.all([0, 1, 2, 3, 4].map((o) => ledger.outcomeAt({ topic: T, partition: 0 }, o))), ['Done', 'Done', 'Done', 'DeadLettered', 'Absent']);
    assert.deepStrictEqual(await ledger.deadLetters({ topic: T, partition: 0 }, -1, 10), [{ offset: 3, ...deadLetterEntry(2) }]);
    assert.deepStrictEqual(await ledger.read({ topic: T, partition: 0 }), { epoch: e0, next: 5, writer: e0 });
    // A fence (also on the thread) after the commit sees its next.
    assert.deepStrictEqual(await ledger.fence({ topic: T, partition: 0 }), { epoch: e0 + 1, next: 5 });
    const again = await ledger.commit([write(0, e0, 5, [done(insertRow('zombie'))])]);
    assert.strictEqual(again[0]!.status, 'rejected', 'the old epoch is fenced out');
    assert.deepStrictEqual(effectIds(), ['a']);
  });

  it('the commit thread\'s wire form carries only the outcomes that are not a plain Done, each at its own offset', async () => {
    const blob: Statement = { sql: 'INSERT INTO blobs (id, v) VALUES (?, ?)', params: ['b', Buffer.from([7, 8])] };
    const outcomes = [done(), done(insertRow('a')), done(), done(), ABSENT, deadLettered(2), done(blob), done()];
    const w = write(3, 4, 10, outcomes);
    const wire = toWire([w]);
    assert.deepStrictEqual(wire[0]!.at, [1, 4, 5, 6], 'plain Done outcomes do not travel');
    // As the thread receives it: a structured clone turns Buffers into Uint8Arrays.
    const back = fromWire(structuredClone(wire))[0]!;
    assert.deepStrictEqual({ ...back, outcomes: undefined }, { ...w, outcomes: undefined });
    assert.strictEqual(back.outcomes.length, outcomes.length);
    for (let i = 0; i < outcomes.length; i++) {
      const want = outcomes[i]!;
      const got = back.outcomes[i]!;
      assert.strictEqual(got.absent, want.absent, `absent at index ${i}`);
      assert.deepStrictEqual(got.deadLetter, want.deadLetter, `dead letter at index ${i}`);
      assert.deepStrictEqual(got.effects ?? [], want.effects ?? [], `effects at index ${i}`);
    }
    assert.ok(Buffer.isBuffer(back.outcomes[6]!.effects![0]!.params[1]), 'a Buffer param is a Buffer again on the thread');
  });

  it('the thread rebuilds a failing effect as LedgerStatementError naming the partition and offset, and applies nothing', async () => {
    const e0 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const bad: Statement = { sql: 'INSERT INTO no_such_table (id) VALUES (?)', params: ['x'] };
    await assert.rejects(
      ledger.commit([write(0, e0, 0, [done(insertRow('a')), done(bad)])]),
      (e: unknown) => e instanceof LedgerStatementError && e.topic === T && e.partition === 0 && e.offset === 1 && !e.retriable,
    );
    assert.deepStrictEqual(effectIds(), []);
    assert.deepStrictEqual((await ledger.read({ topic: T, partition: 0 }))?.next, 0);
    await assert.rejects(ledger.commit([{ ...write(0, e0, 0, [done()]), upTo: 0 }]), LedgerArgumentError);
  });

  it('answers fences and commits in the order they were sent, and close() waits for those in flight', async () => {
    const e0 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    const answers: string[] = [];
    const label = (r: WriteResult[]): string => r.map((x) => (x.status === 'committed' ? `next ${x.next}` : x.status)).join(',');
    const first = ledger.commit([write(0, e0, 0, [done(insertRow('s1'))])]).then((r) => answers.push(label(r)));
    const second = ledger.commit([write(0, e0, 1, [done(insertRow('s2')), done()])]).then((r) => answers.push(label(r)));
    const fence = ledger.fence({ topic: T, partition: 0 }).then((f) => answers.push(`fenced ${f.epoch} at ${f.next}`));
    const stale = ledger.commit([write(0, e0, 3, [done(insertRow('s3'))])]).then((r) => answers.push(label(r)));
    assert.deepStrictEqual(answers, [], 'answers arrive asynchronously');
    await ledger.close();
    await Promise.all([first, second, fence, stale]);
    assert.deepStrictEqual(answers, ['next 1', 'next 3', `fenced ${e0 + 1} at 3`, 'rejected'], 'all answered, in the order sent, before close resolved');
    await assert.rejects(ledger.fence({ topic: T, partition: 0 }), (e: unknown) => e instanceof LedgerError && !e.retriable && /closed/.test(e.message));
    ledger = openSqliteLedger(file);
    assert.deepStrictEqual(effectIds(), ['s1', 's2']);
  });

  it('close() keeps an otherwise idle process alive until the commit thread has ended', () => {
    // In a process with nothing else to do, an unref'd idle thread would let Node exit before close() resolved.
    const ledgerModule = path.resolve(__dirname, '../../src/ledger');
    const script = `const { openSqliteLedger } = require(${JSON.stringify(ledgerModule)});
      (async () => {
        const l = openSqliteLedger(${JSON.stringify(path.join(dir, 'idle.db'))});
        const f = await l.fence({ topic: 't', partition: 0 });
        await l.close();
        process.stdout.write('closed at epoch ' + f.epoch);
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.strictEqual(r.stdout, 'closed at epoch 1', `stderr: ${r.stderr}`);
  });

  it('another connection holding the write lock past busy_timeout: LedgerBusyError, retriable, nothing applied', async () => {
    const e0 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    await ledger.close();
    ledger = openSqliteLedger({ path: file, busyTimeoutMs: 50 });
    const holder = new Database(file);
    holder.exec('BEGIN IMMEDIATE');
    try {
      await assert.rejects(one(ledger, write(0, e0, 0, [done(insertRow('a'))])), (e: unknown) => e instanceof LedgerBusyError && e.retriable);
      await assert.rejects(ledger.fence({ topic: T, partition: 0 }), (e: unknown) => e instanceof LedgerBusyError && e.retriable);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    assert.deepStrictEqual(await one(ledger, write(0, e0, 0, [done(insertRow('a'))])), { status: 'committed', next: 1 }, 'the same write succeeds once the lock is free');
  });

  it('commitThread: false answers the same on the caller\'s connection', async () => {
    await ledger.close();
    ledger = openSqliteLedger({ path: file, commitThread: false });
    const e0 = (await ledger.fence({ topic: T, partition: 0 })).epoch;
    assert.deepStrictEqual(await one(ledger, write(0, e0, 0, [done(insertRow('a'))])), { status: 'committed', next: 1 });
    assert.deepStrictEqual(await one(ledger, write(0, e0, 0, [done(insertRow('b'))])),
      { status: 'rejected', reason: 'next', ledger: { epoch: e0, next: 1, writer: e0 } });
    await assert.rejects(one(ledger, write(0, e0, 1, [done({ sql: 'INSERT INTO nope VALUES (1)', params: [] })])),
      (e: unknown) => e instanceof LedgerStatementError && e.offset === 1 && !e.retriable);
  });

  it('keeps its state across close and reopen, and a second connection fences the first (zombie)', async () => {
    const first = await ledger.fence({ topic: T, partition: 0 });
    assert.strictEqual((await one(ledger, write(0, first.epoch, 0, [done(insertRow('a'))]))).status, 'committed');
    await ledger.close();
    ledger = openSqliteLedger(file);
    assert.deepStrictEqual(await ledger.read({ topic: T, partition: 0 }), { epoch: first.epoch, next: 1, writer: first.epoch });

    const other = openSqliteLedger(file);
    try {
      const second = await other.fence({ topic: T, partition: 0 });
      assert.deepStrictEqual(second, { epoch: first.epoch + 1, next: 1 });
      assert.strictEqual((await one(ledger, write(0, first.epoch, 1, [done(insertRow('zombie'))]))).status, 'rejected');
      assert.strictEqual((await one(other, write(0, second.epoch, 1, [done(insertRow('b'))]))).status, 'committed');
    } finally {
      await other.close();
    }
    assert.deepStrictEqual(effectIds(), ['a', 'b']);
  });

  it('refuses a database whose schema is newer than this version (version 3)', async () => {
    await ledger.close();
    const db = new Database(file);
    db.pragma('user_version = 3');
    db.close();
    assert.throws(() => openSqliteLedger(file), LedgerSchemaError);
    const after = new Database(file, { readonly: true });
    assert.strictEqual(after.pragma('user_version', { simple: true }), 3, 'left as it was');
    after.close();
    ledger = openSqliteLedger(path.join(dir, 'fresh.db'));
  });

  it('rejects malformed writes before touching the database', async () => {
    const { epoch } = await ledger.fence({ topic: T, partition: 0 });
    await assert.rejects(one(ledger, { topic: T, partition: 0, epoch, expectedNext: 0, upTo: 2, outcomes: [done()] }), LedgerArgumentError);
    await assert.rejects(ledger.commit([{ topic: T, partition: 0, epoch, expectedNext: 0, upTo: 0, outcomes: [] }]), LedgerArgumentError);
  });
  it('userSchema: the application\'s DDL runs when the ledger opens, idempotently, before any effect', async () => {
    const f = path.join(dir, 'app.db');
    const ddl = 'CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, body TEXT)';
    const first = openSqliteLedger({ path: f, userSchema: ddl });
    first.database.prepare('INSERT INTO orders (id, body) VALUES (?, ?)').run('t/0/0', 'x');
    await first.close();
    const again = openSqliteLedger({ path: f, userSchema: ddl });
    const rows = again.database.prepare('SELECT id FROM orders').all() as { id: string }[];
    assert.deepEqual(rows.map((r) => r.id), ['t/0/0']);
    again.close();
    assert.throws(() => openSqliteLedger({ path: path.join(dir, 'bad.db'), userSchema: 'CREATE TABLE (' }));
  });
});

// Schema version 1, as htmqc created it before range rows: one htmqc_offsets
// row per committed offset.  Kept here verbatim so the migration is tested
// against the real old layout.
const V1_SCHEMA = `
CREATE TABLE IF NOT EXISTS htmqc_schema_version (
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS htmqc_partitions (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  epoch     INTEGER NOT NULL,
  next      INTEGER NOT NULL,
  writer    INTEGER NOT NULL,
  PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS htmqc_offsets (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
  outcome   TEXT    NOT NULL CHECK (outcome IN ('Done', 'DeadLettered', 'Absent')),
  epoch     INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS htmqc_dead_letters (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
  key       BLOB,
  value     BLOB,
  headers   TEXT    NOT NULL,
  timestamp TEXT    NOT NULL,
  error     TEXT    NOT NULL,
  attempts  INTEGER NOT NULL,
  epoch     INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
`;

// Issue 20 items 3 and 10: options that cannot work are refused before any
// file exists, and a schema row that disagrees with user_version is refused.
describe('ledger: openSqliteLedger refuses what it cannot honour', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-opts-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, unknown, RegExp][] = [
    ['no path', {}, /options\.path must be the path of the ledger file, got undefined/],
    ['an empty path', { path: '' }, /options\.path must be the path/],
    ['a blank path', '  ', /options\.path must be the path/],
    [':memory:', { path: ':memory:' }, /options\.path must be a file on disk .*":memory:"/],
    ['a URI path', { path: 'file:x.db?mode=memory' }, /options\.path must be a file on disk/],
    ['a typo of a key', { path: 'x.db', busyTimeout: 5 }, /options\.busyTimeout is not an option \(did you mean busyTimeoutMs\?\)/],
    ['a bad synchronous', { path: 'x.db', synchronous: 'OFF' }, /options\.synchronous must be 'FULL', 'NORMAL' or 'EXTRA', got "OFF"/],
    ['a string busyTimeoutMs', { path: 'x.db', busyTimeoutMs: '50' }, /options\.busyTimeoutMs must be an integer .* got "50" \(a string\)/],
    ['a non-boolean commitThread', { path: 'x.db', commitThread: 'no' }, /options\.commitThread must be a boolean/],
  ];
  for (const [what, options, message] of cases) {
    it(`refuses ${what}, naming the option, and creates no file`, () => {
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        assert.throws(() => openSqliteLedger(options as SqliteLedgerOptions), (e: unknown) => e instanceof LedgerArgumentError && message.test(e.message));
        assert.deepStrictEqual(fs.readdirSync(dir), []);
      } finally {
        process.chdir(cwd);
      }
    });
  }

  it('refuses a file whose htmqc_schema_version row disagrees with PRAGMA user_version', async () => {
    const f = path.join(dir, 'v99.db');
    await openSqliteLedger(f).close();
    const db = new Database(f);
    db.prepare('UPDATE htmqc_schema_version SET version = 99').run();
    db.close();
    assert.throws(() => openSqliteLedger(f), (e: unknown) => e instanceof LedgerSchemaError && /htmqc_schema_version holds 99/.test(e.message));
  });
});

describe('ledger: SQLite schema migration from version 1 (htmqc_offsets) to version 2 (htmqc_ranges)', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-ledger-v1-'));
    file = path.join(dir, 'ledger.db');
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A version 1 database: offsets [outcome, epoch] per partition of T, plus one offset of another topic. */
  function buildV1(offsets: Record<number, [string, number][]>): void {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec(V1_SCHEMA);
    db.exec('CREATE TABLE effects (id TEXT PRIMARY KEY)');
    const insertOffset = db.prepare('INSERT INTO htmqc_offsets (topic, partition, offset, outcome, epoch) VALUES (?, ?, ?, ?, ?)');
    const insertPartition = db.prepare('INSERT INTO htmqc_partitions (topic, partition, epoch, next, writer) VALUES (?, ?, ?, ?, ?)');
    const insertDeadLetter = db.prepare(
      'INSERT INTO htmqc_dead_letters (topic, partition, offset, key, value, headers, timestamp, error, attempts, epoch) ' +
      "VALUES (?, ?, ?, X'6B', X'76', '{}', '1700000000000', 'Error: boom', 3, ?)");
    db.transaction(() => {
      for (const [p, rows] of Object.entries(offsets)) {
        rows.forEach(([outcome, epoch], offset) => {
          insertOffset.run(T, Number(p), offset, outcome, epoch);
          if (outcome === 'DeadLettered') insertDeadLetter.run(T, Number(p), offset, epoch);
        });
        const last = rows.at(-1)![1];
        insertPartition.run(T, Number(p), last, rows.length, last);
      }
      insertOffset.run('other', 0, 0, 'Done', 1);
      insertPartition.run('other', 0, 1, 1, 1);
      db.prepare('INSERT INTO htmqc_schema_version (version) VALUES (1)').run();
      db.pragma('user_version = 1');
    })();
    db.close();
  }

  it('turns same-epoch runs into ranges, Absent rows into htmqc_absent, drops htmqc_offsets, sets version 2', async () => {
    // Partition 0: epoch 1 committed 0..2 (possibly in several writes), epoch 3 committed 3..6.
    buildV1({
      0: [['Done', 1], ['DeadLettered', 1], ['Done', 1], ['Done', 3], ['Absent', 3], ['DeadLettered', 3], ['Done', 3]],
      1: [['Absent', 2]],
    });
    const ledger = openSqliteLedger(file);
    try {
      const db = ledger.database;
      assert.strictEqual(db.pragma('user_version', { simple: true }), 2);
      assert.deepStrictEqual(db.prepare('SELECT version FROM htmqc_schema_version').all(), [{ version: 2 }]);
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      assert.deepStrictEqual(tables, ['effects', 'htmqc_absent', 'htmqc_dead_letters', 'htmqc_partitions', 'htmqc_ranges', 'htmqc_schema_version']);
      assert.deepStrictEqual(await ledger.committedRanges(T), [
        { partition: 0, first: 0, next: 3, epoch: 1 },
        { partition: 0, first: 3, next: 7, epoch: 3 },
        { partition: 1, first: 0, next: 1, epoch: 2 },
      ]);
      assert.deepStrictEqual(await ledger.committedRanges('other'), [{ partition: 0, first: 0, next: 1, epoch: 1 }]);
      assert.deepStrictEqual(db.prepare('SELECT topic, partition, offset, epoch FROM htmqc_absent ORDER BY partition, offset').all(),
        [{ topic: T, partition: 0, offset: 4, epoch: 3 }, { topic: T, partition: 1, offset: 0, epoch: 2 }]);
      const at = (p: number, o: number) => ledger.outcomeAt({ topic: T, partition: p }, o);
      assert.deepStrictEqual(await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((o) => at(0, o))),
        ['Done', 'DeadLettered', 'Done', 'Done', 'Absent', 'DeadLettered', 'Done', undefined]);
      assert.deepStrictEqual([await at(1, 0), await at(1, 1)], ['Absent', undefined]);
      assert.deepStrictEqual(await ledger.read({ topic: T, partition: 0 }), { epoch: 3, next: 7, writer: 3 });
      // The migrated ledger goes on from its next (spec Commit with the holder's epoch).
      assert.deepStrictEqual((await one(ledger, write(0, 3, 7, [done(insertRow('a'))]))), { status: 'committed', next: 8 });
      assert.deepStrictEqual((await one(ledger, write(0, 3, 7, [done(insertRow('again'))]))).status, 'rejected');
      assert.deepStrictEqual((await ledger.committedRanges(T, 0)).at(-1), { partition: 0, first: 7, next: 8, epoch: 3 });
    } finally {
      await ledger.close();
    }
    // Reopening a version 2 database changes nothing.
    const again = openSqliteLedger(file);
    assert.strictEqual((await again.committedRanges(T)).length, 4);
    await again.close();
  });

  it('splits a same-epoch run at a gap (a range never covers an offset version 1 had no row for)', async () => {
    const db0 = new Database(file);
    db0.exec(V1_SCHEMA);
    const ins = db0.prepare('INSERT INTO htmqc_offsets (topic, partition, offset, outcome, epoch) VALUES (?, 0, ?, ?, ?)');
    for (const o of [0, 1, 3]) ins.run(T, o, 'Done', 1);
    db0.pragma('user_version = 1');
    db0.close();
    const ledger = openSqliteLedger(file);
    try {
      assert.deepStrictEqual(await ledger.committedRanges(T), [
        { partition: 0, first: 0, next: 2, epoch: 1 },
        { partition: 0, first: 3, next: 4, epoch: 1 },
      ]);
      assert.strictEqual(await ledger.outcomeAt({ topic: T, partition: 0 }, 2), undefined);
    } finally {
      await ledger.close();
    }
  });

  it('refuses, and leaves at version 1, a database whose outcomes and outbox disagree', async () => {
    buildV1({ 0: [['Done', 1], ['DeadLettered', 1]] });
    const db = new Database(file);
    db.prepare('DELETE FROM htmqc_dead_letters').run();
    db.close();
    assert.throws(() => openSqliteLedger(file), (e: unknown) => e instanceof LedgerSchemaError && /orders\/0@1 has outcome DeadLettered/.test(e.message));
    const after = new Database(file, { readonly: true });
    try {
      assert.strictEqual(after.pragma('user_version', { simple: true }), 1);
      assert.strictEqual((after.prepare('SELECT count(*) AS n FROM htmqc_offsets').get() as { n: number }).n, 3);
      assert.strictEqual(after.prepare("SELECT name FROM sqlite_master WHERE name = 'htmqc_ranges'").get(), undefined);
    } finally {
      after.close();
    }
  });
});
