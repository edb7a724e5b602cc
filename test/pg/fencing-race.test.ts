// FencingInv on a real server, with teeth: a holder's Commit races a new
// holder's Assign (fence) many times.  The property, in the ledger's terms:
//
//   FencingInv (storage form): for every fence answer (epoch E, next N) of a
//   partition, every committed range of that partition with an epoch below E
//   ends at or below N (range.next <= N).
//
// Otherwise a holder fenced off at E committed offsets at or beyond N, where
// the new holder was told to start: they would be handled twice.
//
// The real adapter passes.  UnlockedLedger, defined here and nowhere else,
// is the adapter with one change: its read of the partition rows has no FOR
// UPDATE, so the epoch and next checks are made on a row nobody holds.
// Every commit carries an effect that sleeps 30 ms after the check, so a
// fence lands inside the window reliably; the variant must be caught.

import { strict as assert } from 'assert';
import { PostgresLedger, openPostgresLedger } from '../../src/ledger/postgres';
import type { CommittedRange, Fenced, WriteResult } from '../../src/ledger/port';
import { freshSchema, serverUp, sleep, url } from './support';

class UnlockedLedger extends PostgresLedger {
  protected override lockingReadSql(refs: string): string {
    return super.lockingReadSql(refs).replace(/ FOR UPDATE$/, '');
  }
}

const p = { topic: 'race', partition: 0 };
const SLEEP_AFTER_CHECK = { sql: 'SELECT pg_sleep(0.03)', params: [] };
const ROUNDS = 40;

interface Round { readonly epoch: number; readonly from: number; readonly result: WriteResult; readonly fence: Fenced }

/** The FencingInv violations: one line per (fence answer, stale range) pair. */
function fencingViolations(rounds: readonly Round[], ranges: readonly CommittedRange[]): string[] {
  const out: string[] = [];
  rounds.forEach((r, i) => {
    for (const g of ranges) {
      if (g.epoch < r.fence.epoch && g.next > r.fence.next) {
        out.push(`round ${i}: fence returned epoch ${r.fence.epoch}, next ${r.fence.next}, ` +
          `yet the range [${g.first}, ${g.next}) of epoch ${g.epoch} was committed`);
      }
    }
  });
  return out;
}

/** Holder A commits at its epoch while B fences after a pseudo-random delay (seeded: the same schedule each run). */
async function race(holder: PostgresLedger, fencer: PostgresLedger): Promise<{ rounds: Round[]; ranges: CommittedRange[] }> {
  let seed = 12345;
  const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  let held = await holder.fence(p);
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // A quarter of the rounds let the fence go first, the rest start it during the commit's window.
    const commitDelay = rand() < 0.25 ? 10 : 0;
    const fenceDelay = commitDelay > 0 ? 0 : Math.floor(rand() * 40);
    const [results, fence] = await Promise.all([
      sleep(commitDelay).then(() => holder.commit([{ ...p, epoch: held.epoch, expectedNext: held.next, upTo: held.next + 1,
        outcomes: [{ effects: [SLEEP_AFTER_CHECK], deadLetter: null, absent: false }] }])),
      sleep(fenceDelay).then(() => fencer.fence(p)),
    ]);
    rounds.push({ epoch: held.epoch, from: held.next, result: results[0]!, fence });
    held = fence;
  }
  return { rounds, ranges: await holder.committedRanges(p.topic, p.partition) };
}

describe('PostgreSQL ledger: FencingInv under a fence racing a commit (real server)', function () {
  this.timeout(120000);
  before(async () => { await serverUp(); });

  async function run(Variant: typeof PostgresLedger): Promise<{ rounds: Round[]; ranges: CommittedRange[] }> {
    const schema = freshSchema('race');
    const fencer = await openPostgresLedger({ connectionString: url, schema });
    const holder = await new Variant({ connectionString: url, schema }).open();
    try {
      return await race(holder, fencer);
    } finally {
      await holder.close();
      await fencer.close();
    }
  }

  it('the adapter (row lock, checks inside the transaction) keeps FencingInv in every round', async () => {
    const { rounds, ranges } = await run(PostgresLedger);
    assert.deepEqual(fencingViolations(rounds, ranges), []);
    // Not vacuous: fences landed both before the lock (commit rejected) and
    // while it was held (the fence waited and saw the commit's next).
    const rejected = rounds.filter((r) => r.result.status === 'rejected').length;
    const waited = rounds.filter((r) => r.result.status === 'committed' && r.fence.next === r.from + 1).length;
    assert.ok(rejected > 0 && waited > 0, `rejected ${rejected}, fence waited for the commit ${waited} of ${ROUNDS}`);
    assert.equal(rounds.filter((r) => r.result.status === 'unknown').length, 0);
  });

  it('teeth: without FOR UPDATE the same race breaks FencingInv, and the check says where', async () => {
    const { rounds, ranges } = await run(UnlockedLedger);
    const violations = fencingViolations(rounds, ranges);
    const failure = (() => {
      try {
        assert.deepEqual(violations, [], `FencingInv violated ${violations.length} times; first: ${violations[0]}`);
        return undefined;
      } catch (e) {
        return e as Error;
      }
    })();
    assert.ok(failure !== undefined, `the unlocked variant kept FencingInv in all ${ROUNDS} rounds: the race did not bite`);
    assert.match(failure.message, /FencingInv violated \d+ times; first: round \d+: fence returned epoch \d+, next \d+, yet the range/);
    console.log(`      unlocked variant, as the check reports it: ${failure.message.split('\n')[0]}`);
  });
});
