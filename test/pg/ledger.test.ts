// The PostgreSQL ledger against a real local server (tools/postgres): spec
// Assign's ledger step (fence), Commit / CommitRejected, group commit, the
// outbox, statement failures, the schema version and option checks.

import { strict as assert } from 'assert';
import { LedgerArgumentError, LedgerSchemaError, LedgerStatementError } from '../../src/ledger/errors';
import { openPostgresLedger, type PostgresLedger } from '../../src/ledger/postgres';
import type { LedgerWrite, Statement } from '../../src/ledger/types';
import { ORDERS, admin, done, freshSchema, insertOrder, openLedger, serverUp, url } from './support';

const p0 = { topic: 'orders', partition: 0 };
const p1 = { topic: 'orders', partition: 1 };

function write(ref: { topic: string; partition: number }, epoch: number, from: number, ids: number[]): LedgerWrite<Statement> {
  return { ...ref, epoch, expectedNext: from, upTo: from + ids.length, outcomes: ids.map((id) => done(insertOrder(id))) };
}

describe('PostgreSQL ledger (real server)', function () {
  this.timeout(60000);
  let ledger: PostgresLedger;

  before(async () => { await serverUp(); });
  beforeEach(async () => { ledger = await openLedger('ledger', { userSchema: ORDERS }); });
  afterEach(async () => { await ledger.close(); });

  async function orders(): Promise<number[]> {
    const c = await admin(ledger.schema);
    try {
      return (await c.query<{ id: string }>('SELECT id FROM orders ORDER BY id')).rows.map((r) => Number(r.id));
    } finally {
      await c.end();
    }
  }

  it('Assign: fence creates the row at next 0 and increments the epoch each time', async () => {
    assert.equal(await ledger.read(p0), undefined);
    assert.deepEqual(await ledger.fence(p0), { epoch: 1, next: 0 });
    assert.deepEqual(await ledger.fence(p0), { epoch: 2, next: 0 });
    assert.deepEqual(await ledger.read(p0), { epoch: 2, next: 0, writer: 0 });
    assert.deepEqual(await ledger.fence(p1), { epoch: 1, next: 0 });
  });

  it('Commit: accepted with the current epoch and next; the fence after it keeps next and resets writer', async () => {
    const { epoch } = await ledger.fence(p0);
    assert.deepEqual(await ledger.commit([write(p0, epoch, 0, [1, 2, 3])]), [{ status: 'committed', next: 3 }]);
    assert.deepEqual(await ledger.read(p0), { epoch, next: 3, writer: epoch });
    assert.deepEqual(await orders(), [1, 2, 3]);
    assert.deepEqual(await ledger.committedRanges('orders'), [{ partition: 0, first: 0, next: 3, epoch }]);
    assert.equal(await ledger.outcomeAt(p0, 2), 'Done');
    assert.equal(await ledger.outcomeAt(p0, 3), undefined);
    assert.deepEqual(await ledger.fence(p0), { epoch: epoch + 1, next: 3 });
    assert.deepEqual(await ledger.read(p0), { epoch: epoch + 1, next: 3, writer: 0 });
  });

  it('CommitRejected: a stale epoch and a wrong next apply nothing', async () => {
    const first = await ledger.fence(p0);
    const second = await ledger.fence(p0);
    assert.deepEqual(await ledger.commit([write(p0, first.epoch, 0, [1])]),
      [{ status: 'rejected', reason: 'epoch', ledger: { epoch: second.epoch, next: 0, writer: 0 } }]);
    assert.deepEqual(await ledger.commit([write(p0, second.epoch, 5, [1])]),
      [{ status: 'rejected', reason: 'next', ledger: { epoch: second.epoch, next: 0, writer: 0 } }]);
    assert.deepEqual(await ledger.commit([write({ topic: 'never', partition: 0 }, 1, 0, [1])]),
      [{ status: 'rejected', reason: 'epoch', ledger: { epoch: 0, next: 0, writer: 0 } }]);
    assert.deepEqual(await orders(), []);
    assert.deepEqual(await ledger.committedRanges('orders'), []);
  });

  it('group commit: one transaction, each write judged alone, one rejected among accepted ones', async () => {
    const e0 = (await ledger.fence(p0)).epoch;
    const e1 = (await ledger.fence(p1)).epoch;
    const before = ledger.stats().roundTrips;
    const results = await ledger.commit([
      write(p0, e0, 0, [1, 2]),
      write(p1, e1 + 7, 0, [10]),   // stale epoch: rejected, its effect not applied
      write(p0, e0, 2, [3]),        // same partition, continues the first write
      write(p1, e1, 0, [11, 12]),
    ]);
    assert.deepEqual(results, [
      { status: 'committed', next: 2 },
      { status: 'rejected', reason: 'epoch', ledger: { epoch: e1, next: 0, writer: 0 } },
      { status: 'committed', next: 3 },
      { status: 'committed', next: 2 },
    ]);
    assert.equal(ledger.stats().roundTrips - before, 4,
      'once per new effect text: the question whether its INSERTs may be merged and its PREPARE; then BEGIN + lock, effects + COMMIT');
    const again = ledger.stats().roundTrips;
    assert.deepEqual(await ledger.commit([write(p0, e0, 3, [4, 5]), write(p1, e1, 2, [13])]),
      [{ status: 'committed', next: 5 }, { status: 'committed', next: 3 }]);
    assert.equal(ledger.stats().roundTrips - again, 2, 'a group commit of prepared effects is two round trips');
    await ledger.commit([write(p0, e0, 5, [6])]);
    assert.equal(ledger.stats().roundTrips - again, 4);
    assert.deepEqual(await orders(), [1, 2, 3, 4, 5, 6, 11, 12, 13]);
    assert.deepEqual(await ledger.read(p0), { epoch: e0, next: 6, writer: e0 });
    assert.deepEqual(await ledger.read(p1), { epoch: e1, next: 3, writer: e1 });
    assert.deepEqual(await ledger.committedRanges('orders', 0), [
      { partition: 0, first: 0, next: 2, epoch: e0 }, { partition: 0, first: 2, next: 3, epoch: e0 },
      { partition: 0, first: 3, next: 5, epoch: e0 }, { partition: 0, first: 5, next: 6, epoch: e0 },
    ]);
    assert.deepEqual(await ledger.committedRanges('orders', 1), [
      { partition: 1, first: 0, next: 2, epoch: e1 }, { partition: 1, first: 2, next: 3, epoch: e1 },
    ]);
  });

  it('effects, the dead-letter outbox and absent offsets commit with the row, values exact', async () => {
    const { epoch } = await ledger.fence(p0);
    const key = Buffer.from([0, 1, 0x5c, 0x27, 255]);
    const results = await ledger.commit([{
      ...p0, epoch, expectedNext: 0, upTo: 3, outcomes: [
        done(insertOrder(1, "it's a \\ backslash, 'quotes' and ünïcødé")),
        { effects: null, absent: false, deadLetter: {
          key, value: null, headers: { 'x-h': "v'1" }, timestamp: '1700000000000', error: 'Error: boom \\n', attempts: 3 } },
        { effects: null, deadLetter: null, absent: true },
      ],
    }]);
    assert.deepEqual(results, [{ status: 'committed', next: 3 }]);
    const c = await admin(ledger.schema);
    try {
      assert.equal((await c.query('SELECT note FROM orders WHERE id = 1')).rows[0].note, "it's a \\ backslash, 'quotes' and ünïcødé");
    } finally {
      await c.end();
    }
    assert.deepEqual(await ledger.deadLetters(p0, -1, 10), [{
      offset: 1, key, value: null, headers: { 'x-h': "v'1" }, timestamp: '1700000000000', error: 'Error: boom \\n', attempts: 3 }]);
    assert.equal(await ledger.lastDeadLetter(p0), 1);
    assert.equal(await ledger.lastDeadLetter(p1), -1);
    assert.deepEqual([await ledger.outcomeAt(p0, 0), await ledger.outcomeAt(p0, 1), await ledger.outcomeAt(p0, 2)],
      ['Done', 'DeadLettered', 'Absent']);
  });

  it('a failing effect rolls back the whole group commit, names its offset, and is not retriable', async () => {
    const e0 = (await ledger.fence(p0)).epoch;
    const e1 = (await ledger.fence(p1)).epoch;
    await assert.rejects(ledger.commit([write(p1, e1, 0, [7]), write(p0, e0, 0, [1, 2, 1])]), (e: unknown) => {
      assert.ok(e instanceof LedgerStatementError, String(e));
      assert.equal(e.retriable, false);
      assert.deepEqual([e.topic, e.partition, e.offset], ['orders', 0, 2]);
      assert.match(e.message, /orders\/0@2 .*SQLSTATE 23505/);
      return true;
    });
    await assert.rejects(ledger.commit([write(p0, e0, 0, [1]),
      { ...p0, epoch: e0, expectedNext: 1, upTo: 2, outcomes: [done({ sql: 'INSERT INTO no_such_table VALUES ($1)', params: [1] })] }]),
    (e: unknown) => e instanceof LedgerStatementError && e.offset === 1 && !e.retriable && /SQLSTATE 42P01/.test(e.message));
    assert.deepEqual(await orders(), []);
    assert.deepEqual(await ledger.read(p0), { epoch: e0, next: 0, writer: 0 });
    assert.deepEqual(await ledger.read(p1), { epoch: e1, next: 0, writer: 0 });
    // The connection is usable again, with statements prepared afresh.
    assert.deepEqual(await ledger.commit([write(p0, e0, 0, [1, 2])]), [{ status: 'committed', next: 2 }]);
    assert.deepEqual(await orders(), [1, 2]);
  });

  it('an effect whose SQL does not parse, or holds two statements, is named by its offset; nothing applied', async () => {
    const e0 = (await ledger.fence(p0)).epoch;
    const three = (third: Statement): LedgerWrite<Statement> => ({ ...p0, epoch: e0, expectedNext: 0, upTo: 3, outcomes: [
      done(insertOrder(1)), done({ sql: 'INSERT INTO orders (id, note) VALUES ($1, $2) -- a trailing comment', params: [2, 'two'] }),
      done(third)] });
    await assert.rejects(ledger.commit([three({ sql: 'INSERT INTO orders VALUES ($1, ', params: [3] })]),
      (e: unknown) => e instanceof LedgerStatementError && e.offset === 2 && !e.retriable && /SQLSTATE 42601/.test(e.message));
    await assert.rejects(ledger.commit([three({ sql: 'INSERT INTO orders (id, note) VALUES (3, \'x\'); DELETE FROM orders', params: [] })]),
      (e: unknown) => e instanceof LedgerStatementError && e.offset === 2 && !e.retriable && /more than one SQL statement/.test(e.message));
    assert.deepEqual(await orders(), []);
    assert.deepEqual(await ledger.commit([three({ sql: 'INSERT INTO orders (id, note) VALUES (3, \'x\')', params: [] })]),
      [{ status: 'committed', next: 3 }]);
    assert.deepEqual(await orders(), [1, 2, 3]);
  });

  it('a full statement cache starts over without losing a statement the commit uses', async () => {
    await ledger.close();
    ledger = await openLedger('cache', { userSchema: ORDERS, statementCacheSize: 2, poolSize: 1 });
    const { epoch } = await ledger.fence(p0);
    const texts = (id: number): Statement[] => [
      insertOrder(id), { sql: 'UPDATE orders SET note = $2 WHERE id = $1', params: [id, `a${id}`] },
      { sql: 'UPDATE orders SET note = note || $2 WHERE id = $1', params: [id, '!'] }];
    let next = 0;
    for (let id = 1; id <= 4; id++) {
      const effects = id % 2 === 0 ? texts(id).slice(0, 2) : [texts(id)[0]!, texts(id)[2]!];
      assert.deepEqual(await ledger.commit([{ ...p0, epoch, expectedNext: next, upTo: next + 1, outcomes: [done(...effects)] }]),
        [{ status: 'committed', next: next + 1 }]);
      next++;
    }
    const c = await admin(ledger.schema);
    try {
      assert.deepEqual((await c.query('SELECT note FROM orders ORDER BY id')).rows.map((r) => r.note), ['order 1!', 'a2', 'order 3!', 'a4']);
    } finally {
      await c.end();
    }
  });

  it('parameters keep node-postgres semantics: typed by the statement, NULL, bytea, arrays, JSON', async () => {
    const { epoch } = await ledger.fence(p0);
    const c = await admin(ledger.schema);
    try {
      await c.query('CREATE TABLE kinds (n integer, b bytea, a integer[], j jsonb, t timestamptz, x text)');
      const when = new Date('2026-01-02T03:04:05.678Z');
      const sql = 'INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6)';
      const params = [42, Buffer.from('\\x00\'', 'utf8'), [1, 2, 3], { k: "it's" }, when, null];
      assert.deepEqual(await ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 1, outcomes: [done({ sql, params })] }]),
        [{ status: 'committed', next: 1 }]);
      await c.query('CREATE TABLE kinds2 (LIKE kinds)');
      await c.query(sql.replace('kinds', 'kinds2'), params);
      const got = (await c.query('SELECT * FROM kinds')).rows;
      assert.deepEqual(got, (await c.query('SELECT * FROM kinds2')).rows, 'same row as node-postgres parameters give');
      assert.equal(got[0].n, 42);
    } finally {
      await c.end();
    }
  });

  it('a NUL character in a value is refused with the offset named, nothing applied', async () => {
    const { epoch } = await ledger.fence(p0);
    await assert.rejects(ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 1, outcomes: [done(insertOrder(1, 'a\u0000b'))] }]),
      (e: unknown) => e instanceof LedgerArgumentError && /orders\/0@0: .*NUL/.test(e.message));
    assert.deepEqual(await ledger.read(p0), { epoch, next: 0, writer: 0 });
  });

  it('a write that breaks the contract is refused before the server sees it', async () => {
    await assert.rejects(ledger.commit([{ ...p0, epoch: 1, expectedNext: 3, upTo: 3, outcomes: [] }]),
      (e: unknown) => e instanceof LedgerArgumentError && /expectedNext < upTo/.test(e.message));
    await assert.rejects(ledger.commit([{ ...p0, epoch: 1, expectedNext: 0, upTo: 2, outcomes: [done()] }]),
      (e: unknown) => e instanceof LedgerArgumentError && /1 outcomes for 2 offsets/.test(e.message));
  });
});

