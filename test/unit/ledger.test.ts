// The SQLite ledger (src/ledger/sqlite.ts) against the spec's ledger steps:
// Assign's fence, Commit's acceptance test (epoch equal AND next equal),
// CommitRejected applying nothing, the outbox written with the offset, the
// committed ranges and outcomes of schema version 2, and the migration from
// version 1.  No broker; each test uses a fresh database file in a temp
// directory.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import {
  LedgerArgumentError, LedgerSchemaError, LedgerStatementError, openSqliteLedger, outcomeAt, SCHEMA_VERSION,
  type CommittedRange, type DeadLetterEntry, type LedgerWrite, type Outcome, type SqliteLedger, type Statement,
} from '../../src/ledger';
import { fromWire, toWire } from '../../src/ledger/sqlite-thread';

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

  afterEach(() => {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const effectIds = (): string[] =>
    (ledger.database.prepare('SELECT id FROM effects ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  const ranges = (p: number): CommittedRange[] => ledger.committedRanges(T, p);
  const count = (table: string): number => (ledger.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

  it('creates the versioned schema on first use with WAL and synchronous=FULL', () => {
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

  it('fence issues a strictly increasing epoch and returns next (spec Assign)', () => {
    assert.strictEqual(ledger.read({ topic: T, partition: 0 }), undefined);
    assert.deepStrictEqual(ledger.fence({ topic: T, partition: 0 }), { epoch: 1, next: 0 });
    assert.deepStrictEqual(ledger.fence({ topic: T, partition: 0 }), { epoch: 2, next: 0 });
    assert.deepStrictEqual(ledger.fence({ topic: T, partition: 1 }), { epoch: 1, next: 0 });
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch: 2, next: 0, writer: 0 });
  });

  it('accepts a commit with the current epoch and next, applying effects, the range and next together (spec Commit)', () => {
    const { epoch, next } = ledger.fence({ topic: T, partition: 0 });
    const r = ledger.commit(write(0, epoch, next, [done(insertRow('a')), done(), done(insertRow('b'), insertRow('c'))]));
    assert.deepStrictEqual(r, { accepted: true, next: 3 });
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch, next: 3, writer: epoch });
    assert.deepStrictEqual(effectIds(), ['a', 'b', 'c']);
    assert.deepStrictEqual(ranges(0), [{ partition: 0, first: 0, next: 3, epoch }]);
    assert.deepStrictEqual(ledger.commit(write(0, epoch, 3, [done(insertRow('d'))])), { accepted: true, next: 4 });
  });

  it('writes one range row per accepted write, contiguous across writes and epochs (spec Commit)', () => {
    const e1 = ledger.fence({ topic: T, partition: 0 }).epoch;
    const e2 = ledger.fence({ topic: T, partition: 1 }).epoch;
    assert.deepStrictEqual(ledger.commitMany([
      write(0, e1, 0, [done(), done()]),
      write(1, e2, 0, [done()]),
    ]), [{ accepted: true, next: 2 }, { accepted: true, next: 1 }]);
    assert.strictEqual(ledger.commit(write(0, e1, 2, [done(), done(), done()])).accepted, true);
    const e3 = ledger.fence({ topic: T, partition: 0 }).epoch;
    assert.strictEqual(ledger.commit(write(0, e3, 5, [done()])).accepted, true);
    assert.deepStrictEqual(ledger.committedRanges(T), [
      { partition: 0, first: 0, next: 2, epoch: e1 },
      { partition: 0, first: 2, next: 5, epoch: e1 },
      { partition: 0, first: 5, next: 6, epoch: e3 },
      { partition: 1, first: 0, next: 1, epoch: e2 },
    ]);
    assert.strictEqual(count('htmqc_absent'), 0, 'Done offsets need no row of their own');
    assert.strictEqual(count('htmqc_dead_letters'), 0);
  });

  it('outcomeAt: Done, DeadLettered, Absent inside committed ranges; undefined outside them', () => {
    const { epoch } = ledger.fence({ topic: T, partition: 0 });
    assert.strictEqual(ledger.commit(write(0, epoch, 0, [done(insertRow('a')), deadLettered(), ABSENT, done()])).accepted, true);
    assert.strictEqual(ledger.commit(write(0, epoch, 4, [ABSENT])).accepted, true);
    const at = (p: number, offset: number) => ledger.outcomeAt({ topic: T, partition: p }, offset);
    assert.deepStrictEqual([0, 1, 2, 3, 4, 5].map((o) => at(0, o)), ['Done', 'DeadLettered', 'Absent', 'Done', 'Absent', undefined]);
    assert.strictEqual(at(1, 0), undefined, 'a partition never written');
    assert.strictEqual(ledger.outcomeAt({ topic: 'other', partition: 0 }, 0), undefined);
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

  it('a rejected write writes no range, dead letter, absent row or effect (spec CommitRejected)', () => {
    const stale = ledger.fence({ topic: T, partition: 0 }).epoch;
    const current = ledger.fence({ topic: T, partition: 0 }).epoch;
    const outcomes = [done(insertRow('x')), deadLettered(), ABSENT];
    assert.strictEqual(ledger.commit(write(0, stale, 0, outcomes)).accepted, false, 'epoch check');
    assert.strictEqual(ledger.commit(write(0, current, 1, outcomes)).accepted, false, 'next check');
    assert.deepStrictEqual(ranges(0), []);
    assert.deepStrictEqual(effectIds(), []);
    assert.strictEqual(count('htmqc_dead_letters'), 0);
    assert.strictEqual(count('htmqc_absent'), 0);
    assert.deepStrictEqual([0, 1, 2].map((o) => ledger.outcomeAt({ topic: T, partition: 0 }, o)), [undefined, undefined, undefined]);
  });

  it('rejects a stale epoch after a newer fence and applies nothing (spec CommitRejected, FencingInv)', () => {
    const zombie = ledger.fence({ topic: T, partition: 0 });
    const holder = ledger.fence({ topic: T, partition: 0 });
    const r = ledger.commit(write(0, zombie.epoch, 0, [done(insertRow('zombie'))]));
    assert.deepStrictEqual(r, { accepted: false, reason: 'epoch', ledger: { epoch: holder.epoch, next: 0, writer: 0 } });
    assert.deepStrictEqual(effectIds(), []);
    assert.deepStrictEqual(ranges(0), []);
  });

  it('rejects an unexpected next and applies nothing (the next check)', () => {
    const { epoch } = ledger.fence({ topic: T, partition: 0 });
    assert.strictEqual(ledger.commit(write(0, epoch, 0, [done(insertRow('a'))])).accepted, true);
    const again = ledger.commit(write(0, epoch, 0, [done(insertRow('again'))]));
    assert.deepStrictEqual(again, { accepted: false, reason: 'next', ledger: { epoch, next: 1, writer: epoch } });
    const ahead = ledger.commit(write(0, epoch, 5, [done(insertRow('gap'))]));
    assert.strictEqual(ahead.accepted, false);
    assert.deepStrictEqual(effectIds(), ['a']);
    assert.deepStrictEqual(ranges(0), [{ partition: 0, first: 0, next: 1, epoch }]);
  });

  it('rejects a commit for a partition that was never fenced', () => {
    const r = ledger.commit(write(7, 1, 0, [done(insertRow('x'))]));
    assert.strictEqual(r.accepted, false);
    assert.deepStrictEqual(effectIds(), []);
  });

  it('rolls back the whole group commit when a user statement fails mid-batch', () => {
    const e0 = ledger.fence({ topic: T, partition: 0 }).epoch;
    const e1 = ledger.fence({ topic: T, partition: 1 }).epoch;
    const bad: Statement = { sql: 'INSERT INTO no_such_table (id) VALUES (?)', params: ['x'] };
    assert.throws(
      () => ledger.commitMany([
        write(0, e0, 0, [done(insertRow('p0-a')), done(insertRow('p0-b'))]),
        write(1, e1, 0, [done(insertRow('p1-a')), done(bad), done(insertRow('p1-c'))]),
      ]),
      (e: unknown) => e instanceof LedgerStatementError && e.partition === 1 && e.offset === 1 && e.retriable,
    );
    assert.deepStrictEqual(effectIds(), [], 'no effect of either partition survived');
    assert.deepStrictEqual(ranges(0), []);
    assert.deepStrictEqual(ranges(1), []);
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch: e0, next: 0, writer: 0 });
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 1 }), { epoch: e1, next: 0, writer: 0 });
    // The same writes without the bad statement then commit in full.
    const r = ledger.commitMany([
      write(0, e0, 0, [done(insertRow('p0-a')), done(insertRow('p0-b'))]),
      write(1, e1, 0, [done(insertRow('p1-a')), done(), done(insertRow('p1-c'))]),
    ]);
    assert.deepStrictEqual(r, [{ accepted: true, next: 2 }, { accepted: true, next: 3 }]);
  });

  it('rolls back a failing effect that violates a constraint of the user schema', () => {
    const { epoch } = ledger.fence({ topic: T, partition: 0 });
    assert.throws(() => ledger.commit(write(0, epoch, 0, [done(insertRow('dup')), done(insertRow('dup'))])), LedgerStatementError);
    assert.deepStrictEqual(effectIds(), []);
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 })?.next, 0);
  });

  it('group commit accepts and rejects writes independently, in one transaction', () => {
    const e0 = ledger.fence({ topic: T, partition: 0 }).epoch;
    const stale = ledger.fence({ topic: T, partition: 1 }).epoch;
    ledger.fence({ topic: T, partition: 1 });
    const r = ledger.commitMany([write(0, e0, 0, [done(insertRow('ok'))]), write(1, stale, 0, [done(insertRow('stale'))])]);
    assert.strictEqual(r[0]!.accepted, true);
    assert.strictEqual(r[1]!.accepted, false);
    assert.deepStrictEqual(effectIds(), ['ok']);
  });

  it('writes the dead letter to the outbox in the same transaction as the offset (spec DeadLetter + Commit)', () => {
    const { epoch } = ledger.fence({ topic: T, partition: 2 });
    const deadLetter = deadLetterEntry(3);
    const r = ledger.commit(write(2, epoch, 0, [done(insertRow('a')), { effects: null, deadLetter, absent: false }, done(insertRow('c'))]));
    assert.deepStrictEqual(r, { accepted: true, next: 3 });
    assert.deepStrictEqual([0, 1, 2].map((o) => ledger.outcomeAt({ topic: T, partition: 2 }, o)), ['Done', 'DeadLettered', 'Done']);
    assert.strictEqual(ledger.lastDeadLetter({ topic: T, partition: 2 }), 1);
    assert.strictEqual(ledger.lastDeadLetter({ topic: T, partition: 0 }), -1);
    assert.deepStrictEqual(ledger.deadLetters({ topic: T, partition: 2 }, -1, 10), [{ offset: 1, ...deadLetter }]);
    assert.deepStrictEqual(ledger.deadLetters({ topic: T, partition: 2 }, 1, 10), []);
  });

  it('commitManyAsync commits on the commit thread: same acceptance, effects with buffers, dead letters, ranges', async () => {
    ledger.database.exec('CREATE TABLE blobs (id TEXT PRIMARY KEY, v BLOB NOT NULL)');
    const e0 = ledger.fence({ topic: T, partition: 0 }).epoch;
    const stale = ledger.fence({ topic: T, partition: 1 }).epoch;
    ledger.fence({ topic: T, partition: 1 });
    const blob: Statement = { sql: 'INSERT INTO blobs (id, v) VALUES (?, ?)', params: ['b', Buffer.from([1, 2, 3])] };
    const r = await ledger.commitManyAsync([
      write(0, e0, 0, [done(insertRow('a')), done(blob), done(), deadLettered(2), ABSENT]),
      write(1, stale, 0, [done(insertRow('stale'))]),
    ]);
    assert.strictEqual(r[0]!.accepted, true);
    assert.deepStrictEqual(r[0], { accepted: true, next: 5 });
    assert.strictEqual(r[1]!.accepted, false, 'the stale epoch is rejected on the thread too');
    assert.deepStrictEqual(effectIds(), ['a']);
    const v = (ledger.database.prepare('SELECT v FROM blobs').get() as { v: Buffer }).v;
    assert.deepStrictEqual([...v], [1, 2, 3], 'a Buffer param crosses to the thread and is bound as a BLOB');
    assert.deepStrictEqual([0, 1, 2, 3, 4].map((o) => ledger.outcomeAt({ topic: T, partition: 0 }, o)), ['Done', 'Done', 'Done', 'DeadLettered', 'Absent']);
    assert.deepStrictEqual(ledger.deadLetters({ topic: T, partition: 0 }, -1, 10), [{ offset: 3, ...deadLetterEntry(2) }]);
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch: e0, next: 5, writer: e0 });
    // A fence on the caller's connection after the thread's commit sees its next.
    assert.deepStrictEqual(ledger.fence({ topic: T, partition: 0 }), { epoch: e0 + 1, next: 5 });
    const again = await ledger.commitManyAsync([write(0, e0, 5, [done(insertRow('zombie'))])]);
    assert.strictEqual(again[0]!.accepted, false, 'the old epoch is fenced out');
    assert.deepStrictEqual(effectIds(), ['a']);
  });

  it('the commit thread\'s wire form carries only the outcomes that are not a plain Done, each at its own offset', () => {
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

  it('commitManyAsync rebuilds a failing effect as LedgerStatementError naming the partition and offset, and applies nothing', async () => {
    const e0 = ledger.fence({ topic: T, partition: 0 }).epoch;
    const bad: Statement = { sql: 'INSERT INTO no_such_table (id) VALUES (?)', params: ['x'] };
    await assert.rejects(
      ledger.commitManyAsync([write(0, e0, 0, [done(insertRow('a')), done(bad)])]),
      (e: unknown) => e instanceof LedgerStatementError && e.topic === T && e.partition === 0 && e.offset === 1 && e.retriable,
    );
    assert.deepStrictEqual(effectIds(), []);
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 })?.next, 0);
    await assert.rejects(ledger.commitManyAsync([{ ...write(0, e0, 0, [done()]), upTo: 0 }]), LedgerArgumentError);
  });

  it('settle() blocks until every commit started on the thread is answered, running its callback before it returns', () => {
    const e0 = ledger.fence({ topic: T, partition: 0 }).epoch;
    const answers: string[] = [];
    ledger.startCommitMany([write(0, e0, 0, [done(insertRow('s1'))])], (e, r) => answers.push(e === undefined ? `next ${r![0]!.accepted ? (r![0] as { next: number }).next : '-'}` : String(e)));
    ledger.startCommitMany([write(0, e0, 1, [done(insertRow('s2')), done()])], (e, r) => answers.push(e === undefined ? `next ${r![0]!.accepted ? (r![0] as { next: number }).next : '-'}` : String(e)));
    assert.deepStrictEqual(answers, [], 'answers arrive asynchronously');
    ledger.settle();
    assert.deepStrictEqual(answers, ['next 1', 'next 3'], 'both answered, in order, before settle returned');
    assert.deepStrictEqual(effectIds(), ['s1', 's2']);
    ledger.settle();
    assert.deepStrictEqual(answers.length, 2, 'settle with nothing in flight returns at once and answers nothing twice');
  });

  it('keeps its state across close and reopen, and a second connection fences the first (zombie)', () => {
    const first = ledger.fence({ topic: T, partition: 0 });
    assert.strictEqual(ledger.commit(write(0, first.epoch, 0, [done(insertRow('a'))])).accepted, true);
    ledger.close();
    ledger = openSqliteLedger(file);
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch: first.epoch, next: 1, writer: first.epoch });

    const other = openSqliteLedger(file);
    try {
      const second = other.fence({ topic: T, partition: 0 });
      assert.deepStrictEqual(second, { epoch: first.epoch + 1, next: 1 });
      assert.strictEqual(ledger.commit(write(0, first.epoch, 1, [done(insertRow('zombie'))])).accepted, false);
      assert.strictEqual(other.commit(write(0, second.epoch, 1, [done(insertRow('b'))])).accepted, true);
    } finally {
      other.close();
    }
    assert.deepStrictEqual(effectIds(), ['a', 'b']);
  });

  it('refuses a database whose schema is newer than this version (version 3)', () => {
    ledger.close();
    const db = new Database(file);
    db.pragma('user_version = 3');
    db.close();
    assert.throws(() => openSqliteLedger(file), LedgerSchemaError);
    const after = new Database(file, { readonly: true });
    assert.strictEqual(after.pragma('user_version', { simple: true }), 3, 'left as it was');
    after.close();
    ledger = openSqliteLedger(path.join(dir, 'fresh.db'));
  });

  it('rejects malformed writes before touching the database', () => {
    const { epoch } = ledger.fence({ topic: T, partition: 0 });
    assert.throws(() => ledger.commit({ topic: T, partition: 0, epoch, expectedNext: 0, upTo: 2, outcomes: [done()] }), LedgerArgumentError);
    assert.throws(() => ledger.commit({ topic: T, partition: 0, epoch, expectedNext: 0, upTo: 0, outcomes: [] }), LedgerArgumentError);
  });
  it('userSchema: the application\'s DDL runs when the ledger opens, idempotently, before any effect', () => {
    const f = path.join(dir, 'app.db');
    const ddl = 'CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, body TEXT)';
    const first = openSqliteLedger({ path: f, userSchema: ddl });
    first.database.prepare('INSERT INTO orders (id, body) VALUES (?, ?)').run('t/0/0', 'x');
    first.close();
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

  it('turns same-epoch runs into ranges, Absent rows into htmqc_absent, drops htmqc_offsets, sets version 2', () => {
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
      assert.deepStrictEqual(ledger.committedRanges(T), [
        { partition: 0, first: 0, next: 3, epoch: 1 },
        { partition: 0, first: 3, next: 7, epoch: 3 },
        { partition: 1, first: 0, next: 1, epoch: 2 },
      ]);
      assert.deepStrictEqual(ledger.committedRanges('other'), [{ partition: 0, first: 0, next: 1, epoch: 1 }]);
      assert.deepStrictEqual(db.prepare('SELECT topic, partition, offset, epoch FROM htmqc_absent ORDER BY partition, offset').all(),
        [{ topic: T, partition: 0, offset: 4, epoch: 3 }, { topic: T, partition: 1, offset: 0, epoch: 2 }]);
      const at = (p: number, o: number) => ledger.outcomeAt({ topic: T, partition: p }, o);
      assert.deepStrictEqual([0, 1, 2, 3, 4, 5, 6, 7].map((o) => at(0, o)),
        ['Done', 'DeadLettered', 'Done', 'Done', 'Absent', 'DeadLettered', 'Done', undefined]);
      assert.deepStrictEqual([at(1, 0), at(1, 1)], ['Absent', undefined]);
      assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch: 3, next: 7, writer: 3 });
      // The migrated ledger goes on from its next (spec Commit with the holder's epoch).
      assert.deepStrictEqual(ledger.commit(write(0, 3, 7, [done(insertRow('a'))])), { accepted: true, next: 8 });
      assert.deepStrictEqual(ledger.commit(write(0, 3, 7, [done(insertRow('again'))])).accepted, false);
      assert.deepStrictEqual(ledger.committedRanges(T, 0).at(-1), { partition: 0, first: 7, next: 8, epoch: 3 });
    } finally {
      ledger.close();
    }
    // Reopening a version 2 database changes nothing.
    const again = openSqliteLedger(file);
    assert.strictEqual(again.committedRanges(T).length, 4);
    again.close();
  });

  it('splits a same-epoch run at a gap (a range never covers an offset version 1 had no row for)', () => {
    const db0 = new Database(file);
    db0.exec(V1_SCHEMA);
    const ins = db0.prepare('INSERT INTO htmqc_offsets (topic, partition, offset, outcome, epoch) VALUES (?, 0, ?, ?, ?)');
    for (const o of [0, 1, 3]) ins.run(T, o, 'Done', 1);
    db0.pragma('user_version = 1');
    db0.close();
    const ledger = openSqliteLedger(file);
    try {
      assert.deepStrictEqual(ledger.committedRanges(T), [
        { partition: 0, first: 0, next: 2, epoch: 1 },
        { partition: 0, first: 3, next: 4, epoch: 1 },
      ]);
      assert.strictEqual(ledger.outcomeAt({ topic: T, partition: 0 }, 2), undefined);
    } finally {
      ledger.close();
    }
  });

  it('refuses, and leaves at version 1, a database whose outcomes and outbox disagree', () => {
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
