// Connections of the PostgreSQL ledger: a small pool that knows each
// connection's backend (pid and start time, so a lost answer can be made
// definitive by ending exactly that backend), replaces a broken connection,
// and counts round trips (one per query sent).

import { Client, Query, types, type CustomTypesConfig, type QueryResult, type QueryResultRow } from 'pg';

export interface PoolConfig {
  readonly connectionString: string;
  readonly schema: string;
  readonly size: number;
  readonly connectTimeoutMs: number;
}

/** One server connection and what the ledger keeps about it. */
export class Connection {
  /** Set when the socket closed or errored: the pool drops it instead of reusing it. */
  broken = false;
  /** Effect statements PREPAREd on this session: SQL text -> statement name. */
  readonly prepared = new Map<string, string>();
  /** Queries sent on this connection; while a commit holds it, its delta is that commit's round trips. */
  roundTrips = 0;
  private nextName = 0;

  constructor(
    readonly client: Client,
    readonly pid: number,
    /** pg_stat_activity.backend_start as text: with the pid, names this backend even after pid reuse. */
    readonly backendStart: string,
    private readonly counters: { roundTrips: number },
  ) {}

  /** One query (one round trip); text with parameters uses the extended protocol. */
  async query<R extends QueryResultRow = QueryResultRow>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    this.counters.roundTrips++;
    this.roundTrips++;
    return params === undefined ? this.client.query<R>(text) : this.client.query<R>(text, params as unknown[]);
  }

  /**
   * One simple-protocol query string of many statements (one round trip).
   * Resolves with each statement's result; rejects with a StatementFailure
   * that says how many statements completed before the failing one.
   */
  script(text: string): Promise<QueryResult[]> {
    this.counters.roundTrips++;
    this.roundTrips++;
    return new Promise((resolve, reject) => {
      const q = new CountingQuery(text, (error, results) => {
        if (error !== undefined && error !== null) reject(new StatementFailure(error, q.completed));
        else resolve(Array.isArray(results) ? results : [results as QueryResult]);
      });
      this.client.query(q);
    });
  }

  /**
   * Statements through the extended protocol, written at once and closed by
   * ONE Sync (one round trip): each step is a Bind and an Execute of a
   * statement PREPAREd on this session (no parse on the server; parameters
   * as node-postgres sends its own: text, a Buffer in binary), or of an
   * unnamed statement parsed from a text without parameters.  The server
   * answers each with CommandComplete and, at the first error, skips to the
   * Sync; so, as for script(), the rejection's index is the failing step.
   */
  pipeline(steps: readonly PipelineStep[]): Promise<number> {
    this.counters.roundTrips++;
    this.roundTrips++;
    return new Promise((resolve, reject) => {
      const q = new PipelineQuery(steps, (error) => {
        if (error !== undefined) reject(new StatementFailure(error, q.completed));
        else resolve(q.completed);
      });
      // A custom submittable (as pg-cursor is): the client hands it the connection and routes the answers to it.
      (this.client as unknown as { query(q: PipelineQuery): void }).query(q);
    });
  }

  newStatementName(): string {
    return `htmqc_e${this.nextName++}`;
  }
}

/** The error of a script, with the index of the statement that failed (statements completed before it). */
export class StatementFailure extends Error {
  constructor(readonly error: unknown, readonly index: number) {
    super(error instanceof Error ? error.message : String(error));
  }
}

type ScriptCallback = (error: Error | undefined | null, results: QueryResult | QueryResult[]) => void;

// Query with a count of CommandComplete messages: in a multi-statement
// simple query the server answers each statement with one CommandComplete
// and stops at the first error, so the count is the failing statement's index.
const baseHandleCommandComplete = (Query.prototype as unknown as {
  handleCommandComplete(this: unknown, msg: unknown, connection: unknown): void;
}).handleCommandComplete;

class CountingQuery extends Query {
  completed = 0;
  constructor(text: string, callback: ScriptCallback) {
    super(text, callback as unknown as ConstructorParameters<typeof Query>[1] & object);
  }
  handleCommandComplete(msg: unknown, connection: unknown): void {
    this.completed++;
    baseHandleCommandComplete.call(this, msg, connection);
  }
}

/** One statement of Connection.pipeline: a PREPAREd statement's name and its values (already mapped by sql.ts's paramValue), or a text (with values: a merged INSERT). */
export type PipelineStep =
  | { readonly statement: string; readonly values: readonly unknown[] }
  | { readonly text: string; readonly values?: readonly unknown[] };

