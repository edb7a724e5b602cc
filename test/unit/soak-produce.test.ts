// The soak's producer wrapper (trace-check/harness/produce.ts): a send whose
// answer leaves out its partition -- what kafkajs 2.2.4 returns after a
// partition leader dies -- is sent again, and fails naming the partition
// when it never gets an answer; one call per partition.

import * as assert from 'assert';
import { sendAcknowledged, type PartitionSender } from '../../trace-check/harness/produce';

type Msg = { partition: number; key: string; value: string };

/** A sender that answers each partition's first `drop[p]` calls without naming it, and records what it was asked. */
function sender(drop: Record<number, number>): PartitionSender & { calls: Msg[][] } {
  const calls: Msg[][] = [];
  return {
    calls,
    send: async ({ messages }) => {
      calls.push(messages);
      const p = messages[0]!.partition;
      if ((drop[p] ?? 0) > 0) { drop[p]!--; return []; }
      return [{ partition: p, errorCode: 0, baseOffset: '0' }];
    },
  };
}

const msgs = (n: number, partitions: number): Msg[] =>
  Array.from({ length: n }, (_, k) => ({ partition: k % partitions, key: `k${k}`, value: String(k) }));

describe('soak producer: acknowledged means answered for the partition', () => {
  it('sends one call per partition, each carrying only that partition, in order', async () => {
    const s = sender({});
    const r = await sendAcknowledged(s, 't', msgs(12, 3));
    assert.strictEqual(r.partialAnswers, 0);
    assert.strictEqual(s.calls.length, 3);
    for (const c of s.calls) {
      assert.ok(c.every((m) => m.partition === c[0]!.partition));
      assert.deepStrictEqual(c.map((m) => Number(m.value)), c.map((_, i) => c[0]!.partition + 3 * i));
    }
  });
  it('sends again a partition its answer left out, and counts it', async () => {
    const s = sender({ 1: 2 });
    const r = await sendAcknowledged(s, 't', msgs(6, 3));
    assert.strictEqual(r.partialAnswers, 2);
    assert.strictEqual(s.calls.filter((c) => c[0]!.partition === 1).length, 3);
    assert.strictEqual(s.calls.filter((c) => c[0]!.partition === 0).length, 1);
  });
  it('an answer with an error code is not an acknowledgement', async () => {
    let n = 0;
    const s: PartitionSender = { send: async () => (n++ === 0 ? [{ partition: 0, errorCode: 6 }] : [{ partition: 0, errorCode: 0 }]) };
    assert.strictEqual((await sendAcknowledged(s, 't', msgs(2, 1))).partialAnswers, 1);
  });
  it('fails naming the topic and partition when no send is answered', async () => {
    await assert.rejects(sendAcknowledged(sender({ 2: 99 }), 'orders', msgs(9, 3), 3), /orders\[2\]: 3 sends of 3 records/);
  });
});
