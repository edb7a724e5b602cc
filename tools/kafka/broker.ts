// Typed wrapper around tools/kafka/broker.sh for tests and tooling: start,
// stop, kill -9 and restart the local single-node KRaft broker (Kafka 3.9 or
// 4.x, chosen by HTMQC_KAFKA_VERSION or the kafkaVersion option), and measure
// how long each took. tools/kafka/cluster.ts does the same for three nodes. Every call spawns the script, so the script stays the one
// place that knows how the broker is run.
//
// Compiled to dist/tools/kafka/broker.js; the repo root is found by walking up
// to the directory that holds package.json, so it works from src and dist.

import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface BrokerOptions {
  /** Client port on 127.0.0.1 (HTMQC_KAFKA_PORT, default 19092). */
  port?: number;
  /** Controller port (HTMQC_KAFKA_CONTROLLER_PORT, default port + 1). */
  controllerPort?: number;
  /** Data dir (HTMQC_KAFKA_DIR, default <repo>/.cache/kafka-run/<port>). */
  dataDir?: string;
  /** Seconds `start` waits for the broker to serve (HTMQC_KAFKA_START_TIMEOUT, default 60). */
  startTimeoutSec?: number;
  /** Seconds `stop` waits after SIGTERM before SIGKILL (HTMQC_KAFKA_STOP_GRACE, default 20). */
  stopGraceSec?: number;
  /** Extra server.properties lines; they override the script's settings. */
  overrides?: string[];
  /** Kafka release: '3.9.1' (default), '4' (the newest 4.x of tools/kafka/versions.env) or '4.N.M' (HTMQC_KAFKA_VERSION). */
  kafkaVersion?: string;
  /** Echo the script's output to this process's stderr as it runs. */
  verbose?: boolean;
}

export interface BrokerStart {
  /** The broker JVM's pid. */
  pid: number;
  /** Launch to first successful metadata round-trip, as measured by broker.sh. */
  startupMs: number;
  /** Wall time of the whole script call (includes formatting, stopping on restart). */
  wallMs: number;
  /** True when a broker was already running and answering; nothing was started. */
  alreadyRunning: boolean;
  /** "127.0.0.1:<port>" */
  address: string;
  /** The Kafka release that serves, e.g. "3.9.1" or "4.4.0". */
  kafkaVersion: string;
}

/** Durations (ms) of every operation this process ran, in order; tests print them. */
export interface BrokerTimings {
  start: number[];
  restart: number[];
  stop: number[];
  kill9: number[];
}

export const brokerTimings: BrokerTimings = { start: [], restart: [], stop: [], kill9: [] };

export class BrokerScriptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(message);
    this.name = 'BrokerScriptError';
  }
}

let cachedRoot: string | undefined;

/** The repository root: the nearest ancestor of this file holding package.json. */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return (cachedRoot = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
}

export function brokerScript(): string {
  return path.join(repoRoot(), 'tools', 'kafka', 'broker.sh');
}

function portOf(opts: BrokerOptions): number {
  if (opts.port !== undefined) return opts.port;
  const env = process.env.HTMQC_KAFKA_PORT;
  return env ? Number(env) : 19092;
}

/** "127.0.0.1:<port>", the bootstrap address clients use. */
export function brokerAddress(opts: BrokerOptions = {}): string {
  return `127.0.0.1:${portOf(opts)}`;
}

/** The broker's data dir (server.properties, logs, pid file, server.log). */
export function brokerDataDir(opts: BrokerOptions = {}): string {
  return (
    opts.dataDir ??
    process.env.HTMQC_KAFKA_DIR ??
    path.join(repoRoot(), '.cache', 'kafka-run', String(portOf(opts)))
  );
}

/** The pid recorded in the data dir's pid file, or null (says nothing about liveness). */
export function brokerPidFromFile(opts: BrokerOptions = {}): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(brokerDataDir(opts), 'broker.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The Kafka release the scripts run for this version selector (default: the
 * HTMQC_KAFKA_VERSION of this process), resolved by tools/kafka/common.sh;
 * throws with the script's message for a selector it does not know.
 */
