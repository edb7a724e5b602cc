// Typed wrapper around tools/kafka/cluster.sh for harnesses and tests: the
// three-node KRaft cluster (replication factor 3, min.insync.replicas 2) on
// 127.0.0.1, with start, stop, kill -9 and restart of one node, and who leads
// a partition. Node lifecycle goes through the script, as broker.ts does for
// one broker; partition metadata is read in-process with kafkajs, which is
// what a harness polling for a new leader wants.
//
// Compiled to dist/tools/kafka/cluster.js.

import { spawn } from 'child_process';
import * as path from 'path';
import { Kafka, logLevel } from 'kafkajs';
import { BrokerScriptError, repoRoot } from './broker';

export const CLUSTER_NODES = [1, 2, 3] as const;
export type ClusterNode = (typeof CLUSTER_NODES)[number];

export interface ClusterOptions {
  /** Client port of node 1; node N listens on basePort + N - 1 (HTMQC_KAFKA_CLUSTER_PORT, default 19800). */
  basePort?: number;
  /** Cluster dir holding node-1..node-3 (HTMQC_KAFKA_CLUSTER_DIR, default <repo>/.cache/kafka-cluster/<basePort>). */
  dir?: string;
  /** Kafka release: '3.9.1' (default), '4' or '4.N.M' (HTMQC_KAFKA_VERSION). */
  kafkaVersion?: string;
  /** Seconds each node's start waits to serve (HTMQC_KAFKA_START_TIMEOUT, default 60). */
  startTimeoutSec?: number;
  /** Seconds stop waits after SIGTERM before SIGKILL (HTMQC_KAFKA_STOP_GRACE, default 20). */
  stopGraceSec?: number;
  /** Extra server.properties lines for every node; they override the script's settings. */
  overrides?: string[];
  /** Echo the script's output to this process's stderr as it runs. */
  verbose?: boolean;
}

export interface PartitionState {
  /** Node id of the leader, -1 while there is none. */
  leader: number;
  replicas: number[];
  isr: number[];
}

interface ScriptResult {
  code: number | null;
  output: string;
  wallMs: number;
}

export class KafkaCluster {
  readonly basePort: number;
  readonly dir: string;
  /** Wall time (ms) of every operation this object ran, in order. */
  readonly timings: { start: number[]; stop: number[]; kill: number[]; restart: number[] } = {
    start: [],
    stop: [],
    kill: [],
    restart: [],
  };

  constructor(private readonly opts: ClusterOptions = {}) {
    const env = process.env.HTMQC_KAFKA_CLUSTER_PORT;
    this.basePort = opts.basePort ?? (env ? Number(env) : 19800);
    if (!Number.isInteger(this.basePort) || this.basePort < 1024 || this.basePort > 65500) {
      throw new RangeError(`basePort (HTMQC_KAFKA_CLUSTER_PORT) must be an integer in 1024..65500, got ${this.basePort}`);
    }
    this.dir =
      opts.dir ?? process.env.HTMQC_KAFKA_CLUSTER_DIR ?? path.join(repoRoot(), '.cache', 'kafka-cluster', String(this.basePort));
  }

  /** "127.0.0.1:<port>" of node N. */
  address(node: ClusterNode): string {
    return `127.0.0.1:${this.basePort + node - 1}`;
  }

  /** The bootstrap list of all three nodes. */
  addresses(): string[] {
    return CLUSTER_NODES.map((n) => this.address(n));
  }

  /** Starts every node (or one) and resolves once each serves; idempotent. */
  async start(node?: ClusterNode): Promise<number> {
    const r = await this.run(node === undefined ? ['start'] : ['start', String(node)]);
    this.timings.start.push(r.wallMs);
    return r.wallMs;
  }

  /** Stops every node (or one): SIGTERM, then SIGKILL after the grace period. */
  async stop(node?: ClusterNode): Promise<number> {
    const r = await this.run(node === undefined ? ['stop'] : ['stop', String(node)]);
    this.timings.stop.push(r.wallMs);
    return r.wallMs;
  }

  /** SIGKILLs node N (crash simulation), keeping its data; resolves with the killed pid or null. */
  async kill(node: ClusterNode): Promise<number | null> {
    const r = await this.run(['kill', String(node)]);
    this.timings.kill.push(r.wallMs);
    const m = /killed pid (\d+)/.exec(r.output);
    return m ? Number(m[1]) : null;
  }

