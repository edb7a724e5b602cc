// Builds htmqc.v1 messages from a consumer snapshot, the broker view and the
// per-partition totals of the ledger commits this process observed.  Pure
// functions: the server calls them, the unit tests call them with fakes.

import { Action, OffsetState, type PartitionSnapshot, type TraceRecord } from '../core';
import type { ConsumerSnapshot, PartitionView } from '../runtime/consumer';
import { partitionKey, type BrokerView } from './broker-view';

/** Proto enum names of OffsetState, indexed by the core's codes (proto value = core code + 1). */
export const OFFSET_STATE_PROTO: readonly string[] = ['PENDING', 'PROCESSING', 'DONE', 'FAILED', 'DEAD_LETTERED'];

/** Proto enum names of Action, indexed by the trace action codes. */
export const ACTION_PROTO: readonly string[] = [
  'ACTION_UNSPECIFIED', 'ASSIGN', 'REVOKE', 'FETCH', 'BEGIN', 'SUCCEED', 'FAIL', 'RETRY', 'DEAD_LETTER', 'COMMIT', 'COMMIT_REJECTED',
  'COMMIT_BROKER', 'WRITE_LEDGER', 'LOSE_ANSWER', 'RECOVER',
];

export interface PartitionTotals {
  committed: number;
  deadLettered: number;
}

export interface InFlightCounts {
  pending: number; processing: number; done: number; failed: number; dead_lettered: number;
}

export interface PartitionMessage {
  topic: string;
  partition: number;
  epoch: number;
  position: number;
  ledger_next: number;
  broker_offset: number;
  high_watermark: number;
  lag: number;
  in_flight: InFlightCounts;
  paused: boolean;
  retries: number;
  dead_lettered: number;
  committed: number;
}

export interface TopicPartitions { topic: string; partitions: number[] }

export interface TransitionMessage {
  seq: number; action: string; topic: string; partition: number; epoch: number; base: number; pos: number;
  offset: number; arg: number; time_unix_ms: number;
}

function coreIndex(snapshot: ConsumerSnapshot): Map<number, PartitionSnapshot> {
  return new Map(snapshot.core.partitions.map((ps) => [ps.p, ps]));
}

export function partitionMessage(
  view: PartitionView, core: PartitionSnapshot | undefined, broker: BrokerView | undefined, totals: PartitionTotals | undefined,
): PartitionMessage {
  const in_flight: InFlightCounts = { pending: 0, processing: 0, done: 0, failed: 0, dead_lettered: 0 };
  let retries = 0;
  for (const slot of core?.win ?? []) {
    retries += slot.tries;
    switch (slot.st) {
      case OffsetState.Pending: in_flight.pending++; break;
      case OffsetState.Processing: in_flight.processing++; break;
      case OffsetState.Done: in_flight.done++; break;
      case OffsetState.Failed: in_flight.failed++; break;
      case OffsetState.DeadLettered: in_flight.dead_lettered++; break;
    }
  }
  const key = partitionKey(view.topic, view.partition);
  const high = broker?.highWatermarks.get(key) ?? -1;
  return {
    topic: view.topic, partition: view.partition, epoch: view.epoch, position: view.position, ledger_next: view.ledgerNext,
    broker_offset: broker?.brokerOffsets.get(key) ?? -1, high_watermark: high, lag: high < 0 ? -1 : Math.max(0, high - view.ledgerNext),
    in_flight, paused: view.paused, retries, dead_lettered: totals?.deadLettered ?? 0, committed: totals?.committed ?? 0,
  };
}

