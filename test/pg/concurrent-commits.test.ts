// Commits over disjoint partitions run side by side on the real server: the
// property the runtime's ledger writer relies on when it keeps up to
// `concurrentCommits` group commits in flight (src/runtime/ledger-writer.ts).
// Each commit locks only its own partitions' rows (postgres.ts, round trip
// 1), so two of them neither wait for nor deadlock with each other; a fence
// or a read still finds a connection (the pool keeps one beside them).
//
// Every write carries an effect that sleeps SLEEP_S on the server.  Run side
// by side, two such commits take about SLEEP_S; serialised (a pool of one
// connection, concurrentCommits 1), at least twice that: the check below
// fails for the serialised ledger, so it can tell the two apart.

import { strict as assert } from 'assert';
import type { PostgresLedger } from '../../src/ledger/postgres';
import type { LedgerWrite, Statement } from '../../src/ledger/types';
import { openLedger, serverUp } from './support';

const SLEEP_S = 0.5;
const SLEEP: Statement = { sql: `SELECT pg_sleep(${SLEEP_S})`, params: [] };

function sleepyWrite(partition: number, epoch: number): LedgerWrite<Statement> {
  return { topic: 'side', partition, epoch, expectedNext: 0, upTo: 1, outcomes: [{ effects: [SLEEP], deadLetter: null, absent: false }] };
}

/** Two commits of one partition each, started together; the wall time until both answered, and a fence made meanwhile. */
async function twoAtOnce(ledger: PostgresLedger): Promise<{ ms: number; fenceMs: number; nexts: number[] }> {
  const e0 = (await ledger.fence({ topic: 'side', partition: 0 })).epoch;
  const e1 = (await ledger.fence({ topic: 'side', partition: 1 })).epoch;
  const t0 = Date.now();
  const commits = Promise.all([ledger.commit([sleepyWrite(0, e0)]), ledger.commit([sleepyWrite(1, e1)])]);
  const fenceMs = await ledger.fence({ topic: 'side', partition: 2 }).then(() => Date.now() - t0);
  const results = await commits;
  const ms = Date.now() - t0;
  return { ms, fenceMs, nexts: results.map((r) => (r[0]!.status === 'committed' ? r[0]!.next : -1)) };
}

describe('PostgreSQL ledger: commits over disjoint partitions run side by side (concurrentCommits, real server)', function () {
  this.timeout(60000);
  before(async () => { await serverUp(); });

  it(`two commits of ${SLEEP_S} s each answer in less than twice that; a fence meanwhile does not wait for them`, async () => {
    const ledger = await openLedger('side', { poolSize: 4 });
    try {
      assert.equal(ledger.concurrentCommits, 3);
      const r = await twoAtOnce(ledger);
      assert.deepEqual(r.nexts, [1, 1], 'both committed');
      assert.ok(r.ms < 2 * SLEEP_S * 1000 - 100, `side by side: ${r.ms} ms for two commits of ${SLEEP_S * 1000} ms`);
      assert.ok(r.fenceMs < SLEEP_S * 1000, `the fence found the spare connection: ${r.fenceMs} ms`);
    } finally {
      await ledger.close();
    }
  });

  it('teeth: a pool of one connection (concurrentCommits 1) serialises them, and the same check tells', async () => {
    const ledger = await openLedger('serial', { poolSize: 1 });
    try {
      assert.equal(ledger.concurrentCommits, 1);
      const r = await twoAtOnce(ledger);
      assert.deepEqual(r.nexts, [1, 1]);
      assert.ok(r.ms >= 2 * SLEEP_S * 1000 - 50, `serialised: ${r.ms} ms`);
    } finally {
      await ledger.close();
    }
  });
});
