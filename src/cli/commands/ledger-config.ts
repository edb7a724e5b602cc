// The `ledger` section of the `htmqc run` config: which ledger the consumer
// commits to, strictly validated before anything is opened.
//
//   "ledger": "orders.db"                                   SQLite, shorthand
//   "ledger": { "backend": "sqlite", "path": "orders.db", "synchronous": "FULL", "busyTimeoutMs": 5000 }
//   "ledger": { "backend": "postgres", "url": { "env": "HTMQC_PG_URL" }, "schema": "orders", "poolSize": 4 }
//
// The PostgreSQL connection string is either a string or `{ "env": NAME }`,
// read from the environment when the config is read, so a Kubernetes Secret
// mounted as an environment variable supplies it and the file holds no
// password.  Errors never print a connection string, which may hold one.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { openPostgresLedger, openSqliteLedger, type LedgerPort, type Statement } from '../../index';
import { describeValue, unknownKeys } from '../../util/options';

export interface SqliteLedgerConfig {
  readonly backend: 'sqlite';
  /** The ledger file, resolved against the config file's directory. */
  readonly path: string;
  readonly synchronous?: 'FULL' | 'NORMAL' | 'EXTRA';
  readonly busyTimeoutMs?: number;
  readonly statementCacheSize?: number;
  readonly userSchema?: string;
}

export interface PostgresLedgerConfig {
  readonly backend: 'postgres';
  /** The connection string, after `{ "env": NAME }` was resolved. */
  readonly url: string;
  /** Where the url came from, for messages: 'the config file' or 'environment variable NAME'. */
  readonly urlSource: string;
  readonly schema?: string;
  readonly poolSize?: number;
  readonly concurrentCommits?: number;
  readonly connectTimeoutMs?: number;
  readonly lostAnswerTimeoutMs?: number;
  readonly statementCacheSize?: number;
  readonly mergeInserts?: boolean;
  readonly userSchema?: string;
}

export type LedgerConfig = SqliteLedgerConfig | PostgresLedgerConfig;

/** A config error naming the field (`ledger.poolSize`) it is about. */
export class LedgerConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'LedgerConfigError';
  }
}

export const SQLITE_KEYS = ['backend', 'path', 'synchronous', 'busyTimeoutMs', 'statementCacheSize', 'userSchema'] as const;
export const POSTGRES_KEYS = ['backend', 'url', 'schema', 'poolSize', 'concurrentCommits', 'connectTimeoutMs', 'lostAnswerTimeoutMs', 'statementCacheSize', 'mergeInserts', 'userSchema'] as const;
export const USER_SCHEMA_FILE_KEYS = ['file'] as const;
// The ledgers' own bounds (src/ledger/sqlite/ledger.ts, src/ledger/postgres/postgres.ts), checked here to name the config field.
const INTEGER_BOUNDS: Record<string, readonly [number, number]> = {
  busyTimeoutMs: [0, 0x7fffffff], poolSize: [1, 100], concurrentCommits: [1, 100], connectTimeoutMs: [1, 600000], lostAnswerTimeoutMs: [0, 600000],
};

/**
 * Validates `raw` (the `ledger` value of a config file in `dir`) and
 * resolves the SQLite path against `dir` and an `{ "env": NAME }` url against
 * `env`.
 */
