// One consumer process of `make demo`: createConsumer on the demo topic with
// the SQLite or the PostgreSQL ledger, its gRPC state service and metrics endpoint.  The
// handler's one effect is a row in demo_effects, queued on tx, so it is
// committed exactly once with the offset.  Reports its counters to the parent
// over IPC; stops gracefully on {type:'stop'}; the parent may SIGKILL it.

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

import { Kafka, logLevel } from 'kafkajs';
import { createConsumer } from '../../src';
import { startMetricsServer } from '../../src/metrics';
import { BrokerPoller, startStateService } from '../../src/service';
import { DEMO_EFFECT, openDemoLedger, type DemoLedger } from './ledger';

export interface DemoWorkerOptions {
  brokers: string;
  topic: string;
  groupId: string;
  ledger: DemoLedger;
  servicePort: number;
  metricsPort: number;
  delayMs: number;
}

const options = JSON.parse(process.argv[2]!) as DemoWorkerOptions;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const kafka = new Kafka({
    clientId: `htmqc-demo-${process.pid}`, brokers: [options.brokers], logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 3000 },
  });
  const ledger = await openDemoLedger(options.ledger);
  const consumer = createConsumer({
    kafka, groupId: options.groupId, topics: [options.topic], ledger, transitions: true, maxInFlightPerPartition: 500,
    consumerOptions: { sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000 },
    handler: async (message, tx) => {
      if (options.delayMs > 0) await sleep(options.delayMs);
      tx.execute(DEMO_EFFECT[options.ledger.backend], [message.topic, message.partition, message.offset, process.pid]);
    },
  });
  const brokerView = new BrokerPoller({ kafka, groupId: options.groupId, topics: [options.topic], intervalMs: 1000 });
  const service = await startStateService(consumer, { port: options.servicePort, brokerView, ledger });
  const metrics = await startMetricsServer(consumer, { port: options.metricsPort, brokerView });
  process.on('message', (m: { type?: string }) => {
    if (m.type !== 'stop') return;
    void (async () => {
      await consumer.stop();
      await service.close();
      await metrics.close();
      await brokerView.stop();
      await ledger.close();
      process.send?.({ type: 'stopped' });
      process.exit(0);
    })().catch((e: unknown) => {
      console.error(`demo worker ${process.pid}: stop failed: ${String(e)}`);
      process.exit(2);
    });
  });
  process.on('SIGINT', () => undefined);
  await consumer.start();
  process.send?.({ type: 'ready', service: service.address, metrics: metrics.url });
  setInterval(() => {
    if (!process.connected) return;
    const snap = consumer.snapshot();
    process.send?.({
      type: 'stats', committed: snap.counters.committed, held: snap.partitions.map((p) => p.partition),
      inFlight: snap.partitions.reduce((n, p) => n + p.inFlight, 0),
    });
  }, 250).unref();
}

main().catch((e: unknown) => {
  console.error(`demo worker ${process.pid} failed: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
