// src/util/options.ts: the near-miss suggestion and the value description that
// every strict option check (consumer, ledgers, CLI config) relies on.

import * as assert from 'assert';
import { describeValue, nearestKey, unknownKeys } from '../../src/util/options';

describe('strict options', () => {
  const known = ['maxRetries', 'retryBackoff', 'groupId', 'path'];

  it('suggests the known key for a typo, in any case', () => {
    assert.strictEqual(nearestKey('maxRetrys', known), 'maxRetries');
    assert.strictEqual(nearestKey('MAXRETRIES', known), 'maxRetries');
    assert.strictEqual(nearestKey('retryBackof', known), 'retryBackoff');
    assert.strictEqual(nearestKey('pth', known), 'path');
  });

  it('suggests nothing for a key unlike any known one', () => {
    assert.strictEqual(nearestKey('brokers', known), undefined);
    assert.strictEqual(nearestKey('x', known), undefined);
  });

  it('lists exactly the unknown keys, in order', () => {
    assert.deepStrictEqual(unknownKeys({ maxRetries: 1, maxRetry: 2, zz: 3 }, known).map((u) => u.key), ['maxRetry', 'zz']);
    assert.deepStrictEqual(unknownKeys({ path: 'a' }, known), []);
  });

  it('quotes strings so "3" is not shown as 3', () => {
    assert.strictEqual(describeValue('3'), '"3" (a string)');
    assert.strictEqual(describeValue(3), '3');
    assert.strictEqual(describeValue([]), 'an array');
    assert.strictEqual(describeValue(null), 'null');
  });
});
