// createConsumer's configuration validation: an invalid field fails at
// createConsumer with a ConfigError naming it, before anything connects.
// No broker: kafkajs's Kafka client connects lazily.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Kafka, logLevel } from 'kafkajs';
import { ConfigError, createConsumer, openSqliteLedger, type ConsumerConfig, type SqliteLedger } from '../../src';

describe('runtime: createConsumer configuration validation', () => {
  let dir: string;
  let ledger: SqliteLedger;
  let valid: ConsumerConfig;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-config-'));
    ledger = openSqliteLedger(path.join(dir, 'ledger.db'));
    valid = {
      kafka: new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING }),
      groupId: 'g', topics: ['t'], ledger, handler: async () => undefined, core: 'ts',
    };
  });

  after(async () => {
    await ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a minimal valid configuration and snapshots an idle consumer', () => {
    const c = createConsumer(valid);
    const s = c.snapshot();
    assert.strictEqual(s.running, false);
    assert.deepStrictEqual(s.partitions, []);
  });

  /** Every call of the port, and the given concurrentCommits. */
  const portWith = (concurrentCommits: unknown): Record<string, unknown> => ({
    backend: 'fake', concurrentCommits, fence: () => undefined, commit: () => undefined, read: () => undefined,
    deadLetters: () => undefined, lastDeadLetter: () => undefined,
  });
  const cases: [string, Record<string, unknown>][] = [
    ['kafka', { kafka: {} }],
    ['groupId', { groupId: '' }],
    ['groupId', { groupId: 42 }],
    ['topics', { topics: [] }],
    ['topics[1]', { topics: ['a', ''] }],
    ['topics', { topics: ['a', 'a'] }],
    ['ledger', { ledger: { fence: () => undefined } }],
    ['ledger.concurrentCommits', { ledger: portWith(undefined) }],
    ['ledger.concurrentCommits', { ledger: portWith(0) }],
    ['ledger.concurrentCommits', { ledger: portWith(1.5) }],
    ['handler', { handler: 'nope' }],
    ['maxInFlightPerPartition', { maxInFlightPerPartition: 0 }],
    ['maxInFlightPerPartition', { maxInFlightPerPartition: 1.5 }],
    ['maxRetries', { maxRetries: -1 }],
    ['maxRetries', { maxRetries: 255 }],
    ['retryBackoff', { retryBackoff: '1s' }],
    ['deadLetterTopic', { deadLetterTopic: '' }],
    ['deadLetterTopic', { deadLetterTopic: 't' }],
    ['trace', { trace: 7 }],
    ['core', { core: 'rust' }],
    ['stopTimeoutMs', { stopTimeoutMs: -5 }],
    ['consumerOptions', { consumerOptions: 3 }],
  ];
  for (const [field, patch] of cases) {
    it(`rejects ${JSON.stringify(patch)} naming the field ${field}`, () => {
      assert.throws(() => createConsumer({ ...valid, ...patch } as unknown as ConsumerConfig), (e: unknown) => {
        assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
        assert.strictEqual(e.field, field);
        assert.ok(e.message.includes(field), `message names ${field}: ${e.message}`);
        return true;
      });
    });
  }

  // Issue 20 item 6: a typo must not silently keep a default.
  for (const [key, near] of [['maxRetrys', 'maxRetries'], ['maxRetry', 'maxRetries'], ['groupid', 'groupId'], ['deadLetterTopik', 'deadLetterTopic']] as const) {
    it(`rejects the unknown key ${key} and suggests ${near}`, () => {
      assert.throws(() => createConsumer({ ...valid, [key]: 3 } as unknown as ConsumerConfig), (e: unknown) => {
        assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
        assert.strictEqual(e.field, key);
        assert.match(e.message, new RegExp(`${key} is not an option \\(did you mean ${near}\\?\\)`));
        return true;
      });
    });
  }

  it('rejects an unknown key with no near miss by listing the known ones', () => {
    assert.throws(() => createConsumer({ ...valid, zzz: 1 } as unknown as ConsumerConfig),
      (e: unknown) => e instanceof ConfigError && e.field === 'zzz' && /known: kafka, groupId/.test(e.message));
  });

  it('shows a string where a number belongs as a string (maxRetries: "3")', () => {
    assert.throws(() => createConsumer({ ...valid, maxRetries: '3' } as unknown as ConsumerConfig),
      (e: unknown) => e instanceof ConfigError && /got "3" \(a string\)/.test(e.message));
  });

  it('rejects a non-object configuration', () => {
    assert.throws(() => createConsumer(null as unknown as ConsumerConfig), (e: unknown) => e instanceof ConfigError && e.field === 'config');
  });
});