interface ProtocolConnection {
  readonly stream: { cork(): void; uncork(): void };
  parse(m: { text: string; name: string }): void;
  bind(m: { portal: string; statement: string; values: readonly unknown[]; valueMapper: (v: unknown) => unknown }): void;
  execute(m: { portal: string; rows: number }): void;
  sync(): void;
}

const asMapped = (v: unknown): unknown => v;

/** The submittable behind Connection.pipeline; the client calls these handlers (client.js routes every answer to the active query). */
class PipelineQuery {
  completed = 0;
  private done = false;
  constructor(private readonly steps: readonly PipelineStep[], private readonly callback: (error?: unknown) => void) {}

  submit(connection: ProtocolConnection): void {
    // One write of all the messages instead of two per statement.
    connection.stream.cork();
    try {
      for (const s of this.steps) {
        if ('text' in s) {
          // An unnamed statement: a text without parameters, or a merged INSERT (merge.ts) with its values.
          connection.parse({ text: s.text, name: '' });
          connection.bind({ portal: '', statement: '', values: s.values ?? [], valueMapper: asMapped });
        } else {
          connection.bind({ portal: '', statement: s.statement, values: s.values, valueMapper: asMapped });
        }
        connection.execute({ portal: '', rows: 0 });
      }
      connection.sync();
    } finally {
      connection.stream.uncork();
    }
  }

  handleCommandComplete(): void { this.completed++; }
  handleError(error: unknown): void { this.finish(error); }
  handleReadyForQuery(): void { this.finish(undefined); }
  handleRowDescription(): void { /* the steps return no rows the ledger reads */ }
  handleDataRow(): void { /* as above */ }
  handleEmptyQuery(): void { /* no step is empty: checkWrite refuses an empty effect */ }
  handlePortalSuspended(): void { /* rows: 0 runs every portal to completion */ }

  private finish(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.callback(error);
  }
}

/** The ledger's connections: at most `size`, broken ones replaced on the next acquire. */
export class Pool {
  readonly counters = { roundTrips: 0 };
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private opening = 0;
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly config: PoolConfig) {}

  async acquire(): Promise<Connection> {
    for (;;) {
      if (this.closed) throw new Error('the ledger pool is closed');
      for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
        if (!c.broken) return c;
        this.drop(c);
      }
      if (this.all.size + this.opening < this.config.size) {
        this.opening++;
        try {
          const c = await this.connect();
          this.all.add(c);
          return c;
        } finally {
          this.opening--;
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Returns a connection; a broken one (or one the caller says is) is closed and replaced later. */
  release(c: Connection, broken = false): void {
    if (broken) c.broken = true;
    if (c.broken || this.closed) this.drop(c);
    else this.idle.push(c);
    this.waiters.shift()?.();
  }

  /** A connection outside the pool (for ending a lost backend while the pool may be exhausted). */
  async connectOne(): Promise<Connection> {
    return this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    const ends = [...this.all].map((c) => c.client.end().catch(() => undefined));
    this.all.clear();
    this.idle.length = 0;
    for (const w of this.waiters.splice(0)) w();
    await Promise.all(ends);
  }

  private drop(c: Connection): void {
    this.all.delete(c);
    c.client.end().catch(() => undefined);
  }

  private async connect(): Promise<Connection> {
    const client = new Client({
      connectionString: this.config.connectionString,
      connectionTimeoutMillis: this.config.connectTimeoutMs,
      application_name: 'htmqc-ledger',
      keepAlive: true,
      // The schema is checked against [a-z_][a-z0-9_]* (no quoting needed).
      options: `-c search_path=${this.config.schema}`,
      // int8 columns (epochs, offsets) as numbers: the ledger keeps them below 2^53.
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number(v) : types.getTypeParser(oid, format as 'text')) as CustomTypesConfig['getTypeParser'] },
    });
    let conn: Connection | undefined;
    const markBroken = (): void => { if (conn !== undefined) conn.broken = true; };
    // An idle connection whose backend is terminated emits 'error'; without a
    // listener that would crash the process.
    client.on('error', markBroken);
    client.on('end', markBroken);
    try {
      await client.connect();
      this.counters.roundTrips++;
      const r = await client.query<{ pid: number; backend_start: string }>(
        'SELECT pid, backend_start::text AS backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()');
      const row = r.rows[0];
      if (row === undefined) throw new Error('pg_stat_activity has no row for this connection');
      conn = new Connection(client, row.pid, row.backend_start, this.counters);
      return conn;
    } catch (e) {
      client.end().catch(() => undefined);
      throw e;
    }
  }
}
