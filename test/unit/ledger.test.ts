// The SQLite ledger (src/ledger/sqlite.ts) against the spec's ledger steps:
// Assign's fence, Commit's acceptance test (epoch equal AND next equal),
// CommitRejected applying nothing, and the outbox written with the offset.
// No broker; each test uses a fresh database file in a temp directory.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import {
  LedgerArgumentError, LedgerSchemaError, LedgerStatementError, openSqliteLedger, SCHEMA_VERSION,
  type LedgerWrite, type Outcome, type SqliteLedger, type Statement,
} from '../../src/ledger';

const T = 'orders';

function done(...effects: Statement[]): Outcome {
  return { effects, deadLetter: null, absent: false };
}

function insertRow(id: string): Statement {
  return { sql: 'INSERT INTO effects (id) VALUES (?)', params: [id] };
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

  afterEach(() => {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const effectIds = (): string[] =>
    (ledger.database.prepare('SELECT id FROM effects ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  const offsetRows = (p: number): { offset: number; outcome: string; epoch: number }[] =>
    ledger.database.prepare('SELECT offset, outcome, epoch FROM htmqc_offsets WHERE topic = ? AND partition = ? ORDER BY offset')
      .all(T, p) as { offset: number; outcome: string; epoch: number }[];

  it('creates the versioned schema on first use with WAL and synchronous=FULL', () => {
    const db = ledger.database;
    assert.strictEqual(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.deepStrictEqual(db.prepare('SELECT version FROM htmqc_schema_version').all(), [{ version: SCHEMA_VERSION }]);
    assert.strictEqual(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.strictEqual(db.pragma('synchronous', { simple: true }), 2, 'synchronous=FULL is 2');
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'htmqc_%' ORDER BY name").all() as { name: string }[])
      .map((r) => r.name);
    assert.deepStrictEqual(tables, ['htmqc_dead_letters', 'htmqc_offsets', 'htmqc_partitions', 'htmqc_schema_version']);
  });

  it('fence issues a strictly increasing epoch and returns next (spec Assign)', () => {
    assert.strictEqual(ledger.read({ topic: T, partition: 0 }), undefined);
    assert.deepStrictEqual(ledger.fence({ topic: T, partition: 0 }), { epoch: 1, next: 0 });
    assert.deepStrictEqual(ledger.fence({ topic: T, partition: 0 }), { epoch: 2, next: 0 });
    assert.deepStrictEqual(ledger.fence({ topic: T, partition: 1 }), { epoch: 1, next: 0 });
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch: 2, next: 0, writer: 0 });
  });

  it('accepts a commit with the current epoch and next, applying effects, outcome rows and next together (spec Commit)', () => {
    const { epoch, next } = ledger.fence({ topic: T, partition: 0 });
    const r = ledger.commit(write(0, epoch, next, [done(insertRow('a')), done(), done(insertRow('b'), insertRow('c'))]));
    assert.deepStrictEqual(r, { accepted: true, next: 3 });
    assert.deepStrictEqual(ledger.read({ topic: T, partition: 0 }), { epoch, next: 3, writer: epoch });
    assert.deepStrictEqual(effectIds(), ['a', 'b', 'c']);
    assert.deepStrictEqual(offsetRows(0), [0, 1, 2].map((offset) => ({ offset, outcome: 'Done', epoch })));
    assert.deepStrictEqual(ledger.commit(write(0, epoch, 3, [done(insertRow('d'))])), { accepted: true, next: 4 });
  });

  it('rejects a stale epoch after a newer fence and applies nothing (spec CommitRejected, FencingInv)', () => {
    const zombie = ledger.fence({ topic: T, partition: 0 });
    const holder = ledger.fence({ topic: T, partition: 0 });
    const r = ledger.commit(write(0, zombie.epoch, 0, [done(insertRow('zombie'))]));
    assert.deepStrictEqual(r, { accepted: false, reason: 'epoch', ledger: { epoch: holder.epoch, next: 0, writer: 0 } });
    assert.deepStrictEqual(effectIds(), []);
    assert.deepStrictEqual(offsetRows(0), []);
  });

  it('rejects an unexpected next and applies nothing (the next check)', () => {
    const { epoch } = ledger.fence({ topic: T, partition: 0 });
    assert.strictEqual(ledger.commit(write(0, epoch, 0, [done(insertRow('a'))])).accepted, true);
    const again = ledger.commit(write(0, epoch, 0, [done(insertRow('again'))]));
    assert.deepStrictEqual(again, { accepted: false, reason: 'next', ledger: { epoch, next: 1, writer: epoch } });
    const ahead = ledger.commit(write(0, epoch, 5, [done(insertRow('gap'))]));
    assert.strictEqual(ahead.accepted, false);
    assert.deepStrictEqual(effectIds(), ['a']);
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
    assert.deepStrictEqual(offsetRows(0), []);
    assert.deepStrictEqual(offsetRows(1), []);
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
    const deadLetter = {
      key: Buffer.from('k'), value: Buffer.from('v'), headers: { h: '1' }, timestamp: '1700000000000', error: 'Error: boom', attempts: 3,
    };
    const r = ledger.commit(write(2, epoch, 0, [done(insertRow('a')), { effects: null, deadLetter, absent: false }, done(insertRow('c'))]));
    assert.deepStrictEqual(r, { accepted: true, next: 3 });
    assert.deepStrictEqual(offsetRows(2).map((x) => x.outcome), ['Done', 'DeadLettered', 'Done']);
    assert.strictEqual(ledger.lastDeadLetter({ topic: T, partition: 2 }), 1);
    assert.strictEqual(ledger.lastDeadLetter({ topic: T, partition: 0 }), -1);
    assert.deepStrictEqual(ledger.deadLetters({ topic: T, partition: 2 }, -1, 10), [{ offset: 1, ...deadLetter }]);
    assert.deepStrictEqual(ledger.deadLetters({ topic: T, partition: 2 }, 1, 10), []);
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

  it('refuses a database whose schema is newer than this version', () => {
    ledger.close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => openSqliteLedger(file), LedgerSchemaError);
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
