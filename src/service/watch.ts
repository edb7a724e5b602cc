// WatchTransitions fan-out.  The consumer hands every transition to
// TransitionHub.onTransition on its own path; the hub only filters, appends
// to each watcher's bounded queue and schedules one flush per event-loop turn.
//
// A slow watcher never slows the consumer:
//  1. the flush writes a watcher's queue to its stream until the stream's
//     write() reports a full buffer (HTTP/2 flow control: the client reads
//     slowly or not at all);
//  2. the watcher is then blocked until the stream's 'drain'; transitions for
//     it keep queueing up to `bound`;
//  3. beyond `bound` they are dropped and counted; the next message the
//     watcher receives carries that count in `dropped`, so the client knows
//     exactly how many it missed.

import type { PartitionRef } from '../ledger';
import { Action, type TraceRecord } from '../core';
import { transitionMessage, type TransitionMessage } from './view';

export interface WatchFilter {
  /** '' = every topic. */
  readonly topic: string;
  /** Empty = every partition. */
  readonly partitions: ReadonlySet<number>;
  /** Trace action codes; empty = every action. */
  readonly actions: ReadonlySet<number>;
}

/** What the hub needs of a server stream (a grpc-js ServerWritableStream satisfies it). */
export interface WatchSink {
  write(message: { transitions: TransitionMessage[]; dropped: number }): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/** Transitions per stream message at most. */
const MAX_BATCH = 512;

class Watcher {
  queue: TransitionMessage[] = [];
  dropped = 0;
  blocked = false;
  closed = false;
  constructor(readonly filter: WatchFilter, readonly sink: WatchSink, readonly bound: number) {}

  accepts(r: TraceRecord, ref: PartitionRef): boolean {
    const f = this.filter;
    if (f.topic !== '' && f.topic !== ref.topic) return false;
    if (f.partitions.size > 0 && !f.partitions.has(ref.partition)) return false;
    return f.actions.size === 0 || f.actions.has(Action[r.action]);
  }
}

export class TransitionHub {
  private readonly watchers = new Set<Watcher>();
  private scheduled = false;
  /** Transitions dropped over all watchers since the hub started. */
  droppedTotal = 0;

  constructor(private readonly bound: number) {}

  get size(): number { return this.watchers.size; }

  /** Registers a stream; returns the function that unregisters it. */
  add(filter: WatchFilter, sink: WatchSink): () => void {
    const w = new Watcher(filter, sink, this.bound);
    this.watchers.add(w);
    return () => {
      w.closed = true;
      this.watchers.delete(w);
    };
  }

  onTransition(r: TraceRecord, ref: PartitionRef): void {
    if (this.watchers.size === 0) return;
    let now = -1;
    for (const w of this.watchers) {
      if (!w.accepts(r, ref)) continue;
      if (w.queue.length >= w.bound) {
        w.dropped++;
        this.droppedTotal++;
        continue;
      }
      if (now < 0) now = Date.now();
      w.queue.push(transitionMessage(r, ref.topic, ref.partition, now));
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    for (const w of this.watchers) this.pump(w);
  }

  private pump(w: Watcher): void {
    while (!w.blocked && !w.closed && (w.queue.length > 0 || w.dropped > 0)) {
      const transitions = w.queue.length <= MAX_BATCH ? w.queue : w.queue.slice(0, MAX_BATCH);
      w.queue = w.queue.length <= MAX_BATCH ? [] : w.queue.slice(MAX_BATCH);
      const dropped = w.dropped;
      w.dropped = 0;
      if (!w.sink.write({ transitions, dropped })) {
        w.blocked = true;
        w.sink.once('drain', () => {
          w.blocked = false;
          this.pump(w);
        });
      }
    }
  }
}
