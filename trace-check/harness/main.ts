// The crash-injection soak: a real broker, a group of traced consumer
// processes sharing one ledger, and faults on a schedule; then the fast
// checker, a TLC check of a slice of the merged trace, and the audit.
//
//   node dist/trace-check/harness/main.js [--messages N] [--partitions P]
//        [--members M] [--kills K] [--broker-restarts R] [--zombies Z]
//        [--joins J] [--window W] [--poison-every E] [--port PORT]
//        [--tlc-records N | --no-tlc] [--unsafe broker-commit-first] [--seed S]
//        [--kill-kinds sigkill,after-handlers-before-ledger,...]
//        [--ledger sqlite|postgres] [--pg-port PORT] [--pg-restarts N]
//        [--pg-terminations N] [--cluster] [--cluster-port BASE]
//
// Two shapes.  --ledger sqlite (the default): one broker, members sharing one
// SQLite file.  --ledger postgres: members share nothing but the broker
// addresses and a PostgreSQL URL (no file); it implies --cluster, a
// three-broker KRaft cluster (RF 3, min.insync.replicas 2, the producer
// acks=all), where a "broker restart" is a kill -9 + restart of the current
// leader of a partition.  It adds three faults: pg_terminate_backend of every
// ledger connection of the members (as the superuser), kill -9 of the
// postmaster + restart through crash recovery, and the kill point
// ledger-commit-sent-before-reply.
//
// The schedule.  Messages are produced in chunks, one before each fault and
// one at the end, so consumption cannot outrun the faults.  Before each
// fault the harness waits until the group has committed half of what was
// produced since the previous one.  Kills rotate over the kill kinds (all by
// default): a plain SIGKILL of a member (then a replacement starts), and a
// new member armed with HTMQC_FAULT at each dangerous point (after-handlers-
// before-ledger, after-ledger-before-broker-commit, mid-rebalance, mid-dead-
// letter) that SIGKILLs itself there.  Arming is deterministic: the harness
// waits until the armed member tells it (IPC) that it holds partitions, and
// only then produces the next chunk, so the armed member has records to
// handle, a ledger write to flush and (every partition has poison records)
// a dead letter to issue; it is killed by the harness ("not reached") only
// if it still lives ARMED_WAIT_MS after that chunk.
// Other faults: SIGKILL + restart of the broker, a member joining and one
// leaving gracefully, and a zombie (SIGSTOP for longer than the session
// timeout, then SIGCONT after its partitions moved).

import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { openPostgresLedger } from '../../src/ledger/postgres';
import { brokerAddress, kill9Broker, repoRoot, startBroker, stopBroker, wipeBroker, type BrokerOptions } from '../../tools/kafka/broker';
import { KafkaCluster, type ClusterNode } from '../../tools/kafka/cluster';
import { createTopicReady } from '../../tools/kafka/topics';
import { killPg, pgUrl, startPg, stopPg } from '../../tools/postgres/pg';
import { audit, dumpContents, formatAudit, readLedgerContents, type AuditReport, type LedgerLocation } from '../audit/audit';
import { checkTraces, expandFiles, formatResult } from '../checker/main';
import type { CheckResult } from '../checker/replay';
import { runTlcOnMerged, type TlcResult } from '../tlc/generate';
import { EFFECTS_DDL, EFFECTS_DDL_PG, type SoakWorkerMessage, type SoakWorkerOptions } from './worker';
import { sendAcknowledged } from './produce';

export interface SoakOptions {
  messages: number;
  partitions: number;
  members: number;
  kills: number;
  brokerRestarts: number;
  zombies: number;
  joins: number;
  window: number;
  maxRetries: number;
  poisonEvery: number;
  valueBytes: number;
  port: number;
  /** Records of the merged trace TLC checks (0 = no TLC). */
  tlcRecords: number;
  unsafe?: string;
  /** The kill kinds the kills rotate over (default: all of KILL_KINDS). */
  killKinds?: readonly KillKind[];
  seed: number;
  /** Gives up (and fails) after this long. */
  timeoutSec: number;
  workDir?: string;
  log?: (line: string) => void;
  ledger: 'sqlite' | 'postgres';
  /** A three-broker cluster instead of one broker (implied by ledger postgres). */
  cluster: boolean;
  /** Client port of the cluster's node 1 (nodes base..base+2, controllers base+10..base+12). */
  clusterPort: number;
  pgPort: number;
  /** kill -9 of the postmaster, then a restart through crash recovery. */
  pgRestarts: number;
  /** pg_terminate_backend of every ledger connection of the members. */
  pgTerminations: number;
  /** PostgreSQL: every member loses the answer to every n-th of its commits (0 = never; spec LoseAnswer). */
  loseAnswers: number;
}