export function parseLedgerConfig(raw: unknown, dir: string, env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  if (typeof raw === 'string') {
    if (raw.trim() === '') throw new LedgerConfigError('ledger', 'must be the path of the SQLite ledger file or an object with a backend, got "" (a string)');
    return { backend: 'sqlite', path: path.resolve(dir, raw) };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new LedgerConfigError('ledger', `must be the path of the SQLite ledger file or an object { "backend": "sqlite" | "postgres", ... }, got ${describeValue(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  const backend = o['backend'];
  if (backend !== 'sqlite' && backend !== 'postgres') {
    throw new LedgerConfigError('ledger.backend', `must be "sqlite" or "postgres", got ${backend === undefined ? 'nothing' : describeValue(backend)}`);
  }
  const unknown = unknownKeys(o, backend === 'sqlite' ? SQLITE_KEYS : POSTGRES_KEYS);
  if (unknown.length > 0) throw new LedgerConfigError(`ledger.${unknown[0]!.key}`, `${unknown[0]!.message} of a ${backend} ledger`);
  const integer = (key: string, min: number, max: number): number | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new LedgerConfigError(`ledger.${key}`, `must be an integer in ${min}..${max}, got ${describeValue(v)}`);
    }
    return v;
  };
  const optionalInteger = (key: string): Record<string, number> => {
    const [min, max] = INTEGER_BOUNDS[key] ?? [1, 1 << 20];
    const v = integer(key, min, max);
    return v === undefined ? {} : { [key]: v };
  };
  const userSchema = resolveUserSchema(o['userSchema'], dir);
  const common = { ...(userSchema === undefined ? {} : { userSchema }), ...optionalInteger('statementCacheSize') };

  if (backend === 'sqlite') {
    const p = o['path'];
    if (typeof p !== 'string' || p.trim() === '') throw new LedgerConfigError('ledger.path', `must be the path of the SQLite ledger file, got ${p === undefined ? 'nothing' : describeValue(p)}`);
    const sync = o['synchronous'];
    if (sync !== undefined && sync !== 'FULL' && sync !== 'NORMAL' && sync !== 'EXTRA') {
      throw new LedgerConfigError('ledger.synchronous', `must be "FULL", "NORMAL" or "EXTRA", got ${describeValue(sync)}`);
    }
    return { backend, path: path.resolve(dir, p), ...(sync === undefined ? {} : { synchronous: sync }), ...optionalInteger('busyTimeoutMs'), ...common };
  }

  const { url, urlSource } = resolveUrl(o['url'], env);
  const schema = o['schema'];
  if (schema !== undefined && (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))) {
    throw new LedgerConfigError('ledger.schema', `must be an unquoted lower-case PostgreSQL identifier ([a-z_][a-z0-9_]*, at most 63), got ${describeValue(schema)}`);
  }
  const merge = o['mergeInserts'];
  if (merge !== undefined && typeof merge !== 'boolean') throw new LedgerConfigError('ledger.mergeInserts', `must be true or false, got ${describeValue(merge)}`);
  return {
    backend, url, urlSource, ...(schema === undefined ? {} : { schema }), ...(merge === undefined ? {} : { mergeInserts: merge }),
    ...optionalInteger('poolSize'), ...optionalInteger('concurrentCommits'), ...optionalInteger('connectTimeoutMs'), ...optionalInteger('lostAnswerTimeoutMs'), ...common,
  };
}

/**
 * The user schema: the SQL the ledger runs when it opens (after its own
 * tables, in the same transaction) to create the tables the handler's
 * effects write.  A string of SQL, an array of statements (JSON has no
 * multi-line strings), or `{ "file": "schema.sql" }` relative to the config
 * file, read now so that a missing file is a config error.
 */
function resolveUserSchema(v: unknown, dir: string): string | undefined {
  if (v === undefined || typeof v === 'string') return v;
  if (Array.isArray(v)) {
    v.forEach((statement, i) => {
      if (typeof statement !== 'string') throw new LedgerConfigError(`ledger.userSchema[${i}]`, `must be a string of SQL, got ${describeValue(statement)}`);
    });
    return (v as string[]).map((statement) => statement.trim().replace(/;$/, '')).join(';\n');
  }
  if (v !== null && typeof v === 'object') {
    const ref = v as Record<string, unknown>;
    const unknown = unknownKeys(ref, USER_SCHEMA_FILE_KEYS);
    if (unknown.length > 0) throw new LedgerConfigError(`ledger.userSchema.${unknown[0]!.key}`, unknown[0]!.message);
    const file = ref['file'];
    if (typeof file !== 'string' || file.trim() === '') {
      throw new LedgerConfigError('ledger.userSchema.file', `must be the path of a SQL file, got ${file === undefined ? 'nothing' : describeValue(file)}`);
    }
    const resolved = path.resolve(dir, file);
    try {
      return fs.readFileSync(resolved, 'utf8');
    } catch (e) {
      throw new LedgerConfigError('ledger.userSchema.file', `cannot read ${resolved}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  throw new LedgerConfigError('ledger.userSchema',
    `must be SQL (the effects' tables): a string, an array of statements or { "file": "schema.sql" }, got ${describeValue(v)}`);
}

function resolveUrl(v: unknown, env: NodeJS.ProcessEnv): { url: string; urlSource: string } {
  const check = (url: string, source: string, field: string): { url: string; urlSource: string } => {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new LedgerConfigError(field, `${source} must hold a connection string starting with postgres:// or postgresql:// (its value is not shown: it may hold a password)`);
    }
    return { url, urlSource: source };
  };
  if (typeof v === 'string') return check(v, 'the config file', 'ledger.url');
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const ref = v as Record<string, unknown>;
    const unknown = unknownKeys(ref, ['env']);
    if (unknown.length > 0) throw new LedgerConfigError(`ledger.url.${unknown[0]!.key}`, unknown[0]!.message);
    const name = ref['env'];
    if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new LedgerConfigError('ledger.url.env', `must be the name of an environment variable, got ${name === undefined ? 'nothing' : describeValue(name)}`);
    }
    const value = env[name];
    if (value === undefined || value === '') throw new LedgerConfigError('ledger.url.env', `environment variable ${name} is not set (it should hold the PostgreSQL connection string)`);
    return check(value, `environment variable ${name}`, 'ledger.url.env');
  }
  throw new LedgerConfigError('ledger.url',
    `must be a connection string ("postgres://user@host:5432/db") or { "env": "NAME" } naming the environment variable that holds it, got ${v === undefined ? 'nothing' : describeValue(v)}`);
}

/** Opens the configured ledger (the PostgreSQL one connects and checks its schema here). */
export async function openConfiguredLedger(c: LedgerConfig): Promise<LedgerPort<Statement>> {
  if (c.backend === 'sqlite') {
    const { backend: _backend, ...options } = c;
    return openSqliteLedger(options);
  }
  const { backend: _backend, url, urlSource: _source, ...options } = c;
  return openPostgresLedger({ connectionString: url, ...options });
}

/** One line for the log: the backend and where it is, without the connection string's credentials. */
export function describeLedger(c: LedgerConfig): string {
  if (c.backend === 'sqlite') return `SQLite ledger ${c.path}`;
  let where = 'the PostgreSQL server';
  try {
    const u = new URL(c.url);
    where = `${u.hostname}${u.port === '' ? '' : `:${u.port}`}${u.pathname}`;
  } catch {
    // A string the WHATWG URL parser refuses may still be one libpq accepts; say only where it came from.
  }
  return `PostgreSQL ledger on ${where} (schema ${c.schema ?? 'public'}; connection string from ${c.urlSource})`;
}
