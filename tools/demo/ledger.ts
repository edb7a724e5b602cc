// The demo's ledger on either backend: the embedded SQLite file (the
// default) or a fresh schema of the local PostgreSQL server (tools/postgres,
// `--ledger postgres`).  The parent creates it, the workers open it, and the
// audit reads its rows from a connection of its own, not through the ledger.

import Database from 'better-sqlite3';
import { Client, types } from 'pg';
import { openPostgresLedger, openSqliteLedger, type LedgerPort } from '../../src';

export type DemoLedger =
  | { readonly backend: 'sqlite'; readonly path: string }
  | { readonly backend: 'postgres'; readonly url: string; readonly schema: string };

/** The handler's one effect in each backend's placeholder dialect ("offset" is reserved in PostgreSQL). */
export const DEMO_EFFECT = {
  sqlite: 'INSERT INTO demo_effects (topic, partition, "offset", pid) VALUES (?, ?, ?, ?)',
  postgres: 'INSERT INTO demo_effects (topic, partition, "offset", pid) VALUES ($1, $2, $3, $4)',
} as const;

export const DEMO_EFFECTS_DDL = {
  sqlite: 'CREATE TABLE IF NOT EXISTS demo_effects (topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL, pid INTEGER NOT NULL)',
  postgres: 'CREATE TABLE IF NOT EXISTS demo_effects (topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL, pid integer NOT NULL)',
} as const;

export async function openDemoLedger(l: DemoLedger): Promise<LedgerPort> {
  if (l.backend === 'sqlite') return openSqliteLedger({ path: l.path, busyTimeoutMs: 10000, userSchema: DEMO_EFFECTS_DDL.sqlite });
  return openPostgresLedger({ connectionString: l.url, schema: l.schema, userSchema: DEMO_EFFECTS_DDL.postgres });
}

type Row = Record<string, unknown>;
type Query = (sql: string, ...params: unknown[]) => Promise<Row[]>;

// bigint columns as numbers: the demo's offsets are far below 2^53.
const pgTypes = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : types.getTypeParser(oid, format ?? 'text')) };

/** Runs `use` with read-only queries written once for both backends: `$1, $2, ...` each used once, in order. */
async function inspect<T>(l: DemoLedger, use: (q: Query) => Promise<T>): Promise<T> {
  if (l.backend === 'sqlite') {
    const d = new Database(l.path, { readonly: true, timeout: 2000 });
    try {
      return await use((sql, ...params) => Promise.resolve(d.prepare(sql.replace(/\$\d+/g, '?')).all(...params) as Row[]));
    } finally {
      d.close();
    }
  }
  const c = new Client({ connectionString: l.url, options: `-c search_path=${l.schema}`, types: pgTypes });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await use(async (sql, ...params) => (await c.query(sql, params)).rows as Row[]);
  } finally {
    await c.end();
  }
}

/** The sum of the topic's ledger next; 0 while it cannot be read. */
export async function ledgerProgress(l: DemoLedger, topic: string): Promise<number> {
  try {
    return await inspect(l, async (q) => Number((await q('SELECT coalesce(sum(next), 0) AS n FROM htmqc_partitions WHERE topic = $1', topic))[0]?.['n'] ?? 0));
  } catch {
    return 0;
  }
}

export interface Verdict { expected: number; committed: number; duplicated: number; lost: number; effects: number }

/** Ledger rows against the topic's end offsets: every offset below its end has one outcome and one effect. */
export function audit(l: DemoLedger, topic: string, ends: number[]): Promise<Verdict> {
  return inspect(l, async (q) => {
    const expected = ends.reduce((a, b) => a + b, 0);
    let committed = 0;
    let lost = 0;
    for (let p = 0; p < ends.length; p++) {
      const end = ends[p]!;
      const next = Number((await q('SELECT next FROM htmqc_partitions WHERE topic = $1 AND partition = $2', topic, p))[0]?.['next'] ?? 0);
      for (const r of await q('SELECT first, next FROM htmqc_ranges WHERE topic = $1 AND partition = $2 AND first < $3', topic, p, end)) {
        committed += Math.min(Number(r['next']), end) - Number(r['first']);
      }
      const distinct = Number((await q('SELECT count(DISTINCT "offset") AS n FROM demo_effects WHERE topic = $1 AND partition = $2 AND "offset" < $3',
        topic, p, end))[0]!['n']);
      lost += end - Math.min(distinct, next, end);
    }
    const duplicated = Number((await q(
      'SELECT coalesce(sum(c - 1), 0) AS n FROM (SELECT count(*) AS c FROM demo_effects WHERE topic = $1 GROUP BY partition, "offset") AS d WHERE c > 1',
      topic))[0]!['n']);
    const effects = Number((await q('SELECT count(*) AS n FROM demo_effects WHERE topic = $1', topic))[0]!['n']);
    return { expected, committed, duplicated, lost, effects };
  });
}