export const DEFAULTS: SoakOptions = {
  messages: 100000, partitions: 6, members: 3, kills: 20, brokerRestarts: 2, zombies: 1, joins: 2, window: 400, maxRetries: 1,
  poisonEvery: 500, valueBytes: 100, port: 19592, tlcRecords: 150, seed: 1, timeoutSec: 540,
  ledger: 'sqlite', cluster: false, clusterPort: 19800, pgPort: 15432, pgRestarts: 0, pgTerminations: 0, loseAnswers: 0,
};

export interface SoakResult {
  readonly options: SoakOptions;
  readonly seconds: number;
  readonly produced: number;
  readonly kills: number;
  readonly killsByKind: Record<string, number>;
  readonly brokerRestarts: number;
  readonly zombies: number;
  readonly joins: number;
  readonly pgRestarts: number;
  /** Backends ended by pg_terminate_backend, over every termination. */
  readonly connectionsTerminated: number;
  /** Cluster runs: each leader kill as partition, node and the new leader seen while it was down. */
  readonly leaderKills: readonly { partition: number; node: number; newLeader: number }[];
  /** Records the producer had acknowledged (acks=all) that the topic does not hold at the end. */
  readonly absentFromTopic: number;
  /** Producer sends that resolved without answering for their partition, and were sent again (trace-check/harness/produce.ts). */
  readonly partialAnswers: number;
  readonly completed: boolean;
  readonly check: CheckResult;
  readonly audit: AuditReport;
  readonly tlc: TlcResult | undefined;
  readonly workDir: string;
  readonly ok: boolean;
}

const FAULT_POINTS = ['after-handlers-before-ledger', 'after-ledger-before-broker-commit', 'mid-rebalance', 'mid-dead-letter'] as const;
/** A point only the PostgreSQL ledger has: a SQLite COMMIT is a call inside the process, with no reply in flight. */
const PG_FAULT_POINTS = ['ledger-commit-sent-before-reply'] as const;
export const KILL_KINDS = ['sigkill', ...FAULT_POINTS, ...PG_FAULT_POINTS] as const;
export type KillKind = typeof KILL_KINDS[number];
/** The kinds a run rotates over by default: every point its ledger has. */
export function defaultKillKinds(ledger: SoakOptions['ledger']): readonly KillKind[] {
  return ledger === 'postgres' ? KILL_KINDS : ['sigkill', ...FAULT_POINTS];
}
/** application_name of the PostgreSQL ledger's connections (src/ledger/postgres/pool.ts). */
const LEDGER_APPLICATION_NAME = 'htmqc-ledger';

const SESSION_TIMEOUT = 3000;
/** How long an armed member may take to join the group and be assigned partitions. */
const ARMED_ASSIGN_MS = 30000;
/** How long an assigned armed member may take to reach its point once the next chunk is produced. */
const ARMED_WAIT_MS = 20000;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Member {
  readonly child: ChildProcess;
  readonly index: number;
  readonly armed: KillKind | undefined;
  /** Partitions it holds, as it last reported over IPC. */
  held: number;
  exited: boolean;
  signal: NodeJS.Signals | null;
  stopping: boolean;
  killedByHarness: boolean;
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const stops: { what: string; stop: () => Promise<unknown> }[] = [];
  try {
    return await soakOn(opts, log, stops);
  } finally {
    // What the run started is stopped however it ended (a failed topic creation too).
    for (const s of stops.reverse()) await s.stop().catch((e: unknown) => log(`soak: stopping ${s.what} failed: ${String(e)}`));
  }
}

