// Teeth of the exactly-once audit the runtime integration tests run on the
// PostgreSQL ledger (test/integration/runtime/harness.ts, NoDuplicateInv and
// NoGapInv read from the tables): a commit with its effects passes, and each
// known-bad table state fails it.  Real server, no broker.

import * as assert from 'assert';
import { Client } from 'pg';
import { audit } from '../integration/runtime/harness';
import { LEDGER_BACKENDS, openLedger, type LedgerSpec } from '../integration/runtime/ledger-backend';
import type { Outcome, Statement } from '../../src/ledger/types';

describe('postgres: the runtime audit rejects known-bad ledger tables (NoDuplicateInv, NoGapInv)', function () {
  this.timeout(30000);
  const backend = LEDGER_BACKENDS.postgres;
  let spec: LedgerSpec & { backend: 'postgres' };
  let c: Client;

  beforeEach(async function () {
    await backend.up();
    spec = await backend.prepare('', 'audit') as LedgerSpec & { backend: 'postgres' };
    const ledger = await openLedger(spec);
    const ref = { topic: 't', partition: 0 };
    const { epoch } = await ledger.fence(ref);
    const done = (o: number): Outcome<Statement> => ({ effects: [{ sql: backend.insertEffect, params: ['t', 0, o, 1, 'v'] }], deadLetter: null, absent: false });
    assert.deepStrictEqual(await ledger.commit([{ ...ref, epoch, expectedNext: 0, upTo: 3, outcomes: [done(0), done(1), done(2)] }]),
      [{ status: 'committed', next: 3 }]);
    await ledger.close();
    c = new Client({ connectionString: spec.url, options: `-c search_path=${spec.schema}` });
    await c.connect();
  });

  afterEach(async () => { await c.end(); });

  it('passes a commit of offsets 0..2 with one effect each', async function () {
    const a = await audit(spec, 't', [3]);
    assert.deepStrictEqual(a, { effects: 3, duplicates: 0, ledgerNext: { 0: 3 }, committedOffsets: 3, deadLettered: 0 });
  });

  it('counts a second effect of one offset as a duplicate', async function () {
    await c.query(`INSERT INTO test_effects VALUES ('t', 0, 1, 2, 'again')`);
    assert.strictEqual((await audit(spec, 't', [3])).duplicates, 1);
  });

  it('fails on an effect no committed range covers', async function () {
    await c.query(`INSERT INTO test_effects VALUES ('t', 0, 3, 1, 'orphan')`);
    await assert.rejects(audit(spec, 't', [3]), /partition 0: no effect without its committed offset/);
  });

  it('fails on a Done offset without its effect', async function () {
    await c.query(`DELETE FROM test_effects WHERE "offset" = 1`);
    await assert.rejects(audit(spec, 't', [3]), /partition 0: every Done offset has its effect/);
  });

  it('fails on ranges that do not start at 0 (a gap)', async function () {
    await c.query('UPDATE htmqc_ranges SET first = 1');
    await assert.rejects(audit(spec, 't', [3]), /partition 0: committed ranges cover exactly 0..next-1/);
  });
});