export function resolveKafkaVersion(selector: string | undefined = process.env.HTMQC_KAFKA_VERSION): {
  version: string;
  generation: 3 | 4;
  libsDir: string;
} {
  let out: string;
  try {
    out = execFileSync(path.join(repoRoot(), 'tools', 'kafka', 'common.sh'), ['version'], {
      env: { ...process.env, HTMQC_KAFKA_VERSION: selector ?? '' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr;
    throw new Error(stderr ? stderr.trim() : String(e));
  }
  const [version, libsDir] = out.trim().split(' ');
  return { version, generation: version.startsWith('3.') ? 3 : 4, libsDir };
}

function scriptEnv(opts: BrokerOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.kafkaVersion !== undefined) env.HTMQC_KAFKA_VERSION = opts.kafkaVersion;
  env.HTMQC_KAFKA_PORT = String(portOf(opts));
  env.HTMQC_KAFKA_DIR = brokerDataDir(opts);
  if (opts.controllerPort !== undefined) env.HTMQC_KAFKA_CONTROLLER_PORT = String(opts.controllerPort);
  if (opts.startTimeoutSec !== undefined) env.HTMQC_KAFKA_START_TIMEOUT = String(opts.startTimeoutSec);
  if (opts.stopGraceSec !== undefined) env.HTMQC_KAFKA_STOP_GRACE = String(opts.stopGraceSec);
  if (opts.overrides !== undefined) env.HTMQC_KAFKA_OVERRIDES = opts.overrides.join('\n');
  return env;
}

interface ScriptResult {
  code: number | null;
  output: string;
  wallMs: number;
}

type Subcommand = 'start' | 'stop' | 'kill9' | 'restart' | 'status' | 'wipe';

function runScript(cmd: Subcommand, opts: BrokerOptions): Promise<ScriptResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(brokerScript(), [cmd], {
      env: scriptEnv(opts),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      if (opts.verbose) process.stderr.write(text);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, wallMs: Date.now() - t0 }));
  });
}

async function runOrThrow(cmd: Subcommand, opts: BrokerOptions): Promise<ScriptResult> {
  const r = await runScript(cmd, opts);
  if (r.code !== 0) {
    throw new BrokerScriptError(
      `tools/kafka/broker.sh ${cmd} failed (exit ${r.code}) for ${brokerAddress(opts)}:\n${r.output}`,
      r.code,
      r.output,
    );
  }
  return r;
}

function parseStart(r: ScriptResult, opts: BrokerOptions): BrokerStart {
  const ready = /ready on \S+ \(pid (\d+)\) after (\d+) ms \(Kafka (\S+),/.exec(r.output);
  if (ready) {
    return {
      pid: Number(ready[1]),
      startupMs: Number(ready[2]),
      wallMs: r.wallMs,
      alreadyRunning: false,
      address: brokerAddress(opts),
      kafkaVersion: ready[3],
    };
  }
  const running = /already running on \S+ \(pid (\d+), Kafka (\S+),/.exec(r.output);
  if (running) {
    return {
      pid: Number(running[1]),
      startupMs: 0,
      wallMs: r.wallMs,
      alreadyRunning: true,
      address: brokerAddress(opts),
      kafkaVersion: running[2],
    };
  }
  throw new BrokerScriptError(`cannot parse broker.sh output:\n${r.output}`, r.code, r.output);
}

/** Starts the broker (idempotent) and resolves once it serves metadata requests. */
export async function startBroker(opts: BrokerOptions = {}): Promise<BrokerStart> {
  const started = parseStart(await runOrThrow('start', opts), opts);
  if (!started.alreadyRunning) brokerTimings.start.push(started.startupMs);
  return started;
}

/** Stops the broker if it runs (graceful, SIGKILL after the grace period), then starts it on the same data. */
export async function restartBroker(opts: BrokerOptions = {}): Promise<BrokerStart> {
  const started = parseStart(await runOrThrow('restart', opts), opts);
  brokerTimings.restart.push(started.startupMs);
  return started;
}

/** Stops the broker gracefully; resolves with the wall time in ms (no-op when not running). */
export async function stopBroker(opts: BrokerOptions = {}): Promise<number> {
  const r = await runOrThrow('stop', opts);
  brokerTimings.stop.push(r.wallMs);
  return r.wallMs;
}

/** SIGKILLs the broker (crash simulation), keeping its data; resolves with the killed pid or null. */
export async function kill9Broker(opts: BrokerOptions = {}): Promise<number | null> {
  const r = await runOrThrow('kill9', opts);
  brokerTimings.kill9.push(r.wallMs);
  const m = /killed pid (\d+)/.exec(r.output);
  return m ? Number(m[1]) : null;
}

/** Whether the broker of this data dir runs, and its pid. */
export async function brokerStatus(opts: BrokerOptions = {}): Promise<{ running: boolean; pid: number | null }> {
  const r = await runScript('status', opts);
  const m = /running on \S+ \(pid (\d+)/.exec(r.output);
  return { running: r.code === 0, pid: r.code === 0 && m ? Number(m[1]) : null };
}

/** Stops the broker and deletes its data dir. */
export async function wipeBroker(opts: BrokerOptions = {}): Promise<void> {
  await runOrThrow('wipe', opts);
}
