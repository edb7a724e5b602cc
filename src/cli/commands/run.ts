// `htmqc run <config.json> <handler-module>`: one consumer process with its
// ledger (SQLite or PostgreSQL: ledger-config.ts), its state service and its
// metrics endpoint.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { ConsumerFatalError, createConsumer, type Handler } from '../../index';
import { startMetricsServer, type MetricsServer } from '../../metrics';
import { BrokerPoller, startStateService, type StateService } from '../../service';
import { ConfigError } from '../../runtime/errors';
import { CONSUMER_SETTING_KEYS, validateSettings, type ConsumerSettings } from '../../runtime/config';
import { describeValue, unknownKeys } from '../../util/options';
import { DEFAULT_SERVICE_ADDRESS } from './client-options';
import { hostPortProblem } from './flags';
import { describeLedger, LedgerConfigError, openConfiguredLedger, parseLedgerConfig, type LedgerConfig } from './ledger-config';

/** The JSON file `htmqc run` reads (schema/htmqc-run.schema.json), checked whole before anything opens.  Paths are relative to the file. */
export interface RunConfig extends ConsumerSettings {
  brokers: string[];
  clientId?: string;
  /** The ledger: a SQLite file path, or { backend: 'sqlite' | 'postgres', ... } (ledger-config.ts). */
  ledger: LedgerConfig;
  /** The state service, or false.  Default 127.0.0.1:9470. */
  service: false | ServiceConfig;
  /** The metrics endpoint, or false.  Default 127.0.0.1:9471. */
  metrics: false | EndpointConfig;
}

export interface EndpointConfig { host: string; port: number }
export interface ServiceConfig extends EndpointConfig { token?: string; tls?: { cert: string; key: string; clientCa?: string } }

/** A config (or handler module) error: `<file>: <field> <what is wrong>`; `field` is the JSON path (`service.tls.cert`). */
export class RunConfigError extends Error {
  constructor(readonly field: string, message: string, readonly file?: string) {
    super(`${file === undefined ? '' : `${file}: `}${field} ${message}`);
    this.name = 'RunConfigError';
  }
}

export const DEFAULT_METRICS_PORT = 9471;
const [DEFAULT_SERVICE_HOST, DEFAULT_SERVICE_PORT] = DEFAULT_SERVICE_ADDRESS.split(':') as [string, string];

/** Keys only `htmqc run` has; with CONSUMER_SETTING_KEYS, every top-level key of the file ($schema: for editors, not read). */
export const RUN_ONLY_KEYS = ['$schema', 'brokers', 'clientId', 'ledger', 'service', 'metrics'] as const;
export const RUN_CONFIG_KEYS: readonly string[] = [...RUN_ONLY_KEYS, ...CONSUMER_SETTING_KEYS];
export const SERVICE_KEYS = ['host', 'port', 'token', 'tls'] as const;
export const TLS_KEYS = ['cert', 'key', 'clientCa'] as const;
export const METRICS_KEYS = ['host', 'port'] as const;
/** The ConsumerConfig keys the file does not hold, and what `htmqc run` passes for each instead. */
export const CONSUMER_KEYS_SET_BY_RUN: Readonly<Record<string, string>> = {
  kafka: 'a kafkajs client for brokers and clientId',
  ledger: 'the ledger the ledger section opens',
  handler: 'the <handler> module',
  transitions: 'on while the state service is',
  onError: 'a line on stderr',
  consumerOptions: 'the kafkajs defaults',
};