async function soakOn(opts: SoakOptions, log: (line: string) => void, stops: { what: string; stop: () => Promise<unknown> }[]):
  Promise<SoakResult> {
  const t0 = Date.now();
  const random = rng(opts.seed);
  const root = repoRoot();
  const useCluster = opts.cluster || opts.ledger === 'postgres';
  const brokerOverrides = ['group.min.session.timeout.ms=1000', 'group.initial.rebalance.delay.ms=0', 'num.partitions=1'];
  const cluster = useCluster ? new KafkaCluster({ basePort: opts.clusterPort, overrides: brokerOverrides }) : undefined;
  const broker: BrokerOptions = {
    port: opts.port, controllerPort: opts.port + 1,
    dataDir: path.join(root, '.cache', 'kafka-run', `test-soak-${opts.port}`),
    overrides: brokerOverrides,
  };
  const brokers = cluster !== undefined ? cluster.addresses() : [brokerAddress(broker)];
  const workDir = opts.workDir ?? path.join(root, '.cache', 'soak', `run-${opts.ledger === 'postgres' ? `pg-${opts.pgPort}` : opts.port}`);
  fs.rmSync(workDir, { recursive: true, force: true });
  const traceDir = path.join(workDir, 'traces');
  fs.mkdirSync(traceDir, { recursive: true });
  const db = path.join(workDir, 'ledger.db');
  const stamp = Date.now().toString(36);
  const topic = `soak-${opts.seed}-${stamp}`;
  const groupId = `g-${topic}`;
  const pg = { port: opts.pgPort };
  // One schema per run: a run's rows never mix with an earlier run's.
  const ledgerAt: LedgerLocation = opts.ledger === 'postgres'
    ? { kind: 'postgres', url: pgUrl(pg), schema: `soak_${opts.seed}_${stamp}` }
    : { kind: 'sqlite', db };
  if (ledgerAt.kind === 'sqlite') {
    const d = new Database(db);
    d.pragma('journal_mode = WAL');
    d.exec(EFFECTS_DDL);
    d.close();
  } else {
    const s = await startPg(pg);
    stops.push({ what: 'PostgreSQL', stop: () => stopPg(pg) });
    const l = await openPostgresLedger({ connectionString: ledgerAt.url, schema: ledgerAt.schema, userSchema: EFFECTS_DDL_PG });
    await l.close();
    log(`soak: PostgreSQL ${ledgerAt.url} (pid ${s.pid}), schema ${ledgerAt.schema}`);
  }

  if (cluster !== undefined) {
    await cluster.wipe();
    stops.push({ what: 'the cluster', stop: () => cluster.stop() });
    const ms = await cluster.start();
    log(`soak: three-broker cluster ${brokers.join(',')} up in ${ms} ms; work dir ${path.relative(process.cwd(), workDir)}`);
  } else {
    await wipeBroker(broker);
    stops.push({ what: 'the broker', stop: () => stopBroker(broker) });
    const started = await startBroker(broker);
    log(`soak: broker ${brokers[0]} up in ${started.startupMs} ms; work dir ${path.relative(process.cwd(), workDir)}`);
  }
  const kafka = new Kafka({
    clientId: 'htmqc-soak', brokers: [...brokers], logLevel: logLevel.NOTHING, connectionTimeout: 3000, requestTimeout: 15000,
    retry: { retries: 60, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  const members: Member[] = [];
  const killsByKind: Record<string, number> = {};
  let kills = 0, restarts = 0, zombies = 0, joins = 0, produced = 0, memberCount = 0, pgRestarts = 0, terminated = 0;
  const leaderKills: { partition: number; node: number; newLeader: number }[] = [];
  const workerJs = path.join(__dirname, 'worker.js');

  const forkMember = (armed?: KillKind): Member => {
    const index = memberCount++;
    const trace = path.join(traceDir, `m${String(index).padStart(3, '0')}.ndjson`);
    const wo: SoakWorkerOptions = {
      brokers, groupId, topic, ledger: ledgerAt, trace, window: opts.window, maxRetries: opts.maxRetries, retryBackoff: 10,
      poisonEvery: opts.poisonEvery, partitions: opts.partitions, sessionTimeout: SESSION_TIMEOUT, heartbeatInterval: 300,
    };
    const env: NodeJS.ProcessEnv = { ...process.env, HTMQC_TRACE_SYNC: '1' };
    delete env.HTMQC_FAULT;
    if (armed !== undefined && armed !== 'sigkill') {
      env.HTMQC_FAULT = armed;
      env.HTMQC_FAULT_AFTER = String(armed === 'mid-rebalance' || armed === 'mid-dead-letter' ? 1 : 1 + Math.floor(random() * 4));
    }
    if (opts.unsafe !== undefined) env.HTMQC_UNSAFE = opts.unsafe;
    if (opts.loseAnswers > 0) env.HTMQC_FAULT_LOSE_ANSWER_EVERY = String(opts.loseAnswers);
    const child = fork(workerJs, [JSON.stringify(wo)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env });
    child.stderr?.on('data', () => undefined);
    const m: Member = { child, index, armed, held: 0, exited: false, signal: null, stopping: false, killedByHarness: false };
    child.on('message', (msg: SoakWorkerMessage) => {
      if (msg.type === 'assigned') m.held = msg.partitions;
    });
    child.on('exit', (code, signal) => {
      m.exited = true;
      m.signal = signal;
      if (signal === 'SIGKILL' && m.armed !== undefined && m.armed !== 'sigkill' && !m.killedByHarness) {
        kills++;
        killsByKind[m.armed] = (killsByKind[m.armed] ?? 0) + 1;
      }
      // A member that died on its own (kafkajs gave up while the broker was down) is replaced.
      if (!m.stopping && signal === null && !finished) {
        log(`soak: member ${index} exited (${code}); starting a replacement`);
        forkMember();
      }
    });
    members.push(m);
    return m;
  };
  const live = (): Member[] => members.filter((m) => !m.exited && !m.stopping && m.armed === undefined);
  let finished = false;

  /** Sum of the ledger's next over the topic's partitions; -1 while the ledger cannot be read. */
  const committed = async (): Promise<number> => ledgerAt.kind === 'postgres' ? committedPg(ledgerAt, topic) : committedSqlite();
  const committedSqlite = (): number => {
    try {
      const d = new Database(db, { readonly: true, timeout: 5000 });
      try {
        return (d.prepare('SELECT coalesce(sum(next), 0) AS n FROM htmqc_partitions WHERE topic = ?').get(topic) as { n: number }).n;
      } finally {
        d.close();
      }
    } catch {
      return -1;
    }
  };
  let lastCommitted = 0;
  const progress = (): string =>
    `committed ${lastCommitted}/${produced} of ${opts.messages}; kills ${kills}/${opts.kills}; broker restarts ${restarts}/${opts.brokerRestarts}; ` +
    (ledgerAt.kind === 'postgres' ? `pg restarts ${pgRestarts}/${opts.pgRestarts}; backends terminated ${terminated}; ` : '') +
    `zombies ${zombies}; joins ${joins}; members ${members.filter((m) => !m.exited).length}; ${((Date.now() - t0) / 1000).toFixed(0)} s`;
  const ticker = setInterval(() => {
    void committed().then((c) => {
      if (c >= 0) lastCommitted = c;
      log(`soak: ${progress()}`);
    });
  }, 2000);

  // --------------------------------------------------------- schedule --
  type Event = 'kill' | 'broker' | 'zombie' | 'join' | 'pg-restart' | 'pg-terminate';
  const events: Event[] = [];
  if (ledgerAt.kind === 'postgres') {
    for (let i = 0; i < opts.pgRestarts; i++) events.push('pg-restart');
    for (let i = 0; i < opts.pgTerminations; i++) events.push('pg-terminate');
  }
  for (let i = 0; i < opts.kills; i++) events.push('kill');
  for (let i = 0; i < opts.brokerRestarts; i++) events.push('broker');
  for (let i = 0; i < opts.zombies; i++) events.push('zombie');
  for (let i = 0; i < opts.joins; i++) events.push('join');
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  const chunks = events.length + 1;
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const pad = 'x'.repeat(Math.max(0, opts.valueBytes - 10));
  const produceChunk = async (i: number): Promise<void> => {
    const target = Math.round((opts.messages * (i + 1)) / chunks);
    while (produced < target) {
      const messages = [];
      const upTo = Math.min(target, produced + 5000);
      for (let k = produced; k < upTo; k++) {
        messages.push({ partition: k % opts.partitions, key: `k${k}`, value: `${String(k).padStart(10, '0')}${pad}` });
      }
      partialAnswers += (await sendAcknowledged(producer, topic, messages)).partialAnswers;
      produced = upTo;
    }
    await countTopic();
  };
  /**
   * Records the topic holds, from the partitions' end offsets, and how many
   * acknowledged records (acks=all) it does not: the consumer can only be
   * asked to commit what the broker kept, and a record the broker
   * acknowledged and then does not serve is reported, never waited for.
   */
  let inTopic = 0, absentFromTopic = 0, partialAnswers = 0;
  const countTopic = async (): Promise<void> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      inTopic = (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0);
    } finally {
      await admin.disconnect();
    }
    if (produced - inTopic !== absentFromTopic) {
      absentFromTopic = produced - inTopic;
      log(`soak: the topic holds ${inTopic} records of ${produced} acknowledged (acks=all): ${absentFromTopic} acknowledged records absent`);
    }
  };
  /** Until the member holds partitions or has exited; false on timeout. */
  const waitAssigned = async (m: Member, timeoutMs: number): Promise<boolean> => {
    const until = Date.now() + timeoutMs;
    while (m.held === 0 && !m.exited && Date.now() < until) await sleep(50);
    return m.held > 0 || m.exited;
  };
  const waitCommitted = async (target: number, timeoutMs: number): Promise<boolean> => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const c = await committed();
      if (c >= 0) lastCommitted = c;
      if (c >= target) return true;
      await sleep(200);
    }
    return false;
  };

  let completed = false;
  const deadline = t0 + opts.timeoutSec * 1000;
  let kindIndex = 0;
  const killKinds = opts.killKinds !== undefined && opts.killKinds.length > 0 ? opts.killKinds : defaultKillKinds(opts.ledger);
  try {
    const admin = kafka.admin();
    await admin.connect();
    await createTopicReady(admin, {
      topic, numPartitions: opts.partitions, replicationFactor: cluster !== undefined ? 3 : 1,
      configEntries: cluster !== undefined ? [{ name: 'min.insync.replicas', value: '2' }] : [],
    });
    // A node that has not read the new topic yet answers UNKNOWN_TOPIC_OR_PARTITION: ask the cluster until all replicas are in sync.
    if (cluster !== undefined) {
      for (let p = 0; p < opts.partitions; p++) await cluster.waitForPartition(topic, p, (st) => st.leader > 0 && st.isr.length === 3, 60000);
    }
    await admin.disconnect();
    await producer.connect();
    for (let i = 0; i < opts.members; i++) forkMember();
    await produceChunk(0);
    await waitCommitted(Math.floor(inTopic / 2), Math.max(5000, deadline - Date.now() - 60000));
    for (let i = 0; i < events.length; i++) {
      let armed: Member | undefined;
      let armedKind: KillKind | undefined;
      const ev = events[i]!;
      switch (ev) {
        case 'kill': {
          const kind = killKinds[kindIndex++ % killKinds.length]!;
          if (kind === 'sigkill') {
            const victims = live();
            const v = victims[Math.floor(random() * victims.length)];
            if (v !== undefined) {
              v.child.kill('SIGKILL');
              kills++;
              killsByKind.sigkill = (killsByKind.sigkill ?? 0) + 1;
              forkMember();
            }
          } else {
            armed = forkMember(kind);
            armedKind = kind;
            // The next chunk is for it: produced only once it holds partitions.
            const t = Date.now();
            if (!await waitAssigned(armed, ARMED_ASSIGN_MS)) {
              log(`soak: armed member ${armed.index} (${kind}) holds no partitions after ${ARMED_ASSIGN_MS} ms`);
            } else if (!armed.exited) {
              log(`soak: armed member ${armed.index} (${kind}) holds ${armed.held} partitions after ${Date.now() - t} ms`);
            }
          }
          break;
        }
        case 'broker': {
          if (cluster !== undefined) {
            const partition = Math.floor(random() * opts.partitions);
            const node = await cluster.leaderOf(topic, partition);
            if (node < 1 || node > 3) { log(`soak: ${topic}[${partition}] has no leader to kill (${node})`); break; }
            log(`soak: kill -9 of node ${node}, the leader of ${topic}[${partition}]`);
            await cluster.kill(node as ClusterNode);
            const moved = await cluster.waitForPartition(topic, partition, (st) => st.leader > 0 && st.leader !== node, 30000)
              .catch((e: unknown) => { log(`soak: ${String(e)}`); return { leader: -1 }; });
            await sleep(1000);
            await cluster.restart(node as ClusterNode);
            await cluster.waitForPartition(topic, partition, (st) => st.isr.length === 3, 60000)
              .catch((e: unknown) => log(`soak: ${String(e)}`));
            leaderKills.push({ partition, node, newLeader: moved.leader });
            restarts++;
            log(`soak: node ${node} restarted; ${topic}[${partition}] was led by node ${moved.leader} meanwhile`);
            break;
          }
          log('soak: SIGKILL of the broker');
          await kill9Broker(broker);
          await sleep(1000);
          const r = await startBroker(broker);
          restarts++;
          log(`soak: broker restarted in ${r.startupMs} ms`);
          break;
        }
        case 'zombie': {
          const v = live()[0];
          if (v !== undefined) {
            v.child.kill('SIGSTOP');
            log(`soak: member ${v.index} paused (SIGSTOP) past the session timeout`);
            await sleep(SESSION_TIMEOUT * 2 + 2000);
            v.child.kill('SIGCONT');
            zombies++;
          }
          break;
        }
        case 'pg-restart': {
          const pid = await killPg(pg);
          log(`soak: kill -9 of the PostgreSQL postmaster (pid ${pid})`);
          await sleep(2000);
          const st = await startPg(pg);
          pgRestarts++;
          log(`soak: PostgreSQL restarted in ${st.startupMs} ms${st.recovered ? ', after crash recovery' : ' (no crash recovery in its log)'}`);
          break;
        }
        case 'pg-terminate': {
          const n = await terminateLedgerBackends(opts.pgPort);
          terminated += n;
          log(`soak: pg_terminate_backend of ${n} ledger connections`);
          break;
        }
        case 'join': {
          forkMember();
          await sleep(SESSION_TIMEOUT);
          const v = live()[0];
          if (v !== undefined) {
            v.stopping = true;
            v.child.send({ type: 'stop' });
          }
          joins++;
          break;
        }
      }
      const before = inTopic;
      await produceChunk(i + 1);
      if (armed !== undefined) {
        // It dies at its point once it handles records; if it never gets there it is killed here.
        const until = Date.now() + ARMED_WAIT_MS;
        while (!armed.exited && Date.now() < until) await sleep(50);
        if (!armed.exited) {
          log(`soak: armed member ${armed.index} (${armedKind}, holding ${armed.held} partitions) did not reach its point`);
          armed.killedByHarness = true;
          armed.child.kill('SIGKILL');
          kills++;
          const k = `${armedKind} (not reached: plain SIGKILL)`;
          killsByKind[k] = (killsByKind[k] ?? 0) + 1;
        }
      }
      await waitCommitted(before + Math.floor((inTopic - before) / 2), Math.max(5000, deadline - Date.now() - 60000));
    }
    await producer.disconnect();
    await countTopic();
    completed = await waitCommitted(inTopic, Math.max(10000, deadline - Date.now()));
    log(`soak: ${completed ? 'all committed' : 'TIMED OUT'}: ${progress()}`);
  } finally {
    finished = true;
    clearInterval(ticker);
    await Promise.all(members.filter((m) => !m.exited).map((m) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => m.child.kill('SIGKILL'), 15000);
      m.child.once('exit', () => { clearTimeout(timer); resolve(); });
      m.stopping = true;
      if (m.child.connected) m.child.send({ type: 'stop' });
      else m.child.kill('SIGKILL');
    })));
  }

  let check: CheckResult;
  let auditReport: AuditReport;
  let tlc: TlcResult | undefined;
  try {
    const endOffsets: Record<string, number> = {};
    {
      const admin = kafka.admin();
      await admin.connect();
      for (const o of await admin.fetchTopicOffsets(topic)) endOffsets[o.partition] = Number(o.high);
      await admin.disconnect();
    }
    const ledger = dumpContents(await readLedgerContents(ledgerAt, topic));
    fs.writeFileSync(path.join(workDir, 'run.json'), JSON.stringify({
      brokers, topic, ...(ledgerAt.kind === 'sqlite' ? { db } : {}), ledger: ledgerAt, endOffsets, maxRetries: opts.maxRetries, window: opts.window,
    }, null, 1));
    fs.writeFileSync(path.join(workDir, 'ledger.json'), JSON.stringify(ledger));
    const merged = path.join(workDir, 'merged.ndjson');
    check = checkTraces({
      files: expandFiles([traceDir]), maxRetries: opts.maxRetries, window: opts.window, endOffsets, ledger,
      ...(opts.tlcRecords > 0 ? { merged } : {}),
    });
    log(`soak: checker: ${formatResult(check)}`);
    auditReport = await audit(brokers, topic, ledgerAt, endOffsets);
    log(`soak: ${formatAudit(auditReport)}`);
    if (opts.tlcRecords > 0 && fs.existsSync(merged)) {
      tlc = await runTlcOnMerged(merged, path.join(workDir, 'tlc'), {
        records: opts.tlcRecords, maxRetries: opts.maxRetries, window: opts.window, endOffsets,
      });
      log(`soak: TLC on the first ${tlc.records} merged records: ${tlc.ok ? 'a behaviour of DCSM' : 'NOT a behaviour'} (${tlc.summary})`);
    }
  } finally {
    if (cluster !== undefined) await cluster.stop().catch((e: unknown) => log(`soak: stopping the cluster failed: ${String(e)}`));
    else await stopBroker(broker).catch((e: unknown) => log(`soak: stopping the broker failed: ${String(e)}`));
  }
  const seconds = (Date.now() - t0) / 1000;
  if (absentFromTopic > 0) log(`soak: FAILED: the topic does not hold ${absentFromTopic} records the producer had acknowledged (acks=all)`);
  // The lost-answer fault must have happened, or the run showed nothing about it.
  const answersLost = opts.loseAnswers === 0 || check.lostAnswers > 0;
  if (!answersLost) log(`soak: FAILED: --lose-answers ${opts.loseAnswers}, but no trace has a LoseAnswer: the fault never took effect`);
  const ok = completed && absentFromTopic === 0 && check.ok && auditReport.duplicated === 0 && auditReport.lost === 0 && auditReport.orphans === 0 &&
    answersLost && (tlc === undefined || tlc.ok);
  return {
    options: opts, seconds, produced, kills, killsByKind, brokerRestarts: restarts, zombies, joins, pgRestarts,
    connectionsTerminated: terminated, leaderKills, absentFromTopic, partialAnswers, completed,
    check, audit: auditReport, tlc, workDir, ok,
  };
}

