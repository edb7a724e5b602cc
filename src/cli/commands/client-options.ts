// Options shared by the gRPC client commands (status, watch).

import * as fs from 'node:fs';
import { Option, type Command } from 'commander';
import { hostPortFlag, nonEmptyFlag, readableFileFlag } from './flags';
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
    .addOption(new Option('-a, --address <host:port>', 'the consumer\'s state service')
      .env('HTMQC_SERVICE_ADDRESS').default(DEFAULT_SERVICE_ADDRESS).argParser(hostPortFlag))
    .option('--token <token>', 'bearer token (default $HTMQC_SERVICE_TOKEN)', nonEmptyFlag('a bearer token'), process.env['HTMQC_SERVICE_TOKEN'])
    .option('--ca <file>', 'TLS: PEM CA of the server certificate (plaintext without it)', readableFileFlag)
    .option('--cert <file>', 'mTLS: PEM client certificate (with --key)', readableFileFlag)
    .option('--key <file>', 'mTLS: PEM client key (with --cert)', readableFileFlag)
    .option('--server-name <name>', 'TLS: name to check the server certificate against', nonEmptyFlag('a host name'))
    .option('--json', 'print JSON (one object per line)')
    .hook('preAction', (_program, action) => {
      const o = action.opts<ClientFlags>();
      if ((o.cert === undefined) !== (o.key === undefined)) {
        action.error(`error: option '--${o.cert === undefined ? 'key' : 'cert'} <file>' needs '--${o.cert === undefined ? 'cert' : 'key'} <file>' too (mTLS takes both)`);
      }
      if ((o.cert !== undefined || o.serverName !== undefined) && o.ca === undefined) {
        action.error(`error: option '${o.cert !== undefined ? '--cert <file>' : '--server-name <name>'}' is a TLS option and needs '--ca <file>'`);
      }
    });
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
