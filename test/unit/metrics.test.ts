// The Prometheus endpoint of one consumer, scraped over HTTP and parsed:
// metric names, types, labels and values after ledger commits (spec Commit,
// CommitRejected, DeadLetter) reported by a fake consumer.  No broker.

import * as assert from 'assert';
import * as http from 'http';
import type { ConsumerObserver, ConsumerSnapshot, LedgerCommitEvent } from '../../src/runtime/consumer';
import { startMetricsServer, type MetricsServer } from '../../src/metrics';
import type { BrokerViewSource } from '../../src/service/broker-view';

class FakeConsumer {
  readonly observers: ConsumerObserver[] = [];
  failed = 0;
  deadLettered = 0;
  snapshot(): ConsumerSnapshot {
    return {
      groupId: 'g', memberId: 'm', running: true, joins: 1,
      partitions: [{ p: 0, topic: 'orders', partition: 0, epoch: 1, ledgerNext: 100, position: 120, inFlight: 20, paused: false }],
      counters: {
        handled: 0, failed: this.failed, committed: 0, deadLettered: this.deadLettered, ledgerCommits: 0, ledgerRejections: 0, ledgerLostAnswers: 0, ledgerErrors: 0, rebalances: 1,
      },
      core: { now: 0, seq: 0, partitions: [], fences: [] },
    };
  }
  observe(o: ConsumerObserver): () => void {
    this.observers.push(o);
    return () => { this.observers.splice(this.observers.indexOf(o), 1); };
  }
  commit(e: LedgerCommitEvent): void { for (const o of this.observers) o.ledgerCommit?.(e); }
}

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

/** Parses the text exposition: TYPE per family and value per sample line (name{labels}). */
export function parseExposition(text: string): { types: Map<string, string>; samples: Map<string, number> } {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t !== null) types.set(t[1]!, t[2]!);
    else if (line !== '' && !line.startsWith('#')) {
      const i = line.lastIndexOf(' ');
      samples.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
  }
  return { types, samples };
}

describe('metrics (Prometheus text exposition over HTTP, fake consumer)', function () {
  this.timeout(10000);
  const fake = new FakeConsumer();
  const brokerView: BrokerViewSource = {
    current: () => ({ fetchedAtMs: Date.now(), highWatermarks: new Map([['orders\u00000', 150]]), brokerOffsets: new Map(), group: undefined }),
    stop: async () => undefined,
  };
  let server: MetricsServer;
  before(async () => { server = await startMetricsServer(fake, { brokerView }); });
  after(async () => { await server.close(); });

  it('binds 127.0.0.1 and serves /metrics only', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.strictEqual((await get(server.url.replace('/metrics', '/'))).status, 404);
  });

  it('exposes every htmqc metric with its type and labels; commits are counted in batches', async () => {
    const now = Date.now();
    fake.commit({
      durationMs: 3, recovered: false, committedAtMs: now,
      writes: [
        { topic: 'orders', partition: 0, from: 0, upTo: 60, accepted: true, deadLettered: 2, firstTimestampMs: now - 1500 },
        { topic: 'orders', partition: 1, from: 0, upTo: 40, accepted: true, deadLettered: 0, firstTimestampMs: now - 20 },
      ],
    });
    fake.commit({
      durationMs: 0.4, recovered: false, committedAtMs: now,
      writes: [{ topic: 'orders', partition: 1, from: 40, upTo: 41, accepted: false, deadLettered: 0, firstTimestampMs: -1 }],
    });
    fake.failed = 7;
    fake.deadLettered = 2;
    const res = await get(server.url);
    assert.strictEqual(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    const { types, samples } = parseExposition(res.body);
    assert.deepStrictEqual(Object.fromEntries([...types].filter(([n]) => n.startsWith('htmqc_'))), {
      htmqc_messages_processed_total: 'counter',
      htmqc_messages_dead_lettered_total: 'counter',
      htmqc_ledger_commits_total: 'counter',
      htmqc_ledger_rejections_total: 'counter',
      htmqc_ledger_lost_answers_total: 'counter',
      htmqc_redeliveries_total: 'counter',
      htmqc_inflight: 'gauge',
      htmqc_consumer_lag: 'gauge',
      htmqc_commit_latency_seconds: 'histogram',
      htmqc_end_to_end_latency_seconds: 'histogram',
    });
    assert.strictEqual(samples.get('htmqc_messages_processed_total{topic="orders",partition="0"}'), 58);
    assert.strictEqual(samples.get('htmqc_messages_processed_total{topic="orders",partition="1"}'), 40);
    assert.strictEqual(samples.get('htmqc_messages_dead_lettered_total{topic="orders",partition="0"}'), 2);
    assert.strictEqual(samples.get('htmqc_ledger_commits_total'), 2);
    assert.strictEqual(samples.get('htmqc_ledger_rejections_total{topic="orders",partition="1"}'), 1);
    assert.strictEqual(samples.get('htmqc_redeliveries_total'), 5, 'failures followed by a Retry: 7 failed - 2 dead-lettered');
    assert.strictEqual(samples.get('htmqc_inflight{topic="orders",partition="0"}'), 20);
    assert.strictEqual(samples.get('htmqc_consumer_lag{topic="orders",partition="0"}'), 50);
    assert.strictEqual(samples.get('htmqc_commit_latency_seconds_count'), 2);
    assert.strictEqual(samples.get('htmqc_commit_latency_seconds_bucket{le="0.0005"}'), 1);
    assert.strictEqual(samples.get('htmqc_end_to_end_latency_seconds_count'), 2);
    assert.strictEqual(samples.get('htmqc_end_to_end_latency_seconds_bucket{le="1"}'), 1);
    assert.strictEqual(samples.get('htmqc_end_to_end_latency_seconds_bucket{le="2.5"}'), 2);
    const again = parseExposition((await get(server.url)).body).samples;
    assert.strictEqual(again.get('htmqc_redeliveries_total'), 5, 'a scrape does not count twice');
  });

  it('counts a lost answer, and the write the row showed applied as processed without a commit duration', async () => {
    const before = parseExposition((await get(server.url)).body).samples;
    for (const o of fake.observers) o.ledgerAnswerLost?.({ topic: 'orders', partition: 1 });
    fake.commit({
      durationMs: NaN, recovered: true, committedAtMs: Date.now(),
      writes: [{ topic: 'orders', partition: 1, from: 41, upTo: 51, accepted: true, deadLettered: 1, firstTimestampMs: -1 }],
    });
    const { samples } = parseExposition((await get(server.url)).body);
    assert.strictEqual(samples.get('htmqc_ledger_lost_answers_total{topic="orders",partition="1"}'), 1);
    assert.strictEqual(samples.get('htmqc_messages_processed_total{topic="orders",partition="1"}'),
      before.get('htmqc_messages_processed_total{topic="orders",partition="1"}')! + 9);
    assert.strictEqual(samples.get('htmqc_ledger_commits_total'), before.get('htmqc_ledger_commits_total')! + 1);
    assert.strictEqual(samples.get('htmqc_commit_latency_seconds_count'), before.get('htmqc_commit_latency_seconds_count'),
      'no duration is made up for a transaction whose answer never came');
  });
});
