// The ledger backends the runtime integration tests run on: the embedded
// SQLite ledger and the PostgreSQL ledger on the real local server
// (tools/postgres).  A backend fixture prepares a fresh ledger with the
// tests' effect table, opens it (in the test or in a worker process, from a
// serialisable LedgerSpec) and inspects its rows from outside the ledger, so
// the exactly-once audit reads the tables themselves rather than the code
// under test.  HTMQC_TEST_LEDGER selects the backends: sqlite (default),
// postgres, or both ("sqlite,postgres").

import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Client, types } from 'pg';
import { openPostgresLedger, openSqliteLedger, type LedgerPort, type Statement } from '../../../src';
import { pgUrl, startPg } from '../../../tools/postgres/pg';

export type BackendName = 'sqlite' | 'postgres';

/** How a process opens the test's ledger (passed to workers as JSON). */
export type LedgerSpec =
  | { readonly backend: 'sqlite'; readonly path: string }
  | { readonly backend: 'postgres'; readonly url: string; readonly schema: string };

export interface LedgerBackend {
  readonly name: BackendName;
  /** The test effect, one row of test_effects: (topic, partition, offset, pid, value) in the backend's placeholder dialect. */
  readonly insertEffect: string;
  /** What the backend's error says about a missing table (the fatal-error scenario). */
  missingTable(table: string): RegExp;
  /** Starts what the backend needs (the PostgreSQL server; nothing for SQLite); idempotent. */
  up(): Promise<void>;
  /** A fresh, empty ledger with test_effects, unique to `tag`. */
  prepare(workDir: string, tag: string): Promise<LedgerSpec>;
}

const SQLITE_EFFECTS_DDL =
  'CREATE TABLE IF NOT EXISTS test_effects (topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL, pid INTEGER NOT NULL, value TEXT NOT NULL)';
// The effects' table as the ledger's userSchema creates it, in the transaction that creates htmqc's tables.
const POSTGRES_EFFECTS_DDL =
  'CREATE TABLE IF NOT EXISTS test_effects (topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL, pid integer NOT NULL, value text NOT NULL)';

const sqlite: LedgerBackend = {
  name: 'sqlite',
  insertEffect: 'INSERT INTO test_effects (topic, partition, "offset", pid, value) VALUES (?, ?, ?, ?, ?)',
  missingTable: (table) => new RegExp(`no such table: ${table}`),
  up: () => Promise.resolve(),
  prepare(workDir, tag) {
    const file = path.join(workDir, `${tag}.db`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec(SQLITE_EFFECTS_DDL);
    db.close();
    return Promise.resolve({ backend: 'sqlite', path: file });
  },
};

let pgStarted: Promise<unknown> | undefined;
let schemas = 0;

const postgres: LedgerBackend = {
  name: 'postgres',
  insertEffect: 'INSERT INTO test_effects (topic, partition, "offset", pid, value) VALUES ($1, $2, $3, $4, $5)',
  missingTable: (table) => new RegExp(`relation "${table}" does not exist .*SQLSTATE 42P01`),
  async up() {
    await (pgStarted ??= startPg().then((s) => console.log(`      PostgreSQL on ${s.url}${s.alreadyRunning ? ' (already running)' : ` in ${s.startupMs} ms`}`)));
  },
  async prepare(_workDir, tag) {
    const spec = { backend: 'postgres', url: pgUrl(), schema: `rt_${tag.replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${Date.now().toString(36)}_${schemas++}` } as const;
    const ledger = await openLedger(spec);
    await ledger.close();
    return spec;
  },
};

export const LEDGER_BACKENDS: Readonly<Record<BackendName, LedgerBackend>> = { sqlite, postgres };

/** The backends HTMQC_TEST_LEDGER names, in its order. */
export function ledgerBackends(): LedgerBackend[] {
  const names = (process.env['HTMQC_TEST_LEDGER'] ?? 'sqlite').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return names.map((n) => {
    if (n === 'sqlite' || n === 'postgres') return LEDGER_BACKENDS[n];
    throw new Error(`HTMQC_TEST_LEDGER: unknown backend ${JSON.stringify(n)} (sqlite, postgres, or both comma-separated)`);
  });
}

/** Opens the ledger a spec names, with the effects' table in its schema. */
export async function openLedger(spec: LedgerSpec): Promise<LedgerPort<Statement>> {
  if (spec.backend === 'sqlite') return openSqliteLedger({ path: spec.path, busyTimeoutMs: 10000 });
  return openPostgresLedger({ connectionString: spec.url, schema: spec.schema, userSchema: POSTGRES_EFFECTS_DDL });
}

type Row = Record<string, number | string | null>;

// Audit queries see bigint columns as numbers (the tests' offsets are far below 2^53).
const pgTypes = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : types.getTypeParser(oid, format ?? 'text')) };

/**
 * Runs read-only queries on the spec's database from a connection of its
 * own.  SQL is written once for both: `$1, $2, ...` each used once and in
 * order (rewritten to `?` for SQLite), identifiers quoted where PostgreSQL
 * reserves them ("offset").
 */
export async function inspect<T>(spec: LedgerSpec, use: (query: (sql: string, ...params: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T> {
  if (spec.backend === 'sqlite') {
    const db = new Database(spec.path, { readonly: true, timeout: 5000 });
    try {
      return await use((sql, ...params) => Promise.resolve(db.prepare(sql.replace(/\$\d+/g, '?')).all(...params) as Row[]));
    } finally {
      db.close();
    }
  }
  const c = new Client({ connectionString: spec.url, options: `-c search_path=${spec.schema}`, types: pgTypes });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await use(async (sql, ...params) => (await c.query(sql, params)).rows as Row[]);
  } finally {
    await c.end();
  }
}

/** The sum of the topic's ledger next over its partitions; 0 while the ledger cannot be read. */
export async function totalNext(spec: LedgerSpec, topic: string): Promise<number> {
  try {
    return await inspect(spec, async (q) => Number((await q('SELECT coalesce(sum(next), 0) AS n FROM htmqc_partitions WHERE topic = $1', topic))[0]?.['n'] ?? 0));
  } catch {
    return 0;
  }
}

/** Effect rows per pid of a topic. */
export function effectsByPid(spec: LedgerSpec, topic: string): Promise<Map<number, number>> {
  return inspect(spec, async (q) => new Map(
    (await q('SELECT pid, count(*) AS n FROM test_effects WHERE topic = $1 GROUP BY pid', topic)).map((r) => [Number(r['pid']), Number(r['n'])])));
}
