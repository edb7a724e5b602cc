// The PostgreSQL ledger's group commit on the local server (make pg-up):
// round trips per commit, commits/s and effect rows/s of the adapter (two
// round trips: BEGIN + locking read, then effects + bookkeeping + COMMIT in
// one query string) against the naive protocol (one query per statement,
// each effect with its parameters), on the same tables and workload.
//
//   make bench-pg                       (or: node dist/bench/pg-ledger.js)
//   HTMQC_BENCH_COMMITS=200             commits per row
//
// Prints a table and one JSON line.  The server runs with fsync and
// synchronous_commit on (tools/postgres/pg.sh): each COMMIT waits for a WAL
// flush, on this machine's disk.

import { Client } from 'pg';
import { openPostgresLedger, type PostgresLedger } from '../src/ledger/postgres';
import type { LedgerWrite, Statement } from '../src/ledger/types';
import { pgUrl } from '../tools/postgres/pg';

const COMMITS = Number(process.env['HTMQC_BENCH_COMMITS'] ?? 200);
const EVENTS = 'CREATE TABLE IF NOT EXISTS events (topic text, partition integer, "offset" bigint, payload text, PRIMARY KEY (topic, partition, "offset"))';

interface Shape { readonly writes: number; readonly offsets: number }
interface Row {
  protocol: 'batched' | 'naive'; writes: number; offsets: number; commits: number;
  roundTripsPerCommit: number; commitsPerSec: number; rowsPerSec: number; msPerCommit: number;
}

function effect(topic: string, partition: number, offset: number): Statement {
  return { sql: 'INSERT INTO events (topic, partition, "offset", payload) VALUES ($1, $2, $3, $4)',
    params: [topic, partition, offset, `payload of ${topic}/${partition}@${offset}`] };
}

function writesOf(shape: Shape, epochs: number[], next: number[]): LedgerWrite<Statement>[] {
  const out: LedgerWrite<Statement>[] = [];
  for (let p = 0; p < shape.writes; p++) {
    const from = next[p]!;
    const outcomes = [];
    for (let i = 0; i < shape.offsets; i++) outcomes.push({ effects: [effect('bench', p, from + i)], deadLetter: null, absent: false });
    out.push({ topic: 'bench', partition: p, epoch: epochs[p]!, expectedNext: from, upTo: from + shape.offsets, outcomes });
    next[p] = from + shape.offsets;
  }
  return out;
}

/**
 * The naive protocol: BEGIN, one locking read per write, each effect as its
 * own parameterised query, one INSERT per range, one UPDATE per row, COMMIT.
 * Same checks, same rows; a round trip per query.
 */
async function naiveCommit(c: Client, writes: readonly LedgerWrite<Statement>[], counter: { n: number }): Promise<void> {
  const q = async (sql: string, params?: unknown[]): Promise<{ rows: { epoch: string; next: string }[] }> => {
    counter.n++;
    return c.query(sql, params);
  };
  await q('BEGIN');
  const sorted = [...writes].sort((a, b) => a.partition - b.partition);
  for (const w of sorted) {
    const row = (await q('SELECT epoch, next FROM htmqc_partitions WHERE topic = $1 AND partition = $2 FOR UPDATE', [w.topic, w.partition])).rows[0];
    if (row === undefined || Number(row.epoch) !== w.epoch || Number(row.next) !== w.expectedNext) throw new Error('naive: rejected');
  }
  for (const w of writes) {
    for (const o of w.outcomes) for (const s of o.effects ?? []) await q(s.sql, [...s.params]);
    await q('INSERT INTO htmqc_ranges (topic, partition, first, next, epoch) VALUES ($1, $2, $3, $4, $5)',
      [w.topic, w.partition, w.expectedNext, w.upTo, w.epoch]);
    await q('UPDATE htmqc_partitions SET next = $1, writer = $2 WHERE topic = $3 AND partition = $4', [w.upTo, w.epoch, w.topic, w.partition]);
  }
  await q('COMMIT');
}

async function fenceAll(ledger: PostgresLedger, shape: Shape): Promise<{ epochs: number[]; next: number[] }> {
  const epochs: number[] = [];
  const next: number[] = [];
  for (let p = 0; p < shape.writes; p++) {
    const f = await ledger.fence({ topic: 'bench', partition: p });
    epochs.push(f.epoch);
    next.push(f.next);
  }
  return { epochs, next };
}

async function runRow(protocol: Row['protocol'], shape: Shape): Promise<Row> {
  const schema = `bench_${protocol}_${shape.writes}x${shape.offsets}_${process.pid}`;
  const ledger = await openPostgresLedger({ connectionString: pgUrl(), schema, userSchema: EVENTS, poolSize: 1 });
  const client = new Client({ connectionString: pgUrl(), options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const { epochs, next } = await fenceAll(ledger, shape);
    const counter = { n: 0 };
    // Warm-up: connections open, statements prepared.
    for (let i = 0; i < 5; i++) {
      if (protocol === 'batched') await ledger.commit(writesOf(shape, epochs, next));
      else await naiveCommit(client, writesOf(shape, epochs, next), counter);
    }
    const rt0 = ledger.stats().roundTrips;
    counter.n = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < COMMITS; i++) {
      const writes = writesOf(shape, epochs, next);
      if (protocol === 'batched') {
        const results = await ledger.commit(writes);
        if (results.some((r) => r.status !== 'committed')) throw new Error(`bench: a write was not committed: ${JSON.stringify(results)}`);
      } else {
        await naiveCommit(client, writes, counter);
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const trips = protocol === 'batched' ? ledger.stats().roundTrips - rt0 : counter.n;
    const rows = COMMITS * shape.writes * shape.offsets;
    const check = await client.query<{ n: string }>('SELECT count(*) AS n FROM events');
    if (Number(check.rows[0]!.n) !== rows + 5 * shape.writes * shape.offsets) throw new Error('bench: effect rows missing');
    return {
      protocol, writes: shape.writes, offsets: shape.offsets, commits: COMMITS,
      roundTripsPerCommit: trips / COMMITS, commitsPerSec: COMMITS / seconds, rowsPerSec: rows / seconds, msPerCommit: (seconds * 1000) / COMMITS,
    };
  } finally {
    await client.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await client.end();
    await ledger.close();
  }
}

async function main(): Promise<void> {
  const shapes: Shape[] = [{ writes: 1, offsets: 1 }, { writes: 1, offsets: 100 }, { writes: 4, offsets: 25 }];
  const rows: Row[] = [];
  for (const shape of shapes) {
    for (const protocol of ['naive', 'batched'] as const) rows.push(await runRow(protocol, shape));
  }
  console.log('protocol  writes x offsets  round trips/commit  ms/commit  commits/s  effect rows/s');
  for (const r of rows) {
    console.log(`${r.protocol.padEnd(9)} ${`${r.writes} x ${r.offsets}`.padEnd(17)} ${r.roundTripsPerCommit.toFixed(1).padStart(18)} ` +
      `${r.msPerCommit.toFixed(2).padStart(10)} ${r.commitsPerSec.toFixed(0).padStart(10)} ${r.rowsPerSec.toFixed(0).padStart(14)}`);
  }
  console.log(JSON.stringify({ bench: 'pg-ledger', commitsPerRow: COMMITS, rows: rows.map((r) => ({
    ...r, commitsPerSec: Math.round(r.commitsPerSec), rowsPerSec: Math.round(r.rowsPerSec), msPerCommit: Number(r.msPerCommit.toFixed(3)) })) }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
