// startStateService(consumer, options): the htmqc.v1.StateService gRPC server,
// with the standard grpc.health.v1.Health service and server reflection
// (v1 and v1alpha), so grpcurl and grpc-health-probe work unmodified.
//
// Contracts:
//  - every answer comes from a consumer snapshot at most snapshotIntervalMs
//    old (one snapshot shared by all callers) and from the broker view the
//    BrokerPoller keeps; no handler waits on the consumer or the broker;
//  - binds 127.0.0.1 unless told otherwise; TLS (and mTLS with clientCa) and
//    a bearer token are options; with a token, every call except the health
//    service needs `authorization: Bearer <token>` (UNAUTHENTICATED otherwise);
//  - a malformed request gets INVALID_ARGUMENT whose details start with the
//    field's name ("offset: must be ...").

import { createHash, timingSafeEqual } from 'crypto';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { Kafka } from 'kafkajs';
import type { LedgerPort } from '../ledger';
import type { ConsumerObserver, ConsumerSnapshot } from '../runtime/consumer';
import { BrokerPoller, partitionKey, type BrokerViewSource } from './broker-view';
import { HEALTH_SERVICE, reflectionPackageDefinition, serviceDefinition, STATE_SERVICE } from './proto';
import {
  ACTION_PROTO, findPartition, getGroup, getMessage, listPartitions, partitionMessage, type CommittedOutcome, type PartitionTotals,
} from './view';
import { TransitionHub, type WatchFilter } from './watch';

/** What the service reads: a consumer handle (createConsumer's) satisfies it. */
export interface StateSource {
  snapshot(): ConsumerSnapshot;
  observe(observer: ConsumerObserver): () => void;
  /** Whether transitions reach observers (createConsumer's `transitions: true`). */
  readonly transitions: boolean;
}

export interface TlsOptions {
  /** PEM server certificate chain. */
  readonly cert: string | Buffer;
  /** PEM private key of the certificate. */
  readonly key: string | Buffer;
  /** PEM CA bundle: when set, clients must present a certificate it signed (mTLS). */
  readonly clientCa?: string | Buffer;
}

export interface StateServiceOptions {
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: one the OS picks; see StateService.port). */
  readonly port?: number;
  readonly tls?: TlsOptions;
  /** When set, calls need metadata `authorization: Bearer <token>`. */
  readonly token?: string;
  /** A kafkajs client for the broker view (high watermarks, group offsets, members); without it those fields are -1 / empty. */
  readonly kafka?: Kafka;
  /** The consumed topics (needed with kafka). */
  readonly topics?: readonly string[];
  /** A broker view to use instead of polling with `kafka` (tests, or one poller shared with the metrics). */
  readonly brokerView?: BrokerViewSource;
  /** Broker poll interval in ms (default 2000). */
  readonly brokerPollIntervalMs?: number;
  /** Maximum age of the snapshot answers are built from, in ms (default 100). */
  readonly snapshotIntervalMs?: number;
  /** Transitions queued per watcher before they are dropped and counted (default 4096). */
  readonly watchBufferSize?: number;
  /**
   * The consumer's ledger (any backend of the port): GetMessage then reads a
   * committed offset's outcome and the partition's next through it.  Only
   * reads are made; the service never closes it.
   */
  readonly ledger?: Pick<LedgerPort<unknown>, 'read' | 'outcomeAt'>;
  readonly onError?: (error: unknown) => void;
}

export interface StateService {
  /** "host:port" as bound. */
  readonly address: string;
  readonly port: number;
  /** Transitions dropped for slow watchers since start. */
  droppedTransitions(): number;
  /** Stops accepting calls, ends the streams and the broker poll. */
  close(): Promise<void>;
}

type Handler = grpc.UntypedHandleCall;

function invalid(field: string, message: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: `${field}: ${message}` };
}

function checkTopic(field: string, v: unknown, required: boolean): Partial<grpc.StatusObject> | undefined {
  if (typeof v !== 'string') return invalid(field, 'must be a string');
  if (required && v.length === 0) return invalid(field, 'must be a non-empty topic name');
  return undefined;
}

