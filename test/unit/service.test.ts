// htmqc.v1.StateService over a real socket with a real @grpc/grpc-js client,
// against a fake consumer (no broker): every method, the transition stream
// (spec actions Begin, Commit, DeadLetter) and its drop-and-report, health,
// reflection, the bearer token, TLS and mTLS, and INVALID_ARGUMENT naming the
// malformed field.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as descriptor from 'protobufjs/ext/descriptor';
import { OffsetState, type TraceRecord } from '../../src/core';
import type { ConsumerObserver, ConsumerSnapshot, LedgerCommitEvent } from '../../src/runtime/consumer';
import type { BrokerView, BrokerViewSource } from '../../src/service/broker-view';
import { createStateClient, startStateService, type StateClient, type StateService } from '../../src/service';
import { openSqliteLedger, type SqliteLedger } from '../../src/ledger';
import { mapEntryName } from '../../src/service/proto';
import { TransitionHub } from '../../src/service/watch';

// ------------------------------------------------------------ the fake --

class FakeConsumer {
  readonly observers: ConsumerObserver[] = [];
  transitions = true;
  running = true;
  snapshots = 0;

  snapshot(): ConsumerSnapshot {
    this.snapshots++;
    return {
      groupId: 'g1', memberId: 'member-a', running: this.running, joins: 3,
      partitions: [
        { p: 0, topic: 'orders', partition: 0, epoch: 7, ledgerNext: 100, position: 105, inFlight: 5, paused: false },
        { p: 1, topic: 'orders', partition: 1, epoch: 4, ledgerNext: 40, position: 40, inFlight: 0, paused: true },
      ],
      counters: { handled: 150, failed: 5, committed: 140, deadLettered: 1, ledgerCommits: 12, ledgerRejections: 1, ledgerLostAnswers: 0, ledgerErrors: 0, rebalances: 3 },
      core: {
        now: 0, seq: 99, fences: [[0, 7], [1, 4]],
        partitions: [
          {
            p: 0, epoch: 7, gen: 3, base: 100, pos: 105, head: 1, paused: false, writeUpTo: 0, answer: 'NoAnswer', retryDueAt: 0,
            win: [
              { st: OffsetState.Done, tries: 0 }, { st: OffsetState.Failed, tries: 2 }, { st: OffsetState.Pending, tries: 0 },
              { st: OffsetState.Pending, tries: 0 }, { st: OffsetState.Pending, tries: 0 },
            ],
          },
          { p: 1, epoch: 4, gen: 3, base: 40, pos: 40, head: 0, paused: true, writeUpTo: 0, answer: 'NoAnswer', retryDueAt: 0, win: [] },
        ],
      },
    };
  }

  observe(o: ConsumerObserver): () => void {
    this.observers.push(o);
    return () => { this.observers.splice(this.observers.indexOf(o), 1); };
  }

  emit(r: TraceRecord, partition: number): void {
    for (const o of this.observers) o.transition?.(r, { topic: 'orders', partition });
  }

  commit(e: LedgerCommitEvent): void {
    for (const o of this.observers) o.ledgerCommit?.(e);
  }
}

const fakeBrokerView: BrokerViewSource = {
  current: (): BrokerView => ({
    fetchedAtMs: Date.now(),
    highWatermarks: new Map([['orders\u00000', 130], ['orders\u00001', 40]]),
    brokerOffsets: new Map([['orders\u00000', 90]]),
    group: {
      state: 'Stable', protocol: 'RoundRobinAssigner',
      members: [{ memberId: 'member-a', clientId: 'c', clientHost: '/127.0.0.1', assignment: { orders: [1, 0] } }],
    },
  }),
  stop: async () => undefined,
};

const begin = (seq: number, o: number): TraceRecord => ({ seq, action: 'Begin', p: 0, epoch: 7, base: 100, pos: 105, o, tries: 0 });
const commitRec = (seq: number): TraceRecord => ({ seq, action: 'Commit', p: 0, epoch: 7, base: 101, pos: 105, from: 100, upTo: 101 });

function code(e: unknown): number | undefined {
  return (e as { code?: number }).code;
}

async function rejects(p: Promise<unknown>, expectedCode: grpc.status, detail?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.strictEqual(code(e), expectedCode, `gRPC code of ${String((e as Error).message)}`);
    if (detail !== undefined) assert.match((e as { details: string }).details, detail);
    return true;
  });
}

