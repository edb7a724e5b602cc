// The soak harness's flags (trace-check/harness/main.ts parseSoakArgs): every
// bad value is refused naming the flag and the value; unknown flags too.

import * as assert from 'assert';
import { parseSoakArgs } from '../../trace-check/harness/main';

describe('soak harness flags', () => {
  it('takes counts, ports and the PostgreSQL shape', () => {
    const o = parseSoakArgs(['--messages', '500', '--kills', '3', '--ledger', 'postgres', '--pg-port', '15436', '--cluster-port', '19820']);
    assert.strictEqual(o.messages, 500);
    assert.strictEqual(o.kills, 3);
    assert.strictEqual(o.ledger, 'postgres');
    assert.strictEqual(o.cluster, true);
    assert.strictEqual(o.pgPort, 15436);
    assert.strictEqual(o.clusterPort, 19820);
    assert.strictEqual(parseSoakArgs(['--ledger', 'postgres', '--lose-answers', '25']).loseAnswers, 25);
    assert.strictEqual(o.loseAnswers, 0, 'no answer is lost unless asked');
  });
  it('refuses the PostgreSQL faults without the PostgreSQL ledger', () => {
    assert.throws(() => parseSoakArgs(['--lose-answers', '25']), /--lose-answers need --ledger postgres/);
    assert.throws(() => parseSoakArgs(['--pg-terminations', '1']), /need --ledger postgres/);
  });
  it('refuses fractions, negatives, words and a missing value, naming the flag and the value', () => {
    assert.throws(() => parseSoakArgs(['--kills', '1.5']), /--kills needs a non-negative integer, got "1.5"/);
    assert.throws(() => parseSoakArgs(['--messages', '-1']), /--messages needs a non-negative integer, got "-1"/);
    assert.throws(() => parseSoakArgs(['--window', 'abc']), /--window needs a non-negative integer, got "abc"/);
    assert.throws(() => parseSoakArgs(['--seed']), /--seed needs a non-negative integer, got nothing/);
    assert.throws(() => parseSoakArgs(['--joins', '']), /--joins needs a non-negative integer, got ""/);
  });
  it('refuses ports out of range and unknown flags and kinds', () => {
    assert.throws(() => parseSoakArgs(['--port', '80']), /--port must be a port between 1024 and 65500, got 80/);
    assert.throws(() => parseSoakArgs(['--pg-port', '70000']), /--pg-port must be a port between 1024 and 65500, got 70000/);
    assert.throws(() => parseSoakArgs(['--kils', '3']), /unknown option --kils/);
    assert.throws(() => parseSoakArgs(['--kill-kinds', 'sigkill,bogus']), /--kill-kinds: unknown kind bogus/);
    assert.throws(() => parseSoakArgs(['--ledger', 'mysql']), /--ledger must be sqlite or postgres, got mysql/);
  });
});