export function listPartitions(
  snapshot: ConsumerSnapshot, broker: BrokerView | undefined, totals: ReadonlyMap<string, PartitionTotals>, topic: string,
): PartitionMessage[] {
  const cores = coreIndex(snapshot);
  return snapshot.partitions
    .filter((v) => topic === '' || v.topic === topic)
    .map((v) => partitionMessage(v, cores.get(v.p), broker, totals.get(partitionKey(v.topic, v.partition))))
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

export function findPartition(snapshot: ConsumerSnapshot, topic: string, partition: number): PartitionView | undefined {
  return snapshot.partitions.find((v) => v.topic === topic && v.partition === partition);
}

export function groupAssignment(snapshot: ConsumerSnapshot): TopicPartitions[] {
  const byTopic = new Map<string, number[]>();
  for (const v of snapshot.partitions) {
    let list = byTopic.get(v.topic);
    if (list === undefined) byTopic.set(v.topic, (list = []));
    list.push(v.partition);
  }
  return [...byTopic.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([topic, partitions]) => ({ topic, partitions: partitions.sort((x, y) => x - y) }));
}

export function getGroup(snapshot: ConsumerSnapshot, broker: BrokerView | undefined, nowMs: number): Record<string, unknown> {
  const members = (broker?.group?.members ?? []).map((m) => ({
    member_id: m.memberId, client_id: m.clientId, client_host: m.clientHost,
    assignment: Object.keys(m.assignment).sort().map((topic) => ({ topic, partitions: [...m.assignment[topic]!].sort((x, y) => x - y) })),
  }));
  return {
    group_id: snapshot.groupId, member_id: snapshot.memberId, generation: snapshot.joins, running: snapshot.running,
    assignment: groupAssignment(snapshot), members, group_state: broker?.group?.state ?? '', protocol: broker?.group?.protocol ?? '',
    broker_view_age_ms: broker === undefined ? -1 : Math.max(0, nowMs - broker.fetchedAtMs),
  };
}

export type CommittedOutcome = 'Done' | 'DeadLettered' | 'Absent' | undefined;

/**
 * One offset: its slot in this process's window, or its place relative to the
 * ledger.  lookup reads a committed offset's outcome from the ledger when the
 * service has one to read.
 */
export function getMessage(
  snapshot: ConsumerSnapshot, topic: string, partition: number, offset: number, lookup: (() => { next: number; outcome: CommittedOutcome }) | undefined,
): Record<string, unknown> {
  const base = { topic, partition, offset, idempotency_key: `${topic}/${partition}/${offset}` };
  const view = findPartition(snapshot, topic, partition);
  if (view === undefined) {
    const row = lookup?.();
    if (row !== undefined && offset < row.next) {
      return { ...base, location: 'COMMITTED', state: committedState(row.outcome), tries: 0, ledger_next: row.next };
    }
    return { ...base, location: 'NOT_HELD', state: 'OFFSET_STATE_UNSPECIFIED', tries: 0, ledger_next: row?.next ?? -1 };
  }
  if (offset < view.ledgerNext) {
    const row = lookup?.();
    return { ...base, location: 'COMMITTED', state: committedState(row?.outcome), tries: 0, ledger_next: view.ledgerNext };
  }
  const core = snapshot.core.partitions.find((ps) => ps.p === view.p);
  const slot = core === undefined ? undefined : core.win[offset - core.base];
  if (slot === undefined || offset >= view.position) {
    return { ...base, location: 'NOT_FETCHED', state: 'OFFSET_STATE_UNSPECIFIED', tries: 0, ledger_next: view.ledgerNext };
  }
  return { ...base, location: 'IN_WINDOW', state: OFFSET_STATE_PROTO[slot.st], tries: slot.tries, ledger_next: view.ledgerNext };
}

function committedState(outcome: CommittedOutcome): string {
  if (outcome === 'Done') return 'DONE';
  if (outcome === 'DeadLettered') return 'DEAD_LETTERED';
  return 'OFFSET_STATE_UNSPECIFIED';
}

/** A trace record as a Transition message (field mapping in proto/htmqc/v1/state.proto). */
export function transitionMessage(r: TraceRecord, topic: string, partition: number, nowMs: number): TransitionMessage {
  let offset = 0;
  let arg = 0;
  switch (r.action) {
    case 'Assign': arg = r.gen; break;
    case 'Revoke':
    case 'CommitRejected': arg = r.dropped; break;
    case 'Fetch': offset = r.o; arg = r.n; break;
    case 'Begin':
    case 'Succeed':
    case 'Fail':
    case 'Retry':
    case 'DeadLetter': offset = r.o; arg = r.tries; break;
    case 'Commit': offset = r.from; arg = r.upTo; break;
    case 'CommitBroker': offset = r.offset; break;
    case 'WriteLedger': offset = r.expectedNext; arg = r.upTo; break;
    case 'LoseAnswer': offset = r.upTo; break;
    case 'Recover': offset = r.rowNext; arg = r.rowEpoch; break;
  }
  return {
    seq: r.seq, action: ACTION_PROTO[Action[r.action]]!, topic, partition, epoch: r.epoch, base: r.base, pos: r.pos, offset, arg,
    time_unix_ms: nowMs,
  };
}