  /** Restarts node N on its data and resolves once it serves; resolves with its new pid. */
  async restart(node: ClusterNode): Promise<number> {
    const r = await this.run(['restart', String(node)]);
    this.timings.restart.push(r.wallMs);
    const m = /ready on \S+ \(pid (\d+)\)/.exec(r.output);
    if (!m) throw new BrokerScriptError(`cannot parse cluster.sh restart output:\n${r.output}`, r.code, r.output);
    return Number(m[1]);
  }

  /** Stops every node and deletes the cluster dir. */
  async wipe(): Promise<void> {
    await this.run(['wipe']);
  }

  /** Leader, replicas and in-sync replicas of one partition, from any live node's metadata. */
  async partitionState(topic: string, partition: number): Promise<PartitionState> {
    const kafka = new Kafka({
      clientId: 'htmqc-cluster-probe',
      brokers: this.addresses(),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 5000,
      retry: { retries: 3, initialRetryTime: 100 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const p = topics[0]?.partitions.find((x) => x.partitionId === partition);
      if (!p) throw new Error(`topic ${topic} has no partition ${partition}`);
      const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
      return { leader: p.leader, replicas: sorted(p.replicas), isr: sorted(p.isr) };
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /**
   * Node id leading the partition now (-1 while none does). A node that has
   * not yet read a new topic from the metadata log answers
   * UNKNOWN_TOPIC_OR_PARTITION, so errors are retried for up to timeoutMs.
   */
  async leaderOf(topic: string, partition: number, timeoutMs = 10000): Promise<number> {
    return (await this.waitForPartition(topic, partition, () => true, timeoutMs)).leader;
  }

  /**
   * Polls partitionState until `accept` holds; rejects after timeoutMs with the
   * last state seen, so a failover test says what the cluster looked like.
   */
  async waitForPartition(
    topic: string,
    partition: number,
    accept: (s: PartitionState) => boolean,
    timeoutMs = 30000,
  ): Promise<PartitionState> {
    const deadline = Date.now() + timeoutMs;
    let last: PartitionState | Error | undefined;
    for (;;) {
      try {
        last = await this.partitionState(topic, partition);
        if (accept(last)) return last;
      } catch (e) {
        last = e instanceof Error ? e : new Error(String(e));
      }
      if (Date.now() >= deadline) {
        const seen = last instanceof Error ? `error ${last.message}` : JSON.stringify(last);
        throw new Error(`${topic}[${partition}] did not reach the expected state within ${timeoutMs} ms; last: ${seen}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    env.HTMQC_KAFKA_CLUSTER_PORT = String(this.basePort);
    env.HTMQC_KAFKA_CLUSTER_DIR = this.dir;
    if (this.opts.kafkaVersion !== undefined) env.HTMQC_KAFKA_VERSION = this.opts.kafkaVersion;
    if (this.opts.startTimeoutSec !== undefined) env.HTMQC_KAFKA_START_TIMEOUT = String(this.opts.startTimeoutSec);
    if (this.opts.stopGraceSec !== undefined) env.HTMQC_KAFKA_STOP_GRACE = String(this.opts.stopGraceSec);
    if (this.opts.overrides !== undefined) env.HTMQC_KAFKA_OVERRIDES = this.opts.overrides.join('\n');
    return env;
  }

  private async run(args: string[]): Promise<ScriptResult> {
    const t0 = Date.now();
    const r = await new Promise<ScriptResult>((resolve, reject) => {
      const child = spawn(path.join(repoRoot(), 'tools', 'kafka', 'cluster.sh'), args, {
        env: this.env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const collect = (chunk: Buffer): void => {
        const text = chunk.toString('utf8');
        output += text;
        if (this.opts.verbose) process.stderr.write(text);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output, wallMs: Date.now() - t0 }));
    });
    if (r.code !== 0) {
      throw new BrokerScriptError(
        `tools/kafka/cluster.sh ${args.join(' ')} failed (exit ${r.code}) for ${this.addresses().join(',')}:\n${r.output}`,
        r.code,
        r.output,
      );
    }
    return r;
  }
}
