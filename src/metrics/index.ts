// Prometheus exposition of one htmqc consumer (prom-client, text format).
//
// Nothing here runs per message.  Counters of committed work are increased
// once per group commit by the number of offsets it carried (the consumer's
// ledgerCommit observer); gauges are set from one consumer snapshot when
// Prometheus scrapes; the broker's high watermarks come from the background
// BrokerPoller.
//
// | metric                                | type      | labels           | source |
// |---------------------------------------|-----------|------------------|--------|
// | htmqc_messages_processed_total        | counter   | topic, partition | Done offsets of accepted ledger writes |
// | htmqc_messages_dead_lettered_total    | counter   | topic, partition | DeadLettered offsets of accepted ledger writes |
// | htmqc_ledger_commits_total            | counter   |                  | ledger transactions (group commits) |
// | htmqc_ledger_rejections_total         | counter   | topic, partition | writes the ledger rejected (spec CommitRejected) |
// | htmqc_ledger_lost_answers_total       | counter   | topic, partition | ledger answers lost (spec LoseAnswer), each decided from the row |
// | htmqc_redeliveries_total              | counter   |                  | handler re-runs after a failure (spec Retry) |
// | htmqc_inflight                        | gauge     | topic, partition | records fetched, not committed (Len(win)) |
// | htmqc_consumer_lag                    | gauge     | topic, partition | high watermark - ledger next |
// | htmqc_commit_latency_seconds          | histogram |                  | duration of each ledger transaction |
// | htmqc_end_to_end_latency_seconds      | histogram |                  | produce timestamp of a write's first record -> its ledger commit |

import * as http from 'http';
import type { Kafka } from 'kafkajs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ConsumerObserver, ConsumerSnapshot } from '../runtime/consumer';
import { BrokerPoller, partitionKey, type BrokerViewSource } from '../service/broker-view';

/** What the metrics read: a consumer handle (createConsumer's) satisfies it. */
export interface MetricsSource {
  snapshot(): ConsumerSnapshot;
  observe(observer: ConsumerObserver): () => void;
}

export interface ConsumerMetrics {
  readonly registry: Registry;
  /** Removes the observer (the registry keeps the last values). */
  detach(): void;
}

const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const E2E_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Registers the htmqc metrics of one consumer on registry (a new one by default). */
export function createConsumerMetrics(
  source: MetricsSource, options: { registry?: Registry; brokerView?: BrokerViewSource } = {},
): ConsumerMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const labelNames = ['topic', 'partition'] as const;
  const processed = new Counter({
    name: 'htmqc_messages_processed_total', help: 'Offsets whose outcome this process committed to the ledger as Done.', labelNames, registers,
  });
  const deadLettered = new Counter({
    name: 'htmqc_messages_dead_lettered_total', help: 'Offsets this process committed to the ledger as DeadLettered.', labelNames, registers,
  });
  const commits = new Counter({ name: 'htmqc_ledger_commits_total', help: 'Ledger transactions (group commits) this process made.', registers });
  const rejections = new Counter({
    name: 'htmqc_ledger_rejections_total', help: 'Ledger writes rejected by the epoch or next check (spec CommitRejected).', labelNames, registers,
  });
  const lostAnswers = new Counter({
    name: 'htmqc_ledger_lost_answers_total',
    help: 'Ledger writes whose answer was lost (spec LoseAnswer); each is decided from the row read afterwards (spec Recover).', labelNames, registers,
  });
  let reportedRedeliveries = 0;
  new Counter({
    name: 'htmqc_redeliveries_total', help: 'Handler re-runs of a record after it failed (spec Retry).', registers,
    collect() {
      const c = source.snapshot().counters;
      // Every failure is followed by a Retry or, after the last one, a DeadLetter.
      const now = Math.max(reportedRedeliveries, c.failed - c.deadLettered);
      if (now > reportedRedeliveries) this.inc(now - reportedRedeliveries);
      reportedRedeliveries = now;
    },
  });
  new Gauge({
    name: 'htmqc_inflight', help: 'Records fetched and not yet committed, per held partition.', labelNames, registers,
    collect() {
      this.reset();
      for (const v of source.snapshot().partitions) this.set({ topic: v.topic, partition: String(v.partition) }, v.inFlight);
    },
  });
  new Gauge({
    name: 'htmqc_consumer_lag', help: 'High watermark minus the ledger next offset, per held partition.', labelNames, registers,
    collect() {
      this.reset();
      const view = options.brokerView?.current();
      if (view === undefined) return;
      for (const v of source.snapshot().partitions) {
        const high = view.highWatermarks.get(partitionKey(v.topic, v.partition));
        if (high !== undefined) this.set({ topic: v.topic, partition: String(v.partition) }, Math.max(0, high - v.ledgerNext));
      }
    },
  });
  const commitLatency = new Histogram({
    name: 'htmqc_commit_latency_seconds', help: 'Duration of each ledger transaction.', buckets: COMMIT_BUCKETS, registers,
  });
  const e2eLatency = new Histogram({
    name: 'htmqc_end_to_end_latency_seconds',
    help: 'Produce timestamp of the first record of a ledger write to the commit of that write (one observation per write).',
    buckets: E2E_BUCKETS, registers,
  });
  const detach = source.observe({
    ledgerCommit(e) {
      // A recovered write: its transaction was counted nowhere and its duration is unknown.
      commits.inc();
      if (!e.recovered) commitLatency.observe(e.durationMs / 1000);
      for (const w of e.writes) {
        const labels = { topic: w.topic, partition: String(w.partition) };
        if (!w.accepted) {
          rejections.inc(labels);
          continue;
        }
        const n = w.upTo - w.from;
        if (n - w.deadLettered > 0) processed.inc(labels, n - w.deadLettered);
        if (w.deadLettered > 0) deadLettered.inc(labels, w.deadLettered);
        if (w.firstTimestampMs >= 0) e2eLatency.observe(Math.max(0, e.committedAtMs - w.firstTimestampMs) / 1000);
      }
    },
    ledgerAnswerLost(ref) {
      lostAnswers.inc({ topic: ref.topic, partition: String(ref.partition) });
    },
  });
  return { registry, detach };
}

export interface MetricsServerOptions {
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: one the OS picks; see MetricsServer.port). */
  readonly port?: number;
  /** A kafkajs client and the consumed topics, for htmqc_consumer_lag (polled in the background). */
  readonly kafka?: Kafka;
  readonly topics?: readonly string[];
  /** A broker view to use instead of polling with kafka (e.g. shared with the state service). */
  readonly brokerView?: BrokerViewSource;
  readonly registry?: Registry;
}

export interface MetricsServer {
  /** http://host:port/metrics */
  readonly url: string;
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text format) for one consumer. */
export async function startMetricsServer(source: MetricsSource, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  let poller: BrokerPoller | undefined;
  let brokerView = options.brokerView;
  if (brokerView === undefined && options.kafka !== undefined) {
    poller = new BrokerPoller({ kafka: options.kafka, groupId: source.snapshot().groupId, topics: options.topics ?? [] });
    brokerView = poller;
  }
  const metrics = createConsumerMetrics(source, {
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(brokerView === undefined ? {} : { brokerView }),
  });
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    }, (e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e instanceof Error ? e.message : String(e)}\n`);
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    port,
    registry: metrics.registry,
    close: async () => {
      metrics.detach();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await poller?.stop();
    },
  };
}
