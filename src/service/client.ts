// A small promise-based client of htmqc.v1.StateService for the CLI, the
// tests and the benchmark (what grpcurl would do, with the same options).

import * as grpc from '@grpc/grpc-js';
import { grpcObject } from './proto';

export interface StateClientOptions {
  /** Bearer token sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** TLS: the CA that signed the server certificate (PEM); plaintext when absent. */
  readonly ca?: string | Buffer;
  /** mTLS: the client's certificate and key (PEM). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Overrides the name checked against the server certificate. */
  readonly serverName?: string;
  /** Per-call deadline in ms (default 5000; streams have none). */
  readonly deadlineMs?: number;
}

type Unary = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void;
type ServerStream = (request: object, metadata: grpc.Metadata) => grpc.ClientReadableStream<unknown>;

export interface StateClient {
  call<T = Record<string, unknown>>(method: 'GetGroup' | 'ListPartitions' | 'GetPartition' | 'GetMessage', request: object): Promise<T>;
  watch(request: object): grpc.ClientReadableStream<unknown>;
  health(service?: string): Promise<string>;
  close(): void;
  readonly raw: grpc.Client;
}

function credentials(o: StateClientOptions): grpc.ChannelCredentials {
  if (o.ca === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    Buffer.from(o.ca), o.key === undefined ? null : Buffer.from(o.key), o.cert === undefined ? null : Buffer.from(o.cert),
  );
}

function lookup(path: string): grpc.ServiceClientConstructor {
  let o: unknown = grpcObject();
  for (const part of path.split('.')) o = (o as Record<string, unknown>)[part];
  return o as grpc.ServiceClientConstructor;
}

export function createStateClient(address: string, options: StateClientOptions = {}): StateClient {
  const channelOptions: grpc.ChannelOptions = options.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': options.serverName };
  const creds = credentials(options);
  const State = lookup('htmqc.v1.StateService');
  const Health = lookup('grpc.health.v1.Health');
  const state = new State(address, creds, channelOptions);
  const health = new Health(address, creds, channelOptions);
  const metadata = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    if (options.token !== undefined) m.set('authorization', `Bearer ${options.token}`);
    return m;
  };
  const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + (options.deadlineMs ?? 5000) });
  const unary = <T>(client: grpc.Client, method: string, request: object): Promise<T> => new Promise((resolve, reject) => {
    (client as unknown as Record<string, Unary>)[method]!.call(client, request, metadata(), deadline(), (e, r) => (e ? reject(e) : resolve(r as T)));
  });
  return {
    call: (method, request) => unary(state, method, request),
    watch: (request) => (state as unknown as Record<string, ServerStream>)['WatchTransitions']!.call(state, request, metadata()),
    health: async (service = '') => (await unary<{ status: string }>(health, 'Check', { service })).status,
    close: () => { state.close(); health.close(); },
    raw: state,
  };
}
