// The lost answer (spec: the answer to WriteLedger is committed, rejected or
// lost) on a real server: the connection fails while COMMIT is outstanding,
// the ledger answers 'unknown' for every write, never a guess, and a read()
// afterwards tells the truth, in both cases: (a) the backend was terminated
// before COMMIT applied, (b) COMMIT applied and its reply was cut.
// readSettled (command ReadLedger) waits for a transaction that still holds
// the row (spec WriteSettled) and times out retriably.  Then the postmaster
// is killed with SIGKILL and restarted (crash recovery).

import { strict as assert } from 'assert';
import { LedgerBusyError, LedgerIoError } from '../../src/ledger/errors';
import { openPostgresLedger, type PostgresLedger } from '../../src/ledger/postgres';
import { killPg, restartPg } from '../../tools/postgres/pg';
import { CuttingProxy, ORDERS, admin, done, freshSchema, insertOrder, openLedger, serverUp, sleep, url } from './support';

const p0 = { topic: 'orders', partition: 0 };

// A constraint trigger deferred to COMMIT that sleeps: the commit is then
// outstanding long enough to terminate its backend from outside.
const SLOW_AT_COMMIT = `
${ORDERS};
CREATE TABLE IF NOT EXISTS slow (id integer);
CREATE OR REPLACE FUNCTION slow_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'slow_at_commit' AND tgrelid = 'slow'::regclass) THEN
    CREATE CONSTRAINT TRIGGER slow_at_commit AFTER INSERT ON slow DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION slow_at_commit();
  END IF;
END $$`;

const slowCommit = (seconds: number): string => SLOW_AT_COMMIT.replace('pg_sleep(30)', `pg_sleep(${seconds})`);

