// A small crash-injection soak against a real Kafka 3.9 broker
// (trace-check/harness): consumer processes SIGKILLed at each dangerous
// point (spec Crash between Succeed and Commit, between Commit and
// CommitBroker, mid Assign of a rebalance, at DeadLetter), the broker
// SIGKILLed and restarted, a member joining and one leaving (Rebalance), and
// a zombie (SIGSTOP past the session timeout).  The fast checker replays the
// traces through DCSM's transition relation, TLC matches a slice, and the
// independent audit reads the topic and the ledger: 0 duplicates, 0 losses.
// And the teeth: the same harness with HTMQC_UNSAFE=broker-commit-first (a
// design that commits the position before the ledger) and members SIGKILLed
// between the two must be rejected by the checker AND by the audit.

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

describe('soak teeth: HTMQC_UNSAFE=broker-commit-first is caught by the checker and by the audit (real broker)', function () {
  this.timeout(300000);

  it('4,000 messages, 3 armed after-handlers-before-ledger kills: the checker reports a violation and the audit finds losses', async function () {
    const r = await runSoak({
      ...DEFAULTS, messages: 4000, partitions: 4, kills: 3, brokerRestarts: 0, zombies: 0, joins: 0, port: 19598,
      window: 32, tlcRecords: 0, timeoutSec: 240, seed: 11, unsafe: 'broker-commit-first', killKinds: ['after-handlers-before-ledger'],
      log: (l) => console.log(`      ${l}`),
    });
    console.log(`      ${summaryLine(r)}`);
    const reached = r.killsByKind['after-handlers-before-ledger'] ?? 0;
    assert.ok(reached >= 1, `an armed member reached after-handlers-before-ledger (kills: ${JSON.stringify(r.killsByKind)})`);
    assert.strictEqual(r.check.ok, false, 'the checker accepted a run of the known-wrong design');
    const v = r.check.violation;
    assert.ok(v !== undefined && v.reason.length > 0, 'the checker names why the run is wrong');
    assert.ok(r.audit.lost + r.audit.duplicated > 0,
      `the audit found no loss or duplicate (lost ${r.audit.lost}, duplicated ${r.audit.duplicated})`);
    assert.strictEqual(r.ok, false);
  });
});
