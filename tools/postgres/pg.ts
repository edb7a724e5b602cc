// Typed wrapper around tools/postgres/pg.sh for tests and tooling: start,
// stop, kill -9 and restart the local PostgreSQL server, and its connection
// string.  Every call spawns the script, so the script stays the one place
// that knows how the server is run (as tools/kafka/broker.ts does for Kafka).

import { spawn } from 'child_process';
import * as path from 'path';
import { repoRoot } from '../kafka/broker';

export interface PgServerOptions {
  /** TCP port on 127.0.0.1 (HTMQC_PG_PORT, default 15432). */
  port?: number;
  /** Cluster dir (HTMQC_PG_DIR, default <repo>/.cache/postgres/<port>). */
  dir?: string;
  /** Echo the script's output to this process's stderr as it runs. */
  verbose?: boolean;
}

export interface PgStart {
  /** The postmaster's pid. */
  pid: number;
  /** Launch to the first answered query, as measured by pg.sh (0 when it was running). */
  startupMs: number;
  /** True when a server was already running and answering; nothing was started. */
  alreadyRunning: boolean;
  /** True when the log of this start shows crash recovery ("automatic recovery in progress"). */
  recovered: boolean;
  /** The htmqc database's connection string. */
  url: string;
}

export class PgScriptError extends Error {
  constructor(message: string, readonly exitCode: number | null, readonly output: string) {
    super(message);
    this.name = 'PgScriptError';
  }
}

export function pgScript(): string {
  return path.join(repoRoot(), 'tools', 'postgres', 'pg.sh');
}

function portOf(opts: PgServerOptions): number {
  if (opts.port !== undefined) return opts.port;
  const env = process.env.HTMQC_PG_PORT;
  return env ? Number(env) : 15432;
}

/** The connection string of the htmqc database (what `pg.sh url` prints). */
export function pgUrl(opts: PgServerOptions = {}): string {
  return `postgres://htmqc@127.0.0.1:${portOf(opts)}/htmqc`;
}

type Subcommand = 'start' | 'stop' | 'kill' | 'restart' | 'status';

function run(cmd: Subcommand, opts: PgServerOptions): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HTMQC_PG_PORT: String(portOf(opts)) };
  if (opts.dir !== undefined) env.HTMQC_PG_DIR = opts.dir;
  return new Promise((resolve, reject) => {
    const child = spawn(pgScript(), [cmd], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      if (opts.verbose) process.stderr.write(text);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function runOrThrow(cmd: Subcommand, opts: PgServerOptions): Promise<string> {
  const r = await run(cmd, opts);
  if (r.code !== 0) {
    throw new PgScriptError(`tools/postgres/pg.sh ${cmd} failed (exit ${r.code}) for port ${portOf(opts)}:\n${r.output}`, r.code, r.output);
  }
  return r.output;
}

function parseStart(output: string, opts: PgServerOptions): PgStart {
  const ready = /ready on \S+ \(pid (\d+)\) after (\d+) ms(, after crash recovery)?/.exec(output);
  if (ready) {
    return { pid: Number(ready[1]), startupMs: Number(ready[2]), alreadyRunning: false, recovered: ready[3] !== undefined, url: pgUrl(opts) };
  }
  const running = /already running on \S+ \(pid (\d+)/.exec(output);
  if (running) return { pid: Number(running[1]), startupMs: 0, alreadyRunning: true, recovered: false, url: pgUrl(opts) };
  throw new PgScriptError(`cannot parse pg.sh output:\n${output}`, 0, output);
}

/** Starts the server (idempotent: a running one is fine) and resolves once it answers queries. */
export async function startPg(opts: PgServerOptions = {}): Promise<PgStart> {
  return parseStart(await runOrThrow('start', opts), opts);
}

/** SIGKILLs the postmaster if it runs, then starts it on the same data: crash recovery. */
export async function restartPg(opts: PgServerOptions = {}): Promise<PgStart> {
  return parseStart(await runOrThrow('restart', opts), opts);
}

/** Fast shutdown (no-op when not running). */
export async function stopPg(opts: PgServerOptions = {}): Promise<void> {
  await runOrThrow('stop', opts);
}

/** SIGKILLs the postmaster (crash simulation) and waits until every process of the cluster is gone; the killed pid or null. */
export async function killPg(opts: PgServerOptions = {}): Promise<number | null> {
  const m = /killed postmaster pid (\d+)/.exec(await runOrThrow('kill', opts));
  return m ? Number(m[1]) : null;
}

/** Whether the server of this cluster dir runs, and its pid. */
export async function pgStatus(opts: PgServerOptions = {}): Promise<{ running: boolean; pid: number | null }> {
  const r = await run('status', opts);
  const m = /running on \S+ \(pid (\d+)/.exec(r.output);
  return { running: r.code === 0, pid: r.code === 0 && m ? Number(m[1]) : null };
}