describe('PostgreSQL ledger: the lost answer (real server)', function () {
  this.timeout(60000);
  before(async () => { await serverUp(); });

  it('(a) backend terminated during COMMIT, before it applied: unknown, then read() shows not applied', async () => {
    const ledger = await openLedger('lost_a', { userSchema: SLOW_AT_COMMIT });
    const watcher = await admin();
    try {
      const { epoch } = await ledger.fence(p0);
      const answer = ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 2, outcomes: [
        done(insertOrder(1)), done({ sql: 'INSERT INTO slow VALUES ($1)', params: [1] })] }]);
      let pid: number | undefined;
      for (let i = 0; i < 500 && pid === undefined; i++) {
        const r = await watcher.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND application_name = 'htmqc-ledger' AND query LIKE '%COMMIT%'");
        pid = r.rows[0]?.pid;
        if (pid === undefined) await sleep(10);
      }
      assert.ok(pid !== undefined, 'the commit never reached the sleeping deferred trigger');
      await watcher.query('SELECT pg_terminate_backend($1)', [pid]);
      assert.deepEqual(await answer, [{ status: 'unknown' }]);
      const gone = await watcher.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      assert.equal(gone.rowCount, 0, 'the old backend is gone before the answer');
      assert.deepEqual(await ledger.read(p0), { epoch, next: 0, writer: 0 });
      assert.deepEqual(await ledger.committedRanges('orders'), []);
      // The pool replaced the connection: the same write now commits (without the slow effect).
      assert.deepEqual(await ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 1, outcomes: [done(insertOrder(1))] }]),
        [{ status: 'committed', next: 1 }]);
    } finally {
      await watcher.end();
      await ledger.close();
    }
  });

  it('(b) COMMIT applied, its reply cut by a proxy: unknown, then read() shows applied', async () => {
    const proxy = new CuttingProxy(Number(new URL(url).port));
    const proxied = await proxy.listen();
    const schema = freshSchema('lost_b');
    const ledger = await openPostgresLedger({ connectionString: proxied, schema, userSchema: ORDERS });
    try {
      const { epoch } = await ledger.fence(p0);
      proxy.armed = 'COMMIT';
      const results = await ledger.commit([
        { ...p0, epoch, expectedNext: 0, upTo: 2, outcomes: [done(insertOrder(1)), done(insertOrder(2))] },
        { ...p0, epoch: epoch + 5, expectedNext: 2, upTo: 3, outcomes: [done(insertOrder(3))] },
      ]);
      assert.equal(proxy.cuts, 1, 'the proxy cut the reply to COMMIT');
      assert.deepEqual(results, [{ status: 'unknown' }, { status: 'unknown' }], 'every write of a lost commit is unknown');
      assert.deepEqual(await ledger.read(p0), { epoch, next: 2, writer: epoch });
      assert.deepEqual(await ledger.committedRanges('orders'), [{ partition: 0, first: 0, next: 2, epoch }]);
      // Resolving by re-reading, never by writing twice: the same write again is rejected.
      assert.deepEqual(await ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 2, outcomes: [done(insertOrder(1)), done(insertOrder(2))] }]),
        [{ status: 'rejected', reason: 'next', ledger: { epoch, next: 2, writer: epoch } }]);
    } finally {
      await ledger.close();
      await proxy.close();
    }
  });

  it('(c) client side cut while COMMIT still runs on the server: unknown only once the backend is gone, so read() stays true', async () => {
    const proxy = new CuttingProxy(Number(new URL(url).port));
    const proxied = await proxy.listen();
    const ledger = await openPostgresLedger({ connectionString: proxied, schema: freshSchema('lost_c'), userSchema: slowCommit(1.5) });
    try {
      const { epoch } = await ledger.fence(p0);
      // The COMMIT's Parse message of the pipelined round trip 2: an empty statement name, then the text.
      proxy.cutClientAfterSending = Buffer.from('\u0000COMMIT\u0000');
      const results = await ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 1, outcomes: [
        done({ sql: 'INSERT INTO slow VALUES ($1)', params: [1] })] }]);
      assert.equal(proxy.cuts, 1);
      assert.deepEqual(results, [{ status: 'unknown' }]);
      const first = await ledger.read(p0);
      // Had the backend been left running, its COMMIT would land after the sleep.
      await sleep(2000);
      assert.deepEqual(await ledger.read(p0), first, 'read() after the lost answer is the final truth');
      assert.deepEqual(first, { epoch, next: 0, writer: 0 });
    } finally {
      await ledger.close();
      await proxy.close();
    }
  });

  it('readSettled (command ReadLedger) waits for a transaction that still holds the row, then reads its outcome; read() does not wait', async () => {
    const schema = freshSchema('settled');
    const ledger = await openPostgresLedger({ connectionString: url, schema, lostAnswerTimeoutMs: 5000 });
    const other = await admin(schema);
    try {
      const { epoch } = await ledger.fence(p0);
      // A commit whose answer was lost, still running: it holds the row's lock and has moved next.
      await other.query('BEGIN');
      await other.query("SELECT 1 FROM htmqc_partitions WHERE topic = 'orders' AND partition = 0 FOR UPDATE");
      await other.query("UPDATE htmqc_partitions SET next = 1, writer = $1 WHERE topic = 'orders' AND partition = 0", [epoch]);
      let settled: unknown;
      const reading = ledger.readSettled(p0).then((row) => { settled = row; });
      await sleep(300);
      assert.equal(settled, undefined, 'readSettled waits while the transaction is open');
      assert.deepEqual(await ledger.read(p0), { epoch, next: 0, writer: 0 }, 'read() answers at once, with the row before it');
      await other.query('COMMIT');
      await reading;
      assert.deepEqual(settled, { epoch, next: 1, writer: epoch }, 'then the outcome of the transaction it waited for');
    } finally {
      await other.end();
      await ledger.close();
    }
  });

  it('readSettled past lostAnswerTimeoutMs: a retriable LedgerBusyError (the caller reads again, never guesses)', async () => {
    const schema = freshSchema('settled_to');
    const ledger = await openPostgresLedger({ connectionString: url, schema, lostAnswerTimeoutMs: 200 });
    const other = await admin(schema);
    try {
      await ledger.fence(p0);
      await other.query('BEGIN');
      await other.query("SELECT 1 FROM htmqc_partitions WHERE topic = 'orders' AND partition = 0 FOR UPDATE");
      await assert.rejects(ledger.readSettled(p0), (e: unknown) => e instanceof LedgerBusyError && e.retriable && /55P03/.test(e.message));
      await other.query('ROLLBACK');
      assert.deepEqual(await ledger.readSettled(p0), { epoch: 1, next: 0, writer: 0 });
    } finally {
      await other.end();
      await ledger.close();
    }
  });

  it('the answer to BEGIN and the locking read lost: COMMIT was never sent, a retriable error, nothing applied', async () => {
    const proxy = new CuttingProxy(Number(new URL(url).port));
    const proxied = await proxy.listen();
    const ledger = await openPostgresLedger({ connectionString: proxied, schema: freshSchema('lost_begin'), userSchema: ORDERS });
    try {
      const { epoch } = await ledger.fence(p0);
      proxy.armed = 'BEGIN';
      await assert.rejects(ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 1, outcomes: [done(insertOrder(1))] }]),
        (e: unknown) => e instanceof LedgerIoError && e.retriable && /before COMMIT was sent; nothing applied/.test(e.message));
      assert.equal(proxy.cuts, 1);
      assert.deepEqual(await ledger.read(p0), { epoch, next: 0, writer: 0 });
      assert.deepEqual(await ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 1, outcomes: [done(insertOrder(1))] }]),
        [{ status: 'committed', next: 1 }]);
    } finally {
      await ledger.close();
      await proxy.close();
    }
  });

  it('postmaster killed with SIGKILL and restarted: committed rows survive crash recovery, the ledger reconnects', async () => {
    const ledger: PostgresLedger = await openLedger('crash', { userSchema: ORDERS });
    try {
      const { epoch } = await ledger.fence(p0);
      assert.deepEqual(await ledger.commit([{ ...p0, epoch, expectedNext: 0, upTo: 2, outcomes: [done(insertOrder(1)), done(insertOrder(2))] }]),
        [{ status: 'committed', next: 2 }]);
      assert.ok((await killPg()) !== null, 'a postmaster was killed');
      await assert.rejects(ledger.read(p0), (e: unknown) => e instanceof LedgerIoError && e.retriable);
      const restarted = await restartPg();
      assert.equal(restarted.recovered, true, 'the restart went through crash recovery');
      assert.deepEqual(await ledger.read(p0), { epoch, next: 2, writer: epoch });
      assert.deepEqual(await ledger.commit([{ ...p0, epoch, expectedNext: 2, upTo: 3, outcomes: [done(insertOrder(3))] }]),
        [{ status: 'committed', next: 3 }]);
      assert.deepEqual(await ledger.committedRanges('orders'),
        [{ partition: 0, first: 0, next: 2, epoch }, { partition: 0, first: 2, next: 3, epoch }]);
    } finally {
      await ledger.close();
    }
  });
});
