// Shared set-up of the PostgreSQL ledger tests: the real local server
// (tools/postgres, started idempotently), one fresh PostgreSQL schema per
// test so tests never see each other's rows, and an admin connection.

import * as net from 'net';
import { Client } from 'pg';
import { openPostgresLedger, type PostgresLedger, type PostgresLedgerOptions } from '../../src/ledger/postgres';
import type { Outcome, Statement } from '../../src/ledger/types';
import { pgUrl, startPg } from '../../tools/postgres/pg';

export const url = pgUrl();

let started: Promise<unknown> | undefined;
/** Starts the server once per process (a running one is fine). */
export function serverUp(): Promise<unknown> {
  return (started ??= startPg());
}

let counter = 0;
/** A schema name no earlier run used. */
export function freshSchema(tag: string): string {
  return `t_${tag}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

export function openLedger(tag: string, extra: Partial<PostgresLedgerOptions> = {}): Promise<PostgresLedger> {
  return openPostgresLedger({ connectionString: url, schema: freshSchema(tag), ...extra });
}

/** A plain connection for looking at the server from outside the ledger. */
export async function admin(schema?: string): Promise<Client> {
  const c = new Client({ connectionString: url, ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export function done(...effects: Statement[]): Outcome<Statement> {
  return { effects, deadLetter: null, absent: false };
}

export function insertOrder(id: number, note = `order ${id}`): Statement {
  return { sql: 'INSERT INTO orders (id, note) VALUES ($1, $2)', params: [id, note] };
}

export const ORDERS = 'CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, note text NOT NULL)';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A TCP proxy in front of the server that, once armed with a command tag,
 * cuts both sides of the connection as soon as the server's CommandComplete
 * with that tag passes, before delivering it: the statement ran on the
 * server, its answer never reaches the client.
 */
export class CuttingProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** The command tag to cut at ('COMMIT', 'BEGIN'), or undefined: forward everything. */
  armed: string | undefined;
  /**
   * When set, a client -> server chunk holding these bytes is forwarded and
   * then only the client's side is cut: the server goes on running the
   * query on a connection it still sees (a one-sided network failure).
   */
  cutClientAfterSending: Buffer | undefined;
  cuts = 0;

  constructor(private readonly upstreamPort: number) {}

  async listen(): Promise<string> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as net.AddressInfo).port;
    return `postgres://htmqc@127.0.0.1:${port}/htmqc`;
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    // Message-by-message writes would otherwise wait on delayed ACKs.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const kill = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', () => client.destroy());
    upstream.on('error', kill).on('close', kill);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (this.cutClientAfterSending !== undefined && chunk.includes(this.cutClientAfterSending)) {
        this.cutClientAfterSending = undefined;
        this.cuts++;
        client.destroy();
      }
    });
    // Server -> client, message by message (type byte, int32 length).
    let buf = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5) {
        const len = buf.readUInt32BE(1);
        if (buf.length < 1 + len) break;
        const msg = buf.subarray(0, 1 + len);
        buf = buf.subarray(1 + len);
        if (this.armed !== undefined && msg[0] === 0x43 && msg.subarray(5, msg.length - 1).toString('utf8') === this.armed) {
          this.armed = undefined;
          this.cuts++;
          kill();
          return;
        }
        client.write(msg);
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