/** Reads and checks the whole config file; an `{ "env": NAME }` url of the ledger is read from `env`.  Opens nothing. */
export function readRunConfig(file: string, env: NodeJS.ProcessEnv = process.env): RunConfig {
  const fail = (field: string, message: string): never => { throw new RunConfigError(field, message, file); };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail('<config>', code === undefined ? `is not JSON: ${e instanceof Error ? e.message : String(e)}` : `cannot be read (${code})`);
  }
  const c = object(raw, '(the top level)', fail);
  strict(c, '', RUN_CONFIG_KEYS, fail);
  const brokers = c['brokers'];
  if (!Array.isArray(brokers) || brokers.length === 0) fail('brokers', `must be a non-empty array of "host:port" strings, got ${describeValue(brokers)}`);
  (brokers as unknown[]).forEach((b, i) => {
    if (typeof b !== 'string') fail(`brokers[${i}]`, `must be a "host:port" string, got ${describeValue(b)}`);
    const problem = hostPortProblem(b as string);
    if (problem !== undefined) fail(`brokers[${i}]`, problem);
  });
  const clientId = c['clientId'];
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) fail('clientId', `must be a non-empty string, got ${describeValue(clientId)}`);
  const dir = path.dirname(path.resolve(file));
  let settings: ConsumerSettings;
  try {
    settings = validateSettings(c);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.field, e.message.slice(`invalid consumer configuration: ${e.field} `.length));
    throw e;
  }
  let ledger: LedgerConfig;
  try {
    ledger = parseLedgerConfig(c['ledger'], dir, env);
  } catch (e) {
    if (e instanceof LedgerConfigError) fail(e.field, e.message.slice(e.field.length + 2));
    throw e;
  }
  if (settings!.trace !== undefined) {
    const trace = path.resolve(dir, settings!.trace);
    if (!isDirectory(path.dirname(trace))) fail('trace', `is in a directory that does not exist: ${path.dirname(trace)}`);
    settings = { ...settings!, trace };
  }
  const service = endpoint(c['service'], 'service', SERVICE_KEYS, DEFAULT_SERVICE_HOST, Number(DEFAULT_SERVICE_PORT), fail) as false | ServiceConfig;
  if (service !== false) {
    const s = c['service'] as Record<string, unknown> | undefined ?? {};
    if (s['token'] !== undefined) {
      if (typeof s['token'] !== 'string' || s['token'] === '') fail('service.token', `must be a non-empty string, got ${describeValue(s['token'])}`);
      service.token = s['token'] as string;
    }
    if (s['tls'] !== undefined) {
      const t = object(s['tls'], 'service.tls', fail);
      strict(t, 'service.tls.', TLS_KEYS, fail);
      const files: Record<string, string> = {};
      for (const k of TLS_KEYS) {
        if (t[k] === undefined) {
          if (k !== 'clientCa') fail(`service.tls.${k}`, 'is missing (TLS takes a PEM cert and key)');
          continue;
        }
        if (typeof t[k] !== 'string' || t[k] === '') fail(`service.tls.${k}`, `must be the path of a PEM file, got ${describeValue(t[k])}`);
        files[k] = path.resolve(dir, t[k] as string);
        const problem = unreadable(files[k]!);
        if (problem !== undefined) fail(`service.tls.${k}`, problem);
      }
      service.tls = { cert: files['cert']!, key: files['key']!, ...(files['clientCa'] === undefined ? {} : { clientCa: files['clientCa'] }) };
    }
  }
  const metrics = endpoint(c['metrics'], 'metrics', METRICS_KEYS, '127.0.0.1', DEFAULT_METRICS_PORT, fail);
  if (service !== false && metrics !== false && service.port !== 0 && service.port === metrics.port && service.host === metrics.host) {
    fail('metrics.port', `is ${metrics.port}, the port of the state service too (service.port); give them different ports`);
  }
  return {
    ...settings!, brokers: brokers as string[], ...(clientId === undefined ? {} : { clientId: clientId as string }), ledger: ledger!, service, metrics,
  };
}

type Fail = (field: string, message: string) => never;

function object(v: unknown, field: string, fail: Fail): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, `must be a JSON object, got ${describeValue(v)}`);
  return v as Record<string, unknown>;
}

function strict(o: Record<string, unknown>, prefix: string, known: readonly string[], fail: Fail): void {
  const unknown = unknownKeys(o, known);
  if (unknown.length > 0) fail(`${prefix}${unknown[0]!.key}`, unknown[0]!.message);
}

