// `htmqc run <config.json> <handler-module>`: one consumer process with its
// ledger (SQLite or PostgreSQL: ledger-config.ts), its state service and its
// metrics endpoint.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { ConsumerFatalError, createConsumer, type Handler } from '../../index';
import { startMetricsServer, type MetricsServer } from '../../metrics';
import { BrokerPoller, startStateService, type StateService } from '../../service';
import { unknownKeys } from '../../util/options';
import { DEFAULT_SERVICE_ADDRESS } from './client-options';
import { describeLedger, LedgerConfigError, openConfiguredLedger, parseLedgerConfig, type LedgerConfig } from './ledger-config';

/** The JSON file `htmqc run` reads.  Paths are relative to the file. */
export interface RunConfig {
  brokers: string[];
  groupId: string;
  topics: string[];
  /** The ledger: a SQLite file path, or { backend: 'sqlite' | 'postgres', ... } (ledger-config.ts). */
  ledger: LedgerConfig;
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

const RUN_CONFIG_KEYS: readonly (keyof RunConfig)[] = [
  'brokers', 'groupId', 'topics', 'ledger', 'clientId', 'maxInFlightPerPartition', 'maxRetries', 'retryBackoff', 'deadLetterTopic', 'trace',
  'core', 'service', 'metrics',
];

/** Reads and checks a config file; an `{ "env": NAME }` url of the ledger is read from `env`. */
export function readRunConfig(file: string, env: NodeJS.ProcessEnv = process.env): RunConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RunConfigError('config', `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (raw === null || typeof raw !== 'object') throw new RunConfigError('config', 'must be a JSON object');
  const c = raw as Record<string, unknown>;
  const unknown = unknownKeys(c, RUN_CONFIG_KEYS);
  if (unknown.length > 0) throw new RunConfigError(unknown[0]!.key, unknown[0]!.message);
  if (!Array.isArray(c['brokers']) || c['brokers'].length === 0 || !c['brokers'].every((b) => typeof b === 'string')) {
    throw new RunConfigError('brokers', 'must be a non-empty array of "host:port" strings');
  }
  const dir = path.dirname(path.resolve(file));
  let ledger: LedgerConfig;
  try {
    ledger = parseLedgerConfig(c['ledger'], dir, env);
  } catch (e) {
    if (e instanceof LedgerConfigError) throw new RunConfigError(e.field, e.message.slice(e.field.length + 2));
    throw e;
  }
  const config = { ...c, ledger } as unknown as RunConfig;
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
      const ledger = await openConfiguredLedger(config.ledger);
      process.stdout.write(`htmqc run: ${describeLedger(config.ledger)}\n`);
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
