// `htmqc run <config.json> <handler-module>`: one consumer process with the
// SQLite ledger, its state service and its metrics endpoint.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { ConsumerFatalError, createConsumer, openSqliteLedger, type Handler } from '../../index';
import { startMetricsServer, type MetricsServer } from '../../metrics';
import { BrokerPoller, startStateService, type StateService } from '../../service';
import { DEFAULT_SERVICE_ADDRESS } from './client-options';

/** The JSON file `htmqc run` reads.  Paths are relative to the file. */
export interface RunConfig {
  brokers: string[];
  groupId: string;
  topics: string[];
  /** SQLite ledger file. */
  ledger: string;
  clientId?: string;
  maxInFlightPerPartition?: number;
  maxRetries?: number;
  retryBackoff?: number;
  deadLetterTopic?: string;
  trace?: string;
  core?: 'ts' | 'native';
  /** The state service; false turns it off.  Default 127.0.0.1:9470. */
  service?: false | { host?: string; port?: number; token?: string; tls?: { cert: string; key: string; clientCa?: string } };
  /** The metrics endpoint; false turns it off.  Default 127.0.0.1:9471. */
  metrics?: false | { host?: string; port?: number };
}

export class RunConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'RunConfigError';
  }
}

export function readRunConfig(file: string): RunConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RunConfigError('config', `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (raw === null || typeof raw !== 'object') throw new RunConfigError('config', 'must be a JSON object');
  const c = raw as Record<string, unknown>;
  if (!Array.isArray(c['brokers']) || c['brokers'].length === 0 || !c['brokers'].every((b) => typeof b === 'string')) {
    throw new RunConfigError('brokers', 'must be a non-empty array of "host:port" strings');
  }
  if (typeof c['ledger'] !== 'string' || c['ledger'] === '') throw new RunConfigError('ledger', 'must be the path of the SQLite ledger file');
  const dir = path.dirname(path.resolve(file));
  const config = { ...c, ledger: path.resolve(dir, c['ledger']) } as unknown as RunConfig;
  if (typeof config.trace === 'string') config.trace = path.resolve(dir, config.trace);
  const tls = config.service !== false && config.service !== undefined ? config.service.tls : undefined;
  if (tls !== undefined) {
    for (const k of ['cert', 'key', 'clientCa'] as const) if (tls[k] !== undefined) tls[k] = path.resolve(dir, tls[k]!);
  }
  return config;
}

export function loadHandler(modulePath: string): Handler {
  const mod = require(path.resolve(modulePath)) as Record<string, unknown> | ((...a: unknown[]) => unknown);
  const candidate = typeof mod === 'function' ? mod : mod['handler'] ?? mod['default'];
  if (typeof candidate !== 'function') {
    throw new RunConfigError('handler', `${modulePath} must export a function (module.exports, exports.handler or exports.default)`);
  }
  return candidate as Handler;
}

export function registerRun(program: Command): void {
  const [defaultHost, defaultPort] = DEFAULT_SERVICE_ADDRESS.split(':');
  program
    .command('run')
    .description('run a consumer from a JSON config file and a handler module, with its state service and metrics, until SIGINT/SIGTERM')
    .argument('<config>', 'JSON config: brokers, groupId, topics, ledger, and optional consumer, service and metrics settings')
    .argument('<handler>', 'a module exporting the handler (message, tx) => Promise<void>')
    .action(async (configFile: string, handlerFile: string) => {
      const config = readRunConfig(configFile);
      const handler = loadHandler(handlerFile);
      const kafka = new Kafka({ clientId: config.clientId ?? `htmqc-${process.pid}`, brokers: config.brokers, logLevel: logLevel.ERROR });
      const ledger = openSqliteLedger({ path: config.ledger });
      const consumer = createConsumer({
        kafka, groupId: config.groupId, topics: config.topics, ledger, handler, transitions: config.service !== false,
        ...(config.maxInFlightPerPartition === undefined ? {} : { maxInFlightPerPartition: config.maxInFlightPerPartition }),
        ...(config.maxRetries === undefined ? {} : { maxRetries: config.maxRetries }),
        ...(config.retryBackoff === undefined ? {} : { retryBackoff: config.retryBackoff }),
        ...(config.deadLetterTopic === undefined ? {} : { deadLetterTopic: config.deadLetterTopic }),
        ...(config.trace === undefined ? {} : { trace: config.trace }),
        ...(config.core === undefined ? {} : { core: config.core }),
        onError: (e) => process.stderr.write(
          `htmqc run: ${e instanceof ConsumerFatalError ? 'fatal' : 'recovered'}: ${e instanceof Error ? e.message : String(e)}\n`),
      });
      const brokerView = new BrokerPoller({ kafka, groupId: config.groupId, topics: config.topics });
      let service: StateService | undefined;
      let metrics: MetricsServer | undefined;
      if (config.service !== false) {
        const s = config.service ?? {};
        const tls = s.tls === undefined ? undefined : {
          cert: fs.readFileSync(s.tls.cert), key: fs.readFileSync(s.tls.key),
          ...(s.tls.clientCa === undefined ? {} : { clientCa: fs.readFileSync(s.tls.clientCa) }),
        };
        service = await startStateService(consumer, {
          host: s.host ?? defaultHost!, port: s.port ?? Number(defaultPort), brokerView, ledger,
          ...(s.token === undefined ? {} : { token: s.token }), ...(tls === undefined ? {} : { tls }),
        });
        process.stdout.write(`htmqc run: state service on ${service.address}${tls ? ' (TLS)' : ''}\n`);
      }
      if (config.metrics !== false) {
        const m = config.metrics ?? {};
        metrics = await startMetricsServer(consumer, { host: m.host ?? '127.0.0.1', port: m.port ?? 9471, brokerView });
        process.stdout.write(`htmqc run: metrics on ${metrics.url}\n`);
      }
      await consumer.start();
      process.stdout.write(`htmqc run: consuming ${config.topics.join(', ')} as group ${config.groupId}\n`);
      // Until a signal, or until the consumer stops on its own (a fatal ledger error, already reported by onError).
      const fatal = await new Promise<ConsumerFatalError | undefined>((resolve) => {
        process.once('SIGINT', () => resolve(undefined));
        process.once('SIGTERM', () => resolve(undefined));
        void consumer.stopped.then(resolve);
      });
      process.stdout.write(fatal === undefined ? 'htmqc run: stopping\n' : 'htmqc run: the consumer stopped on a fatal error\n');
      await consumer.stop();
      await service?.close();
      await metrics?.close();
      await brokerView.stop();
      await ledger.close();
      if (fatal !== undefined) process.exitCode = 1;
    });
}
