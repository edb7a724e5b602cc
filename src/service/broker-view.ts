// The broker's side of the state view: high watermarks (spec Len(log[p])),
// the advisory group offsets (spec brokerOffset[p]) and the group's members.
// Polled in the background with a kafkajs admin client of its own, so that a
// query never waits on the broker and the consumer's connections are not used.

import { AssignerProtocol, type Admin, type Kafka } from 'kafkajs';

export interface MemberView {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
  /** topic -> partitions */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

export interface GroupView {
  readonly state: string;
  readonly protocol: string;
  readonly members: readonly MemberView[];
}

export interface BrokerView {
  /** Date.now() of the poll that produced this view. */
  readonly fetchedAtMs: number;
  /** partitionKey(topic, partition) -> high watermark */
  readonly highWatermarks: ReadonlyMap<string, number>;
  /** partitionKey(topic, partition) -> committed group offset (absent: none committed) */
  readonly brokerOffsets: ReadonlyMap<string, number>;
  readonly group: GroupView | undefined;
}

/** Where the service and the metrics read the broker view from. */
export interface BrokerViewSource {
  current(): BrokerView | undefined;
  stop(): Promise<void>;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export interface BrokerPollerOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Delay between polls, in ms (default 2000). */
  readonly intervalMs?: number;
  /** Receives poll errors (the previous view is kept). */
  readonly onError?: (error: unknown) => void;
}

/** Polls the broker every intervalMs; one poll at a time; the view is replaced whole. */
export class BrokerPoller implements BrokerViewSource {
  private view: BrokerView | undefined;
  private admin: Admin | undefined;
  private connected: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> | undefined;

  constructor(private readonly options: BrokerPollerOptions) {
    this.schedule(0);
  }

  current(): BrokerView | undefined { return this.view; }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    if (this.connected !== undefined) await this.admin?.disconnect().catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().catch((e: unknown) => this.options.onError?.(e)).finally(() => {
        this.polling = undefined;
        this.schedule(this.options.intervalMs ?? 2000);
      });
    }, ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.admin === undefined) {
      this.admin = this.options.kafka.admin();
      this.connected = this.admin.connect();
    }
    await this.connected;
    const admin = this.admin;
    const highWatermarks = new Map<string, number>();
    for (const topic of this.options.topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) highWatermarks.set(partitionKey(topic, o.partition), Number(o.high));
    }
    const brokerOffsets = new Map<string, number>();
    const committed = await admin.fetchOffsets({ groupId: this.options.groupId, topics: [...this.options.topics] });
    for (const t of committed) {
      for (const o of t.partitions) if (Number(o.offset) >= 0) brokerOffsets.set(partitionKey(t.topic, o.partition), Number(o.offset));
    }
    const described = await admin.describeGroups([this.options.groupId]);
    const g = described.groups[0];
    const group: GroupView | undefined = g === undefined ? undefined : {
      state: g.state, protocol: g.protocol,
      members: g.members.map((m) => {
        let assignment: Record<string, number[]> = {};
        try {
          assignment = (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}) as Record<string, number[]>;
        } catch {
          assignment = {};
        }
        return { memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, assignment };
      }),
    };
    this.view = { fetchedAtMs: Date.now(), highWatermarks, brokerOffsets, group };
  }
}
