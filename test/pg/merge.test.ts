// Consecutive INSERT effects sent as multi-row INSERTs (merge.ts) on a real
// server: the same rows in the same order as one statement per effect; a
// table with a statement-level trigger is not merged (the trigger fires once
// per effect); a failing merged statement still names its offset (the commit
// runs again unmerged); mergeInserts: false sends one statement per effect.

import { strict as assert } from 'assert';
import { LedgerStatementError } from '../../src/ledger/errors';
import type { PostgresLedger } from '../../src/ledger/postgres';
import type { LedgerWrite, Statement } from '../../src/ledger/types';
import { ORDERS, admin, done, insertOrder, openLedger, serverUp } from './support';

const p0 = { topic: 'orders', partition: 0 };

function write(epoch: number, from: number, effects: Statement[]): LedgerWrite<Statement> {
  return { ...p0, epoch, expectedNext: from, upTo: from + effects.length, outcomes: effects.map((e) => done(e)) };
}

const STATEMENT_TRIGGER = `
CREATE TABLE IF NOT EXISTS audited (id bigint PRIMARY KEY);
CREATE TABLE IF NOT EXISTS audit_log (n serial PRIMARY KEY);
CREATE OR REPLACE FUNCTION log_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log DEFAULT VALUES; RETURN NULL; END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audited_per_statement' AND tgrelid = 'audited'::regclass) THEN
    CREATE TRIGGER audited_per_statement AFTER INSERT ON audited FOR EACH STATEMENT EXECUTE FUNCTION log_statement();
  END IF;
END $$`;

describe('PostgreSQL ledger: merged INSERT effects (real server)', function () {
  this.timeout(60000);
  let ledger: PostgresLedger | undefined;
  before(async () => { await serverUp(); });
  afterEach(async () => { await ledger?.close(); ledger = undefined; });

  async function rows(sql: string): Promise<unknown[]> {
    const c = await admin(ledger!.schema);
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  }

  it('sends 1,500 INSERT effects of one commit as 2 statements, with the rows and their order of 1,500 statements', async () => {
    ledger = await openLedger('merge', { userSchema: `${ORDERS}; CREATE TABLE IF NOT EXISTS seq (n serial, id bigint)` });
    const { epoch } = await ledger.fence(p0);
    const effects: Statement[] = [];
    for (let i = 0; i < 1500; i++) effects.push(i % 500 === 7 ? { sql: 'INSERT INTO seq (id) VALUES ($1)', params: [i] } : insertOrder(i));
    const before = ledger.stats();
    assert.deepEqual(await ledger.commit([write(epoch, 0, effects)]), [{ status: 'committed', next: 1500 }]);
    const s = ledger.stats();
    assert.equal(s.effects - before.effects, 1500);
    assert.equal(s.mergedEffects - before.mergedEffects, 1497, 'every effect but the three of another text, which split the runs');
    assert.equal(s.mergedStatements - before.mergedStatements, 4, 'runs of 7, 499, 499 and 492 orders');
    assert.equal((await rows('SELECT count(*)::int AS n FROM orders') as { n: number }[])[0]!.n, 1497);
    assert.deepEqual((await rows('SELECT id FROM seq ORDER BY n') as { id: string }[]).map((r) => Number(r.id)), [7, 507, 1007]);
    const notes = (await rows("SELECT note FROM orders WHERE id IN (0, 1499) ORDER BY id") as { note: string }[]).map((r) => r.note);
    assert.deepEqual(notes, ['order 0', 'order 1499']);
  });

  it('does not merge into a table with a statement-level trigger: it fires once per effect, as without merging', async () => {
    ledger = await openLedger('merge_trig', { userSchema: STATEMENT_TRIGGER });
    const { epoch } = await ledger.fence(p0);
    const effects = [1, 2, 3, 4].map((id): Statement => ({ sql: 'INSERT INTO audited (id) VALUES ($1)', params: [id] }));
    const before = ledger.stats();
    assert.deepEqual(await ledger.commit([write(epoch, 0, effects)]), [{ status: 'committed', next: 4 }]);
    assert.equal(ledger.stats().mergedEffects - before.mergedEffects, 0);
    assert.equal((await rows('SELECT count(*)::int AS n FROM audit_log') as { n: number }[])[0]!.n, 4);
  });

  it('a failing merged statement is run again unmerged: the error names the offset, nothing applies', async () => {
    ledger = await openLedger('merge_fail', { userSchema: ORDERS });
    const { epoch } = await ledger.fence(p0);
    const effects = [10, 11, 12, 11, 14].map((id) => insertOrder(id));   // offset 3 repeats a key
    await assert.rejects(ledger.commit([write(epoch, 0, effects)]),
      (e: unknown) => e instanceof LedgerStatementError && e.offset === 3 && e.partition === 0 && !e.retriable && /23505/.test(e.message));
    assert.equal(ledger.stats().unmergedReruns, 1);
    assert.equal((await rows('SELECT count(*)::int AS n FROM orders') as { n: number }[])[0]!.n, 0);
    assert.deepEqual(await ledger.read(p0), { epoch, next: 0, writer: 0 });
  });

  it('mergeInserts: false sends one statement per effect; a non-boolean is refused naming the option', async () => {
    ledger = await openLedger('merge_off', { userSchema: ORDERS, mergeInserts: false });
    const { epoch } = await ledger.fence(p0);
    assert.deepEqual(await ledger.commit([write(epoch, 0, [1, 2, 3].map((id) => insertOrder(id)))]), [{ status: 'committed', next: 3 }]);
    assert.equal(ledger.stats().mergedEffects, 0);
    await assert.rejects(openLedger('merge_bad', { mergeInserts: 'yes' as unknown as boolean }), /options\.mergeInserts must be true or false, got "yes"/);
  });
});