describe('state service (htmqc.v1.StateService over a socket, fake consumer)', function () {
  this.timeout(20000);
  const fake = new FakeConsumer();
  let service: StateService;
  let client: StateClient;

  before(async () => {
    service = await startStateService(fake, { brokerView: fakeBrokerView, snapshotIntervalMs: 0 });
    client = createStateClient(service.address);
  });
  after(async () => {
    client.close();
    await service.close();
  });

  it('binds 127.0.0.1 by default', () => {
    assert.match(service.address, /^127\.0\.0\.1:\d+$/);
  });

  it('GetGroup: member, generation (joins), this process\'s assignment and the coordinator\'s members', async () => {
    const g = await client.call('GetGroup', {});
    assert.strictEqual(g['group_id'], 'g1');
    assert.strictEqual(g['member_id'], 'member-a');
    assert.strictEqual(g['generation'], 3);
    assert.deepStrictEqual(g['assignment'], [{ topic: 'orders', partitions: [0, 1] }]);
    assert.deepStrictEqual(g['members'], [{ member_id: 'member-a', client_id: 'c', client_host: '/127.0.0.1', assignment: [{ topic: 'orders', partitions: [0, 1] }] }]);
    assert.strictEqual(g['group_state'], 'Stable');
  });

  it('ListPartitions and GetPartition: position, ledger next, broker offset, high watermark, lag, in-flight by state, retries', async () => {
    fake.commit({
      durationMs: 1, recovered: false, committedAtMs: Date.now(),
      writes: [{ topic: 'orders', partition: 0, from: 90, upTo: 100, accepted: true, deadLettered: 1, firstTimestampMs: Date.now() - 5 }],
    });
    const list = await client.call<{ partitions: Record<string, unknown>[] }>('ListPartitions', {});
    assert.deepStrictEqual(list.partitions.map((p) => p['partition']), [0, 1]);
    const p0 = await client.call('GetPartition', { topic: 'orders', partition: 0 });
    assert.deepStrictEqual(p0, {
      topic: 'orders', partition: 0, epoch: 7, position: 105, ledger_next: 100, broker_offset: 90, high_watermark: 130, lag: 30,
      in_flight: { pending: 3, processing: 0, done: 1, failed: 1, dead_lettered: 0 }, paused: false, retries: 2, dead_lettered: 1, committed: 10,
    });
    const p1 = await client.call('GetPartition', { topic: 'orders', partition: 1 });
    assert.strictEqual(p1['paused'], true);
    assert.strictEqual(p1['broker_offset'], -1);
    await rejects(client.call('GetPartition', { topic: 'orders', partition: 9 }), grpc.status.NOT_FOUND);
  });

  it('GetMessage: the slot state and tries in the window, committed, not fetched, not held', async () => {
    const failed = await client.call('GetMessage', { topic: 'orders', partition: 0, offset: 101 });
    assert.deepStrictEqual([failed['location'], failed['state'], failed['tries'], failed['idempotency_key']], ['IN_WINDOW', 'FAILED', 2, 'orders/0/101']);
    const done = await client.call('GetMessage', { topic: 'orders', partition: 0, offset: 100 });
    assert.strictEqual(done['state'], 'DONE');
    assert.strictEqual((await client.call('GetMessage', { topic: 'orders', partition: 0, offset: 5 }))['location'], 'COMMITTED');
    assert.strictEqual((await client.call('GetMessage', { topic: 'orders', partition: 0, offset: 105 }))['location'], 'NOT_FETCHED');
    // Issue 20 item 8: consistent with GetPartition, a partition neither held nor in a ledger is NOT_FOUND.
    await rejects(client.call('GetMessage', { topic: 'orders', partition: 7, offset: 1 }), grpc.status.NOT_FOUND, /orders\/7 is not held by this process and has no ledger row/);
    await rejects(client.call('GetMessage', { topic: 'nosuch', partition: 0, offset: 0 }), grpc.status.NOT_FOUND);
  });

  it('malformed requests: INVALID_ARGUMENT naming the field', async () => {
    await rejects(client.call('GetPartition', { topic: '', partition: 0 }), grpc.status.INVALID_ARGUMENT, /^topic: /);
    await rejects(client.call('GetPartition', { topic: 'orders', partition: -1 }), grpc.status.INVALID_ARGUMENT, /^partition: /);
    await rejects(client.call('GetMessage', { topic: 'orders', partition: 0, offset: -5 }), grpc.status.INVALID_ARGUMENT, /^offset: /);
    const stream = client.watch({ partitions: [0, -2] });
    await new Promise<void>((resolve) => {
      stream.on('data', () => undefined);
      stream.on('error', (e: grpc.ServiceError) => {
        assert.strictEqual(e.code, grpc.status.INVALID_ARGUMENT);
        assert.match(e.details, /^partitions\[1\]: /);
        resolve();
      });
    });
    const bad = client.watch({ actions: ['COMMIT', 42] });
    await new Promise<void>((resolve) => {
      bad.on('data', () => undefined);
      bad.on('error', (e: grpc.ServiceError) => {
        assert.strictEqual(e.code, grpc.status.INVALID_ARGUMENT);
        assert.match(e.details, /^actions\[1\]: /);
        resolve();
      });
    });
  });

  it('WatchTransitions streams the transitions that pass the partition and action filters', async () => {
    const stream = client.watch({ partitions: [0], actions: ['COMMIT', 'BEGIN'] });
    const got: Record<string, unknown>[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { transitions: Record<string, unknown>[] }) => {
        got.push(...m.transitions);
        if (got.length >= 2) resolve();
      });
      stream.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
    });
    // The stream is registered once the server has the call; wait for it.
    const deadline = Date.now() + 5000;
    while (fake.observers.length > 0 && Date.now() < deadline) {
      fake.emit({ seq: 1, action: 'Fetch', p: 0, epoch: 7, base: 100, pos: 105, o: 100, n: 5 }, 0);
      fake.emit(begin(2, 100), 1);
      fake.emit(begin(3, 100), 0);
      fake.emit(commitRec(4), 0);
      await new Promise((r) => setTimeout(r, 50));
      if (got.length >= 2) break;
    }
    await done;
    stream.cancel();
    assert.deepStrictEqual(got.slice(0, 2).map((t) => [t['action'], t['partition'], t['offset'], t['arg']]), [['BEGIN', 0, 100, 0], ['COMMIT', 0, 100, 101]]);
  });

  it('drops transitions beyond a blocked watcher\'s bound and reports how many in the next message', () => {
    const hub = new TransitionHub(3);
    const written: { transitions: unknown[]; dropped: number }[] = [];
    let drain: (() => void) | undefined;
    let full = true;
    hub.add({ topic: '', partitions: new Set(), actions: new Set() }, {
      write: (m) => { written.push(m); return !full; },
      once: (_e, l) => { drain = l; },
    });
    hub.onTransition(begin(1, 100), { topic: 'orders', partition: 0 });
    hub.flush();
    assert.strictEqual(written.length, 1);
    for (let i = 0; i < 10; i++) hub.onTransition(begin(2 + i, 101 + i), { topic: 'orders', partition: 0 });
    hub.flush();
    assert.strictEqual(written.length, 1, 'nothing is written while the stream is full');
    full = false;
    drain!();
    assert.deepStrictEqual(written.slice(1).map((m) => [m.transitions.length, m.dropped]), [[3, 7]]);
    assert.strictEqual(hub.droppedTotal, 7);
  });

  it('health: grpc.health.v1.Health/Check answers SERVING while the consumer runs, NOT_FOUND for other services', async () => {
    assert.strictEqual(await client.health(''), 'SERVING');
    assert.strictEqual(await client.health('htmqc.v1.StateService'), 'SERVING');
    fake.running = false;
    assert.strictEqual(await client.health(''), 'NOT_SERVING');
    fake.running = true;
    await rejects(client.health('no.such.Service'), grpc.status.NOT_FOUND);
  });

  it('reflection: grpc.reflection.v1 ListServices names the state, health and reflection services', async () => {
    const names = await listServices(service.address, 'v1');
    for (const s of ['htmqc.v1.StateService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']) assert.ok(names.includes(s), `${s} in ${names.join(', ')}`);
    const alpha = await listServices(service.address, 'v1alpha');
    assert.ok(alpha.includes('htmqc.v1.StateService'));
  });

  it('reflection: every map field names its entry as protoc does (FieldNameEntry), so Go clients such as grpcurl accept the descriptors', async () => {
    const files = await fileContainingSymbol(service.address, 'grpc.health.v1.Health');
    const health = files.find((f) => (f.messageType ?? []).some((m) => m.name === 'HealthListResponse'));
    assert.ok(health, `HealthListResponse in one of ${files.map((f) => f.name).join(', ')}`);
    const list = health.messageType!.find((m) => m.name === 'HealthListResponse')!;
    assert.deepStrictEqual(list.nestedType!.map((n) => n.name), ['StatusesEntry']);
    assert.strictEqual(list.field!.find((f) => f.name === 'statuses')!.typeName, 'StatusesEntry');
    let maps = 0;
    const walk = (m: ReflectedMessage): void => {
      for (const n of m.nestedType ?? []) {
        walk(n);
        if (n.options?.mapEntry !== true) continue;
        maps++;
        const f = m.field!.find((x) => x.typeName === n.name || x.typeName?.endsWith(`.${m.name}.${n.name}`));
        assert.ok(f, `${m.name}.${n.name}: no field refers to the map entry`);
        assert.strictEqual(n.name, mapEntryName(f.name), `${m.name}.${f.name}`);
      }
    };
    for (const f of files) for (const m of f.messageType ?? []) walk(m);
    assert.ok(maps >= 1);
    assert.strictEqual(mapEntryName('dead_letter_counts'), 'DeadLetterCountsEntry');
  });

  it('snapshots are shared between calls within the snapshot interval', async () => {
    const s2 = await startStateService(fake, { brokerView: fakeBrokerView, snapshotIntervalMs: 60000 });
    const c2 = createStateClient(s2.address);
    try {
      await c2.call('ListPartitions', {});
      const before = fake.snapshots;
      for (let i = 0; i < 20; i++) await c2.call('GetPartition', { topic: 'orders', partition: 0 });
      assert.strictEqual(fake.snapshots, before);
    } finally {
      c2.close();
      await s2.close();
    }
  });

  it('WatchTransitions is FAILED_PRECONDITION when the consumer was created without transitions', async () => {
    const off = new FakeConsumer();
    off.transitions = false;
    const s2 = await startStateService(off, {});
    const c2 = createStateClient(s2.address);
    try {
      const stream = c2.watch({});
      const e = await new Promise<grpc.ServiceError>((resolve) => { stream.on('data', () => undefined); stream.on('error', resolve); });
      assert.strictEqual(e.code, grpc.status.FAILED_PRECONDITION);
    } finally {
      c2.close();
      await s2.close();
    }
  });
});