export function parseSoakArgs(argv: string[]): SoakOptions {
  const o: SoakOptions = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    const num = (): number => {
      const raw = argv[++i];
      const n = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${v} needs a non-negative integer, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`);
      return n;
    };
    const port = (): number => {
      const n = num();
      if (n < 1024 || n > 65500) throw new Error(`${v} must be a port between 1024 and 65500, got ${n}`);
      return n;
    };
    switch (v) {
      case '--messages': o.messages = num(); break;
      case '--partitions': o.partitions = num(); break;
      case '--members': o.members = num(); break;
      case '--kills': o.kills = num(); break;
      case '--broker-restarts': o.brokerRestarts = num(); break;
      case '--zombies': o.zombies = num(); break;
      case '--joins': o.joins = num(); break;
      case '--window': o.window = num(); break;
      case '--max-retries': o.maxRetries = num(); break;
      case '--poison-every': o.poisonEvery = num(); break;
      case '--value-bytes': o.valueBytes = num(); break;
      case '--port': o.port = port(); break;
      case '--tlc-records': o.tlcRecords = num(); break;
      case '--no-tlc': o.tlcRecords = 0; break;
      case '--seed': o.seed = num(); break;
      case '--timeout': o.timeoutSec = num(); break;
      case '--unsafe': o.unsafe = argv[++i]; break;
      case '--kill-kinds': {
        const kinds = (argv[++i] ?? '').split(',').filter((k) => k !== '');
        for (const k of kinds) {
          if (!(KILL_KINDS as readonly string[]).includes(k)) throw new Error(`--kill-kinds: unknown kind ${k} (${KILL_KINDS.join(', ')})`);
        }
        o.killKinds = kinds as KillKind[];
        break;
      }
      case '--work-dir': o.workDir = argv[++i]; break;
      case '--ledger': {
        const l = argv[++i];
        if (l !== 'sqlite' && l !== 'postgres') throw new Error(`--ledger must be sqlite or postgres, got ${String(l)}`);
        o.ledger = l;
        break;
      }
      case '--cluster': o.cluster = true; break;
      case '--cluster-port': o.clusterPort = port(); break;
      case '--pg-port': o.pgPort = port(); break;
      case '--pg-restarts': o.pgRestarts = num(); break;
      case '--pg-terminations': o.pgTerminations = num(); break;
      case '--lose-answers': o.loseAnswers = num(); break;
      default: throw new Error(`unknown option ${v}`);
    }
  }
  if (o.ledger === 'postgres') o.cluster = true;
  else if (o.pgRestarts > 0 || o.pgTerminations > 0 || o.loseAnswers > 0) throw new Error('--pg-restarts, --pg-terminations and --lose-answers need --ledger postgres');
  const sqliteKind = o.ledger === 'sqlite' ? o.killKinds?.find((k) => (PG_FAULT_POINTS as readonly string[]).includes(k)) : undefined;
  if (sqliteKind !== undefined) throw new Error(`--kill-kinds: ${sqliteKind} needs --ledger postgres`);
  return o;
}

export function summaryLine(r: SoakResult): string {
  return JSON.stringify({
    soak: 'trace-check', ledger: r.options.ledger, brokers: r.options.cluster || r.options.ledger === 'postgres' ? 3 : 1,
    messages: r.options.messages, produced: r.produced, seconds: Math.round(r.seconds),
    kills: r.kills, killsByKind: r.killsByKind, armed: armedCounts(r), brokerRestarts: r.brokerRestarts, zombies: r.zombies, joins: r.joins,
    ...(r.options.ledger === 'postgres' ? { pgRestarts: r.pgRestarts, connectionsTerminated: r.connectionsTerminated } : {}),
    ...(r.leaderKills.length > 0 ? { leaderKills: r.leaderKills } : {}),
    acknowledgedAbsentFromTopic: r.absentFromTopic,
    partialAnswers: r.partialAnswers,
    completed: r.completed, checker: { ok: r.check.ok, records: r.check.records, recordsPerSecond: Math.round(r.check.records / r.check.seconds),
      lostCommitsInferred: r.check.lostCommitsInferred, lostFencesInferred: r.check.lostFencesInferred,
      lostAnswers: r.check.lostAnswers, recovered: r.check.recovered,
      violation: r.check.violation === undefined ? undefined : `${r.check.violation.file}:${r.check.violation.line}: ${r.check.violation.reason}` },
    audit: { expected: r.audit.expected, committed: r.audit.committed, duplicated: r.audit.duplicated, lost: r.audit.lost,
      deadLettered: r.audit.deadLettered, orphans: r.audit.orphans },
    tlc: r.tlc === undefined ? undefined : { ok: r.tlc.ok, records: r.tlc.records, seconds: r.tlc.seconds },
    unsafe: r.options.unsafe === undefined ? undefined : { mode: r.options.unsafe, ...caught(r) },
    ok: r.ok,
  });
}

/** The committed count of a PostgreSQL ledger; -1 while the server is down or restarting. */
async function committedPg(at: { url: string; schema: string }, topic: string): Promise<number> {
  const c = new Client({ connectionString: at.url, application_name: 'htmqc-soak', connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query<{ n: string }>(`SELECT coalesce(sum(next), 0) AS n FROM ${at.schema}.htmqc_partitions WHERE topic = $1`, [topic]);
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    return -1;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * pg_terminate_backend of every ledger connection (by application_name), as
 * the cluster's superuser (pg.sh's initdb -U postgres): an operator's or a
 * failover's cut, not a backend ending its own.  Returns how many it ended.
 */
async function terminateLedgerBackends(port: number): Promise<number> {
  const c = new Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/htmqc`, application_name: 'htmqc-soak-admin' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const r = await c.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [LEDGER_APPLICATION_NAME]);
    return r.rows.filter((x) => x.ok).length;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Armed members that reached their fault point, and those the harness killed because they did not. */
export function armedCounts(r: SoakResult): { reached: number; notReached: number } {
  let reached = 0, notReached = 0;
  for (const [kind, n] of Object.entries(r.killsByKind)) {
    if (kind === 'sigkill') continue;
    if (kind.includes('not reached')) notReached += n; else reached += n;
  }
  return { reached, notReached };
}

/** For a run with a known-wrong design: did the checker and the audit each catch it? */
export function caught(r: SoakResult): { byChecker: boolean; byAudit: boolean } {
  return { byChecker: !r.check.ok, byAudit: r.audit.lost + r.audit.duplicated > 0 };
}

if (require.main === module) {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  runSoak(parseSoakArgs(process.argv.slice(2))).then((r) => {
    console.log(summaryLine(r));
    const shape = r.options.ledger === 'postgres' ? 'PostgreSQL ledger, three-broker cluster' : `SQLite ledger, ${r.options.cluster ? 'three-broker cluster' : 'one broker'}`;
    console.log(`soak (${shape}): ${r.produced} messages in ${Math.round(r.seconds)} s`);
    if (r.absentFromTopic > 0) console.log(`soak: the broker does not hold ${r.absentFromTopic} records the producer had acknowledged (acks=all)`);
    if (r.partialAnswers > 0) console.log(`soak: ${r.partialAnswers} producer sends resolved without answering for their partition and were sent again`);
    console.log(r.ok ? 'SOAK OK: 0 duplicates, 0 losses' : 'SOAK FAILED');
    if (r.options.unsafe !== undefined) {
      const c = caught(r);
      console.log(`HTMQC_UNSAFE=${r.options.unsafe}: ${c.byChecker ? 'caught' : 'NOT caught'} by the checker, ` +
        `${c.byAudit ? 'caught' : 'NOT caught'} by the audit`);
    }
    process.exit(r.ok ? 0 : 1);
  }, (e: unknown) => {
    console.error(`soak failed: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(2);
  });
}
