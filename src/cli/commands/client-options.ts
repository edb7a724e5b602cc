// Options shared by the gRPC client commands (status, watch).

import * as fs from 'node:fs';
import type { Command } from 'commander';
import { createStateClient, type StateClient, type StateClientOptions } from '../../service/client';

export const DEFAULT_SERVICE_ADDRESS = '127.0.0.1:9470';

export interface ClientFlags {
  address: string;
  token?: string;
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  json?: boolean;
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option('-a, --address <host:port>', 'the consumer\'s state service', process.env['HTMQC_SERVICE_ADDRESS'] ?? DEFAULT_SERVICE_ADDRESS)
    .option('--token <token>', 'bearer token (default $HTMQC_SERVICE_TOKEN)', process.env['HTMQC_SERVICE_TOKEN'])
    .option('--ca <file>', 'TLS: PEM CA of the server certificate (plaintext without it)')
    .option('--cert <file>', 'mTLS: PEM client certificate')
    .option('--key <file>', 'mTLS: PEM client key')
    .option('--server-name <name>', 'TLS: name to check the server certificate against')
    .option('--json', 'print JSON (one object per line)');
}

export function clientFrom(flags: ClientFlags): StateClient {
  const o: { -readonly [K in keyof StateClientOptions]: StateClientOptions[K] } = {};
  if (flags.token !== undefined) o.token = flags.token;
  if (flags.ca !== undefined) o.ca = fs.readFileSync(flags.ca);
  if (flags.cert !== undefined) o.cert = fs.readFileSync(flags.cert);
  if (flags.key !== undefined) o.key = fs.readFileSync(flags.key);
  if (flags.serverName !== undefined) o.serverName = flags.serverName;
  return createStateClient(flags.address, o);
}

/** "14 UNAVAILABLE: ..." as the one-line reason a command failed. */
export function grpcErrorText(e: unknown): string {
  const g = e as { code?: number; details?: string; message?: string };
  return g.details !== undefined && g.details !== '' ? `${g.details} (gRPC code ${String(g.code)})` : String(g.message ?? e);
}