describe('state service: bearer token', function () {
  this.timeout(20000);
  const fake = new FakeConsumer();
  let service: StateService;
  before(async () => { service = await startStateService(fake, { token: 's3cret' }); });
  after(async () => { await service.close(); });

  it('rejects calls without the token or with a wrong one (UNAUTHENTICATED), accepts the right one', async () => {
    const none = createStateClient(service.address);
    const wrong = createStateClient(service.address, { token: 'nope' });
    const right = createStateClient(service.address, { token: 's3cret' });
    try {
      await rejects(none.call('GetGroup', {}), grpc.status.UNAUTHENTICATED);
      await rejects(wrong.call('ListPartitions', {}), grpc.status.UNAUTHENTICATED);
      const stream = none.watch({});
      const e = await new Promise<grpc.ServiceError>((resolve) => { stream.on('data', () => undefined); stream.on('error', resolve); });
      assert.strictEqual(e.code, grpc.status.UNAUTHENTICATED);
      assert.strictEqual((await right.call('GetGroup', {}))['group_id'], 'g1');
      assert.strictEqual(await none.health(), 'SERVING', 'the health service needs no token (probes)');
    } finally {
      none.close(); wrong.close(); right.close();
    }
  });
});

describe('state service: TLS and mTLS', function () {
  this.timeout(30000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-tls-'));
  const pem = (name: string): Buffer => fs.readFileSync(path.join(dir, name));
  const fake = new FakeConsumer();

  before(function () {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      this.skip();
    }
    const ssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
    fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=htmqc test CA');
    for (const who of ['server', 'client']) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'htmqc-client'}`);
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1',
        ...(who === 'server' ? ['-extfile', 'san.ext'] : []));
    }
  });
  after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('TLS: a client trusting the CA gets answers; a plaintext client does not', async () => {
    const service = await startStateService(fake, { tls: { cert: pem('server.pem'), key: pem('server.key') } });
    const good = createStateClient(service.address, { ca: pem('ca.pem') });
    const plain = createStateClient(service.address, { deadlineMs: 2000 });
    try {
      assert.strictEqual((await good.call('GetGroup', {}))['group_id'], 'g1');
      await assert.rejects(plain.call('GetGroup', {}));
    } finally {
      good.close(); plain.close();
      await service.close();
    }
  });

  it('mTLS: with clientCa, only clients presenting a certificate it signed are served', async () => {
    const service = await startStateService(fake, { tls: { cert: pem('server.pem'), key: pem('server.key'), clientCa: pem('ca.pem') } });
    const withCert = createStateClient(service.address, { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key') });
    const without = createStateClient(service.address, { ca: pem('ca.pem'), deadlineMs: 2000 });
    try {
      assert.strictEqual((await withCert.call('ListPartitions', {}) as { partitions: unknown[] }).partitions.length, 2);
      await assert.rejects(without.call('GetGroup', {}));
    } finally {
      withCert.close(); without.close();
      await service.close();
    }
  });
});

interface ReflectedMessage { name: string; field?: { name: string; typeName?: string }[]; nestedType?: ReflectedMessage[]; options?: { mapEntry?: boolean } | null }

type ReflectionCall<Reply> = grpc.ClientDuplexStream<object, Reply>;

/** One ServerReflectionInfo exchange: writes the request, resolves with the first reply. */
async function reflect<Reply>(address: string, version: 'v1' | 'v1alpha', request: object): Promise<Reply> {
  const dir = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [dir], keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> } };
  const client = new pkg.grpc.reflection[version]!.ServerReflection(address, grpc.credentials.createInsecure());
  try {
    return await new Promise<Reply>((resolve, reject) => {
      const call = (client as unknown as { ServerReflectionInfo(): ReflectionCall<Reply> }).ServerReflectionInfo();
      call.on('data', (r: Reply) => { resolve(r); call.end(); });
      call.on('error', reject);
      call.write(request);
    });
  } finally {
    client.close();
  }
}

/** What grpcurl does before calling a method: ServerReflectionInfo with file_containing_symbol, every file decoded. */
async function fileContainingSymbol(address: string, symbol: string): Promise<{ name: string; messageType?: ReflectedMessage[] }[]> {
  type Reply = { file_descriptor_response?: { file_descriptor_proto: Buffer[] }; error_response?: { error_message: string } };
  const reply = await reflect<Reply>(address, 'v1', { file_containing_symbol: symbol });
  assert.ok(reply.file_descriptor_response, `reflection error: ${reply.error_response?.error_message}`);
  return reply.file_descriptor_response.file_descriptor_proto.map((b) => descriptor.FileDescriptorProto.decode(b) as unknown as { name: string; messageType?: ReflectedMessage[] });
}

/** What `grpcurl -plaintext ADDRESS list` does: ServerReflectionInfo with list_services. */
async function listServices(address: string, version: 'v1' | 'v1alpha'): Promise<string[]> {
  const reply = await reflect<{ list_services_response: { service: { name: string }[] } }>(address, version, { list_services: '*' });
  return reply.list_services_response.service.map((s) => s.name);
}

// Issue 20 item 8: GetMessage with a ledger — a partition held elsewhere is
// answered from its ledger row; one the ledger never fenced is NOT_FOUND.
describe('state service: GetMessage through the ledger port', function () {
  this.timeout(20000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-svc-ledger-'));
  const fake = new FakeConsumer();
  let ledger: SqliteLedger;
  let service: StateService;
  let client: StateClient;

  before(async () => {
    ledger = openSqliteLedger(path.join(dir, 'ledger.db'));
    const { epoch } = await ledger.fence({ topic: 'orders', partition: 5 });
    const done = { effects: [], deadLetter: null, absent: false };
    await ledger.commit([{ topic: 'orders', partition: 5, epoch, expectedNext: 0, upTo: 3, outcomes: [done, done, done] }]);
    service = await startStateService(fake, { ledger, snapshotIntervalMs: 0 });
    client = createStateClient(service.address);
  });
  after(async () => {
    client.close();
    await service.close();
    await ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('held elsewhere: COMMITTED below the ledger next, NOT_HELD from it on; never fenced: NOT_FOUND', async () => {
    const committed = await client.call('GetMessage', { topic: 'orders', partition: 5, offset: 2 });
    assert.deepStrictEqual([committed['location'], committed['state'], committed['ledger_next']], ['COMMITTED', 'DONE', 3]);
    const later = await client.call('GetMessage', { topic: 'orders', partition: 5, offset: 3 });
    assert.deepStrictEqual([later['location'], later['ledger_next']], ['NOT_HELD', 3]);
    await rejects(client.call('GetMessage', { topic: 'orders', partition: 6, offset: 0 }), grpc.status.NOT_FOUND, /no ledger row/);
  });
});