/** `false`, absent (the defaults) or `{ host, port, ... }`; port 0 asks the system for a free one. */
function endpoint(v: unknown, field: string, keys: readonly string[], host: string, port: number, fail: Fail): false | EndpointConfig {
  if (v === false) return false;
  if (v === undefined) return { host, port };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, `must be false (off) or an object { "host": ..., "port": ... }, got ${describeValue(v)}`);
  const o = v as Record<string, unknown>;
  strict(o, `${field}.`, keys, fail);
  if (o['host'] !== undefined && (typeof o['host'] !== 'string' || o['host'].trim() === '')) fail(`${field}.host`, `must be a host name or address, got ${describeValue(o['host'])}`);
  const p = o['port'];
  if (p !== undefined && (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 65535)) fail(`${field}.port`, `must be an integer in 0..65535 (0: any free port), got ${describeValue(p)}`);
  return { host: (o['host'] as string | undefined) ?? host, port: (p as number | undefined) ?? port };
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function unreadable(file: string): string | undefined {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return fs.statSync(file).isFile() ? undefined : `names ${file}, which is not a file`;
  } catch (e) {
    return `names ${file}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
}

/**
 * Refuses a port another process holds, naming the config field, before the
 * ledger or anything else is opened.  A probe, so a process that takes the
 * port between this check and the real bind is reported by the bind (see
 * bindError), with the same message.
 */
export async function checkPortsFree(config: RunConfig, file: string): Promise<void> {
  const endpoints: [string, EndpointConfig][] = [];
  if (config.service !== false) endpoints.push(['service', config.service]);
  if (config.metrics !== false) endpoints.push(['metrics', config.metrics]);
  for (const [field, e] of endpoints) {
    if (e.port === 0) continue;
    const code = await new Promise<string | undefined>((resolve) => {
      const server = net.createServer();
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
      server.listen({ host: e.host, port: e.port, exclusive: true }, () => server.close(() => resolve(undefined)));
    });
    if (code !== undefined) throw bindError(field, e, code, file);
  }
}

/** The message for a port that cannot be bound: the field, the address and what to do. */
export function bindError(field: 'service' | 'metrics' | string, e: EndpointConfig, code: string, file: string): RunConfigError {
  const what = field === 'service' ? 'the state service' : 'the metrics endpoint';
  const why = code === 'EADDRINUSE' ? 'is already in use (another htmqc run?)' : `cannot be bound (${code})`;
  return new RunConfigError(`${field}.port`, `${e.port}: ${e.host}:${e.port}, for ${what}, ${why}; set another ${field}.port (0 picks a free one) or "${field}": false`, file);
}

/** The handler module's file name extensions node ${process.version} cannot load without a loader. */
const TYPESCRIPT = /\.(ts|mts|cts|tsx)$/;

/**
 * Loads the handler: module.exports, exports.handler or exports.default.
 * CommonJS is loaded with require, an ES module (.mjs, or "type": "module")
 * with import().  Every failure names the file and says why.
 */
export async function loadHandler(modulePath: string): Promise<Handler> {
  const file = path.resolve(modulePath);
  const fail = (message: string): never => { throw new RunConfigError('handler', message, modulePath); };
  if (TYPESCRIPT.test(file)) {
    fail(`is TypeScript, which node ${process.version} does not load: compile it to JavaScript (e.g. npx tsc ${modulePath}) and pass the .js file`);
  }
  const problem = unreadable(file);
  if (problem !== undefined) fail(problem.replace(/^names /, 'is '));
  let mod: unknown;
  try {
    mod = file.endsWith('.mjs') ? await importModule(pathToFileURL(file).href) : require(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_REQUIRE_ESM') {
      mod = await importModule(pathToFileURL(file).href).catch((err: unknown) => fail(loadFailure(err, file)));
    } else {
      fail(loadFailure(e, file));
    }
  }
  const m = mod as Record<string, unknown> | ((...a: unknown[]) => unknown);
  const candidate = typeof m === 'function' ? m : m['handler'] ?? (typeof m['default'] === 'function' ? m['default'] : (m['default'] as Record<string, unknown> | undefined)?.['handler']);
  if (typeof candidate !== 'function') {
    fail('must export a function (module.exports = async (message, tx) => ..., exports.handler or export default); ' +
      `it exports ${typeof m === 'object' && m !== null && Object.keys(m).length > 0 ? Object.keys(m).join(', ') : 'nothing'}`);
  }
  return candidate as Handler;
}

// A real import() (tsc compiles import() to require() under "module": "commonjs").
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** Why loading failed: a syntax error with the line it is on, or what the module threw. */
function loadFailure(e: unknown, file: string): string {
  const err = e as Error;
  if (err instanceof SyntaxError || err?.name === 'SyntaxError') {
    const where = (err.stack ?? '').split('\n').find((l) => l.startsWith(file) || l.startsWith(pathToFileURL(file).href));
    return `cannot be loaded: SyntaxError: ${err.message}${where === undefined ? '' : ` (at ${where.replace(/^file:\/\//, '')})`}`;
  }
  return `cannot be loaded: it threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(e)}`;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a consumer from a JSON config file and a handler module, with its state service and metrics, until SIGINT/SIGTERM')
    .argument('<config>', 'JSON config: brokers, groupId, topics, ledger, and optional consumer, service and metrics settings')
    .argument('<handler>', 'a module exporting the handler (message, tx) => Promise<void>')
    .action(async (configFile: string, handlerFile: string) => {
      // Everything that can be wrong with the inputs is found before anything is opened or written.
      const config = readRunConfig(configFile);
      const handler = await loadHandler(handlerFile);
      await checkPortsFree(config, configFile);
      const tls = config.service === false || config.service.tls === undefined ? undefined : {
        cert: fs.readFileSync(config.service.tls.cert), key: fs.readFileSync(config.service.tls.key),
        ...(config.service.tls.clientCa === undefined ? {} : { clientCa: fs.readFileSync(config.service.tls.clientCa) }),
      };
      const kafka = new Kafka({ clientId: config.clientId ?? `htmqc-${process.pid}`, brokers: config.brokers, logLevel: logLevel.ERROR });
      const ledger = await openConfiguredLedger(config.ledger);
      process.stdout.write(`htmqc run: ${describeLedger(config.ledger)}\n`);
      const settings = Object.fromEntries(CONSUMER_SETTING_KEYS.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]));
      const consumer = createConsumer({
        ...settings as unknown as ConsumerSettings, kafka, ledger, handler, transitions: config.service !== false,
        onError: (e) => process.stderr.write(
          `htmqc run: ${e instanceof ConsumerFatalError ? 'fatal' : 'recovered'}: ${e instanceof Error ? e.message : String(e)}\n`),
      });
      const brokerView = new BrokerPoller({ kafka, groupId: config.groupId, topics: config.topics });
      let service: StateService | undefined;
      let metrics: MetricsServer | undefined;
      const bound = async <T>(field: 'service' | 'metrics', e: EndpointConfig, start: () => Promise<T>): Promise<T> => {
        try {
          return await start();
        } catch (err) {
          const text = String((err as Error)?.message ?? err);
          const code = (err as NodeJS.ErrnoException).code ?? /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(text)?.[1];
          if (typeof code === 'string' && code.startsWith('E')) throw bindError(field, e, code, configFile);
          throw err;
        } 
      };
      try {
        if (config.service !== false) {
          const s = config.service;
          service = await bound('service', s, () => startStateService(consumer, {
            host: s.host, port: s.port, brokerView, ledger, ...(s.token === undefined ? {} : { token: s.token }), ...(tls === undefined ? {} : { tls }),
          }));
          process.stdout.write(`htmqc run: state service on ${service.address}${tls ? ' (TLS)' : ''}\n`);
        }
        if (config.metrics !== false) {
          const m = config.metrics;
          metrics = await bound('metrics', m, () => startMetricsServer(consumer, { host: m.host, port: m.port, brokerView }));
          process.stdout.write(`htmqc run: metrics on ${metrics.url}\n`);
        }
      } catch (e) {
        await service?.close();
        await brokerView.stop();
        await ledger.close();
        throw e;
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
