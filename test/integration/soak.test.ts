// A small crash-injection soak against a real Kafka 3.9 broker
// (trace-check/harness): consumer processes SIGKILLed at each dangerous
// point (spec Crash between Succeed and Commit, between Commit and
// CommitBroker, mid Assign of a rebalance, at DeadLetter), the broker
// SIGKILLed and restarted, a member joining and one leaving (Rebalance), and
// a zombie (SIGSTOP past the session timeout).  The fast checker replays the
// traces through DCSM's transition relation, TLC matches a slice, and the
// independent audit reads the topic and the ledger: 0 duplicates, 0 losses.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

import * as assert from 'assert';
import { DEFAULTS, runSoak, summaryLine } from '../../trace-check/harness/main';

describe('soak: exactly-once across SIGKILLs, broker restarts, rebalances and a zombie (real broker)', function () {
  this.timeout(420000);

  it('20,000 messages, 5 kills, 1 broker restart: the checker, TLC and the audit find 0 duplicates and 0 losses', async function () {
    const r = await runSoak({
      ...DEFAULTS, messages: 20000, partitions: 4, kills: 5, brokerRestarts: 1, zombies: 1, joins: 1, port: 19596,
      window: 32, tlcRecords: 150, timeoutSec: 360, seed: 7, log: (l) => console.log(`      ${l}`),
    });
    console.log(`      ${summaryLine(r)}`);
    assert.ok(r.completed, 'every message was committed before the timeout');
    assert.ok(r.check.ok, `checker: ${r.check.violation?.reason}`);
    assert.strictEqual(r.audit.duplicated, 0, 'audit: duplicates');
    assert.strictEqual(r.audit.lost, 0, 'audit: losses');
    assert.strictEqual(r.audit.orphans, 0, 'audit: effects without their committed offset');
    assert.strictEqual(r.audit.expected, 20000);
    assert.ok(r.kills >= 5, `${r.kills} kills`);
    assert.strictEqual(r.brokerRestarts, 1);
    assert.ok(r.tlc?.ok, r.tlc?.summary);
  });
});