function checkNonNegative(field: string, v: unknown): Partial<grpc.StatusObject> | undefined {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return invalid(field, `must be an integer >= 0, got ${String(v)}`);
  return undefined;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export async function startStateService(source: StateSource, options: StateServiceOptions = {}): Promise<StateService> {
  const onError = options.onError ?? (() => undefined);
  const snapshotInterval = options.snapshotIntervalMs ?? 100;
  let cached: { snapshot: ConsumerSnapshot; at: number } | undefined;
  const snapshot = (): ConsumerSnapshot => {
    const now = Date.now();
    if (cached === undefined || now - cached.at >= snapshotInterval) cached = { snapshot: source.snapshot(), at: now };
    return cached.snapshot;
  };
  const snapshotAge = (): number => (cached === undefined ? 0 : Date.now() - cached.at);

  let ownPoller: BrokerPoller | undefined;
  let brokerView = options.brokerView;
  if (brokerView === undefined && options.kafka !== undefined) {
    ownPoller = new BrokerPoller({
      kafka: options.kafka, groupId: source.snapshot().groupId, topics: options.topics ?? [], onError,
      ...(options.brokerPollIntervalMs === undefined ? {} : { intervalMs: options.brokerPollIntervalMs }),
    });
    brokerView = ownPoller;
  }
  const broker = () => brokerView?.current();

  // Per-partition totals of the ledger commits observed (one update per group commit).
  const totals = new Map<string, PartitionTotals>();
  const hub = new TransitionHub(options.watchBufferSize ?? 4096);
  const unobserve = source.observe({
    transition: (r, ref) => hub.onTransition(r, ref),
    ledgerCommit: (e) => {
      for (const w of e.writes) {
        if (!w.accepted) continue;
        const key = partitionKey(w.topic, w.partition);
        let t = totals.get(key);
        if (t === undefined) totals.set(key, (t = { committed: 0, deadLettered: 0 }));
        t.committed += w.upTo - w.from;
        t.deadLettered += w.deadLettered;
      }
    },
  });

  // A committed offset's outcome is read through the ledger port, only when the snapshot does not answer it.
  const ledger = options.ledger;
  const lookup = async (snap: ConsumerSnapshot, topic: string, partition: number, offset: number): Promise<{ next: number; outcome: CommittedOutcome } | undefined> => {
    if (ledger === undefined) return undefined;
    const view = findPartition(snap, topic, partition);
    if (view !== undefined && offset >= view.ledgerNext) return undefined;
    const ref = { topic, partition };
    const [row, outcome] = await Promise.all([ledger.read(ref), ledger.outcomeAt(ref, offset)]);
    return { next: row?.next ?? -1, outcome };
  };

  const stateImpl: Record<string, Handler> = {
    GetGroup: ((_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, getGroup(snapshot(), broker(), Date.now()));
    }) as Handler,
    ListPartitions: ((call: grpc.ServerUnaryCall<{ topic: unknown }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const err = checkTopic('topic', call.request.topic, false);
      if (err !== undefined) return cb(err, null);
      const snap = snapshot();
      cb(null, { partitions: listPartitions(snap, broker(), totals, call.request.topic as string), snapshot_age_ms: snapshotAge() });
    }) as Handler,
    GetPartition: ((call: grpc.ServerUnaryCall<{ topic: unknown; partition: unknown }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const { topic, partition } = call.request;
      const err = checkTopic('topic', topic, true) ?? checkNonNegative('partition', partition);
      if (err !== undefined) return cb(err, null);
      const snap = snapshot();
      const view = findPartition(snap, topic as string, partition as number);
      if (view === undefined) {
        return cb({ code: grpc.status.NOT_FOUND, details: `partition ${String(topic)}/${String(partition)} is not held by this process` }, null);
      }
      const core = snap.core.partitions.find((ps) => ps.p === view.p);
      cb(null, partitionMessage(view, core, broker(), totals.get(partitionKey(view.topic, view.partition))));
    }) as Handler,
    GetMessage: ((call: grpc.ServerUnaryCall<{ topic: unknown; partition: unknown; offset: unknown }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const { topic, partition, offset } = call.request;
      const err = checkTopic('topic', topic, true) ?? checkNonNegative('partition', partition) ?? checkNonNegative('offset', offset);
      if (err !== undefined) return cb(err, null);
      const t = topic as string;
      const p = partition as number;
      const o = offset as number;
      const snap = snapshot();
      lookup(snap, t, p, o).then((row) => {
        // As GetPartition: a partition this process does not hold and the ledger has never fenced is not found
        // (a typo'd topic must not look like a healthy "held elsewhere" answer).
        if (findPartition(snap, t, p) === undefined && (row === undefined || row.next < 0)) {
          return cb({ code: grpc.status.NOT_FOUND, details: `partition ${t}/${p} is not held by this process and has no ledger row` }, null);
        }
        cb(null, getMessage(snap, t, p, o, ledger === undefined ? undefined : () => row ?? { next: -1, outcome: undefined }));
      }, (e: unknown) => {
        onError(e);
        cb({ code: grpc.status.UNAVAILABLE, details: `ledger read failed: ${e instanceof Error ? e.message : String(e)}` }, null);
      });
    }) as Handler,
    WatchTransitions: ((call: grpc.ServerWritableStream<{ topic: unknown; partitions: unknown; actions: unknown }, unknown>) => {
      const { topic, partitions, actions } = call.request;
      let err = checkTopic('topic', topic, false);
      const parts = new Set<number>();
      const acts = new Set<number>();
      (partitions as unknown[]).forEach((p, i) => { err ??= checkNonNegative(`partitions[${i}]`, p); parts.add(p as number); });
      (actions as unknown[]).forEach((a, i) => {
        const code = typeof a === 'string' ? ACTION_PROTO.indexOf(a) : -1;
        if (code <= 0) err ??= invalid(`actions[${i}]`, `must be a spec action (${ACTION_PROTO.slice(1).join(', ')}), got ${String(a)}`);
        acts.add(code);
      });
      if (err === undefined && !source.transitions) {
        err = { code: grpc.status.FAILED_PRECONDITION, details: 'transitions are off: create the consumer with transitions: true' };
      }
      if (err !== undefined) {
        call.emit('error', err);
        return;
      }
      const filter: WatchFilter = { topic: topic as string, partitions: parts, actions: acts };
      const remove = hub.add(filter, call as unknown as Parameters<TransitionHub['add']>[1]);
      streams.add(call);
      const done = (): void => { remove(); streams.delete(call); };
      call.on('cancelled', done);
      call.on('close', done);
      call.on('error', done);
    }) as Handler,
  };

  const healthStatus = (service: string): string | undefined => {
    if (service !== '' && service !== STATE_SERVICE && service !== HEALTH_SERVICE) return undefined;
    return snapshot().running ? 'SERVING' : 'NOT_SERVING';
  };
  const healthWatches = new Set<NodeJS.Timeout>();
  const healthImpl: Record<string, Handler> = {
    Check: ((call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const status = healthStatus(call.request.service);
      if (status === undefined) return cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` }, null);
      cb(null, { status });
    }) as Handler,
    List: ((_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      const status = healthStatus('')!;
      cb(null, { statuses: { '': { status }, [STATE_SERVICE]: { status } } });
    }) as Handler,
    Watch: ((call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
      let last = '';
      const send = (): void => {
        const status = healthStatus(call.request.service) ?? 'SERVICE_UNKNOWN';
        if (status !== last) call.write({ status });
        last = status;
      };
      send();
      const timer = setInterval(send, 1000);
      healthWatches.add(timer);
      const done = (): void => { clearInterval(timer); healthWatches.delete(timer); };
      call.on('cancelled', done);
      call.on('close', done);
    }) as Handler,
  };

  const tokenDigest = options.token === undefined ? undefined : digest(`Bearer ${options.token}`);
  const authorized = (metadata: grpc.Metadata): boolean => {
    if (tokenDigest === undefined) return true;
    const values = metadata.get('authorization');
    return values.length === 1 && timingSafeEqual(digest(String(values[0])), tokenDigest);
  };
  const unauthenticated = { code: grpc.status.UNAUTHENTICATED, details: 'missing or wrong bearer token (metadata authorization: Bearer <token>)' };
  const guard = (def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation => {
    if (tokenDigest === undefined) return impl;
    const out: grpc.UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(impl)) {
      const method = def[name];
      const unary = method !== undefined && !method.requestStream && !method.responseStream;
      out[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => {
        if (authorized(call.metadata)) return (handler as (c: unknown, cb?: unknown) => void)(call, cb);
        if (unary && cb !== undefined) return cb(unauthenticated, null);
        call.emit('error', unauthenticated);
      }) as Handler;
    }
    return out;
  };

  const server = new grpc.Server();
  const stateDef = serviceDefinition(STATE_SERVICE);
  server.addService(stateDef, guard(stateDef, stateImpl));
  server.addService(serviceDefinition(HEALTH_SERVICE), healthImpl);
  new ReflectionService(reflectionPackageDefinition()).addToServer({
    addService: (def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => server.addService(def, guard(def, impl)),
  });

  const tls = options.tls;
  const credentials = tls === undefined ? grpc.ServerCredentials.createInsecure() : grpc.ServerCredentials.createSsl(
    tls.clientCa === undefined ? null : Buffer.from(tls.clientCa),
    [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }],
    tls.clientCa !== undefined,
  );
  const host = options.host ?? '127.0.0.1';
  const streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${options.port ?? 0}`, credentials, (e, p) => (e ? reject(e) : resolve(p)));
    });
  } catch (e) {
    unobserve();
    await ownPoller?.stop();
    throw e;
  }

  return {
    address: `${host}:${port}`,
    port,
    droppedTransitions: () => hub.droppedTotal,
    close: async () => {
      unobserve();
      for (const t of healthWatches) clearInterval(t);
      for (const s of streams) s.end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(timer); resolve(); });
      });
      await ownPoller?.stop();
    },
  };
}
