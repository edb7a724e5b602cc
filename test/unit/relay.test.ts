// The dead-letter relay (src/runtime/relay.ts, spec PublishDeadLetter) with
// a scripted Kafka client: a transactional send whose answer does not name
// the dead-letter partition -- kafkajs's answer when it dropped the records
// (tools/kafka/partial-send.js) -- is aborted and sent again, never
// committed as if written, and the position moves only after a commit of an
// answered send.

import * as assert from 'assert';
import type { Kafka } from 'kafkajs';
import { DeadLetterRelay } from '../../src/runtime/relay';
import type { LedgerPort, OutboxEntry, PartitionRef } from '../../src/ledger';

const entry = (offset: number): OutboxEntry => ({
  offset, key: null, value: Buffer.from(`v${offset}`), headers: {}, timestamp: '0', error: 'boom', attempts: 2,
});

function scripted(answers: ((partition: number) => unknown[])[]) {
  const log: string[] = [];
  let sends = 0;
  const kafka = {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicMetadata: async () => ({ topics: [{ partitions: [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }] }] }),
      fetchTopicOffsets: async () => [{ partition: 0, high: '0' }, { partition: 1, high: '0' }, { partition: 2, high: '0' }],
    }),
    producer: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      transaction: async () => {
        let active = true;
        return {
          isActive: () => active,
          send: async (r: { topic: string; messages: { partition: number }[] }) => {
            const p = r.messages[0]!.partition;
            const answer = (answers[sends++] ?? ((q: number) => [{ partition: q, errorCode: 0 }]))(p);
            log.push(`send ${r.messages.length} to ${r.topic}[${p}]`);
            return answer;
          },
          commit: async () => { active = false; log.push('commit'); },
          abort: async () => { active = false; log.push('abort'); },
        };
      },
    }),
  } as unknown as Kafka;
  return { kafka, log };
}

function outbox(rows: OutboxEntry[]): LedgerPort<unknown> {
  return {
    lastDeadLetter: async () => rows[rows.length - 1]?.offset ?? -1,
    deadLetters: async (_ref: PartitionRef, after: number, limit: number) => rows.filter((r) => r.offset > after).slice(0, limit),
  } as unknown as LedgerPort<unknown>;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > t) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('dead-letter relay: a send is written only when its answer names the partition', () => {
  it('aborts a send answered without its partition, sends again, commits once', async () => {
    const { kafka, log } = scripted([() => [], (p) => [{ partition: p, errorCode: 0 }]]);
    const errors: string[] = [];
    const relay = new DeadLetterRelay(kafka, outbox([entry(3), entry(5)]), 'orders.dlq', 'g', (e) => errors.push(String(e)));
    relay.onAssigned({ topic: 'orders', partition: 0 });
    await until(() => log.filter((l) => l === 'commit').length >= 1);
    await relay.stop();
    const p = log[0]!.match(/orders\.dlq\[(\d)\]/)![1];
    assert.deepStrictEqual(log.slice(0, 3), [`send 2 to orders.dlq[${p}]`, 'abort', `send 2 to orders.dlq[${p}]`]);
    assert.strictEqual(log.filter((l) => l === 'commit').length, 1);
    assert.strictEqual(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /dead-letter relay of orders\[0\]: the send of 2 records to orders\.dlq\[\d\] resolved without an answer for that partition/);
  });
  it('an answer with an error code for the partition is not a write either', async () => {
    const { kafka, log } = scripted([(p) => [{ partition: p, errorCode: 6 }]]);
    const relay = new DeadLetterRelay(kafka, outbox([entry(1)]), 'orders.dlq', 'g', () => undefined);
    relay.onAssigned({ topic: 'orders', partition: 2 });
    await until(() => log.includes('commit'));
    await relay.stop();
    assert.deepStrictEqual(log.filter((l) => l === 'abort' || l === 'commit').slice(0, 2), ['abort', 'commit']);
    assert.strictEqual(log.filter((l) => l.startsWith('send')).length, 2);
  });
});