describe('PostgreSQL ledger: schema and options', function () {
  this.timeout(60000);
  before(async () => { await serverUp(); });

  it('creates schema version 2 once; a second open of the same schema keeps the rows', async () => {
    const schema = freshSchema('reopen');
    const a = await openPostgresLedger({ connectionString: url, schema });
    await a.fence(p0);
    await a.close();
    const b = await openPostgresLedger({ connectionString: url, schema });
    assert.deepEqual(await b.read(p0), { epoch: 1, next: 0, writer: 0 });
    await b.close();
    const c = await admin(schema);
    try {
      assert.deepEqual((await c.query('SELECT version FROM htmqc_schema_version')).rows, [{ version: 2 }]);
    } finally {
      await c.end();
    }
  });

  it('a newer schema version is refused with LedgerSchemaError', async () => {
    const schema = freshSchema('newer');
    await (await openPostgresLedger({ connectionString: url, schema })).close();
    const c = await admin(schema);
    try {
      await c.query('UPDATE htmqc_schema_version SET version = 3');
    } finally {
      await c.end();
    }
    await assert.rejects(openPostgresLedger({ connectionString: url, schema }),
      (e: unknown) => e instanceof LedgerSchemaError && !e.retriable && /version 3 .* newer than this htmqc's 2/.test(e.message));
  });

  it('options are checked, the error names the field', async () => {
    const bad: [object, RegExp][] = [
      [{ connectionString: '' }, /options\.connectionString/],
      [{ connectionString: url, schema: 'Bad-Name' }, /options\.schema/],
      [{ connectionString: url, poolSize: 0 }, /options\.poolSize must be an integer in 1\.\.100, got 0/],
      [{ connectionString: url, lostAnswerTimeoutMs: -1 }, /options\.lostAnswerTimeoutMs/],
      [{ connectionString: url, userSchema: 5 }, /options\.userSchema/],
      [{ connectionString: url, poolSize: 2, concurrentCommits: 3 }, /options\.concurrentCommits must be an integer in 1\.\.2, got 3/],
      [{ connectionString: url, pool_size: 2 }, /options\.pool_size is not an option \(did you mean poolSize\?\)/],
    ];
    for (const [options, re] of bad) {
      await assert.rejects(openPostgresLedger(options as never), (e: unknown) => e instanceof LedgerArgumentError && re.test(e.message));
    }
  });

  it('an unreachable server is a retriable error; a missing database is not', async () => {
    await assert.rejects(openPostgresLedger({ connectionString: 'postgres://htmqc@127.0.0.1:1/htmqc', connectTimeoutMs: 2000 }),
      (e: unknown) => e instanceof Error && (e as { retriable?: boolean }).retriable === true);
    await assert.rejects(openPostgresLedger({ connectionString: url.replace(/\/htmqc$/, '/no_such_db') }),
      (e: unknown) => e instanceof Error && (e as { retriable?: boolean }).retriable === false && /3D000/.test(e.message));
  });
});
