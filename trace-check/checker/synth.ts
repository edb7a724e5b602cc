// Synthetic DCSM traces: a small, deterministic simulation of a group of
// consumer processes sharing one ledger, emitting SCHEMA.md records.  Used
// by the unit tests (good traces and hand-edited bad ones) and to measure the
// checker's speed (`node dist/trace-check/checker/synth.js --bench`).
//
// The story of every generated run, per partition p:
//   1. process 0 is assigned p (epoch 1) and handles part of the log,
//      committing in batches (a failing record every failEvery offsets:
//      Fail, Retry, and after MaxRetries a DeadLetter);
//   2. process 1 joins: process 0 commits what it finished, then Revoke;
//      process 1 is assigned p (epoch 2) and handles the next part;
//   3. process 2 fences p (epoch 3) while process 1 still holds it: the
//      zombie's write in flight is refused (CommitRejected); process 2
//      handles the rest.
// Every commit is a WriteLedger and its answer (Commit or CommitRejected).

import * as fs from 'fs';
import * as path from 'path';
import { A, renderRec, type Rec } from './parse';

export interface SynthOptions {
  partitions: number;
  perPartition: number;
  window: number;
  maxRetries: number;
  /** A record whose offset is a multiple of failEvery fails (0 = never); every second such record fails for good. */
  failEvery: number;
  /** Offsets per commit. */
  commitEvery: number;
}

export interface SynthRun {
  /** NDJSON lines per process. */
  files: string[][];
  endOffsets: Record<string, number>;
}

class Proc {
  seq = 0;
  readonly lines: string[] = [];
  emit(r: Omit<Rec, 'seq'>): void {
    this.lines.push(renderRec({ ...r, seq: ++this.seq }));
  }
}

interface Held { epoch: number; base: number; pos: number; gen: number }

export function synthesize(o: SynthOptions): SynthRun {
  const procs = [new Proc(), new Proc(), new Proc()];
  const endOffsets: Record<string, number> = {};
  for (let p = 0; p < o.partitions; p++) {
    const end = o.perPartition;
    endOffsets[p] = end;
    const third = Math.floor(end / 3);
    let next = 0;
    // 1. process 0, epoch 1
    let h = assign(procs[0]!, p, 1, next, 1);
    next = handle(procs[0]!, p, h, third, o);
    commitBroker(procs[0]!, p, h);
    revoke(procs[0]!, p, h);
    // 2. process 1, epoch 2
    h = assign(procs[1]!, p, 2, next, 1);
    next = handle(procs[1]!, p, h, 2 * third, o);
    // the zombie has finished work beyond next when the fence comes
    const zombie = h;
    fetch(procs[1]!, p, zombie, Math.min(end, zombie.pos + 1));
    run(procs[1]!, p, zombie, zombie.base, o, true);
    procs[1]!.emit({ action: A.WriteLedger, p, epoch: zombie.epoch, base: zombie.base, pos: zombie.pos, a: zombie.base, b: zombie.pos });
    // 3. process 2 fences, epoch 3
    h = assign(procs[2]!, p, 3, next, 1);
    procs[1]!.emit({ action: A.CommitRejected, p, epoch: 0, base: 0, pos: 0, a: 2, b: 0 });
    next = handle(procs[2]!, p, h, end, o);
    commitBroker(procs[2]!, p, h);
    void next;
  }
  return { files: procs.map((x) => x.lines), endOffsets };
}

function assign(x: Proc, p: number, epoch: number, next: number, gen: number): Held {
  x.emit({ action: A.Assign, p, epoch, base: next, pos: next, a: gen, b: 0 });
  return { epoch, base: next, pos: next, gen };
}

function revoke(x: Proc, p: number, h: Held): void {
  x.emit({ action: A.Revoke, p, epoch: 0, base: 0, pos: 0, a: h.epoch, b: 0 });
}

function commitBroker(x: Proc, p: number, h: Held): void {
  x.emit({ action: A.CommitBroker, p, epoch: h.epoch, base: h.base, pos: h.pos, a: h.base, b: 0 });
}

function fetch(x: Proc, p: number, h: Held, upTo: number): void {
  if (upTo <= h.pos) return;
  const o = h.pos;
  h.pos = upTo;
  x.emit({ action: A.Fetch, p, epoch: h.epoch, base: h.base, pos: h.pos, a: o, b: upTo - o });
}

/** Runs handlers for offsets from..pos-1 (all fetched, in order). */
function run(x: Proc, p: number, h: Held, from: number, o: SynthOptions, quiet = false): void {
  const s = { action: 0, p, epoch: h.epoch, base: h.base, pos: h.pos, a: 0, b: 0 };
  for (let off = from; off < h.pos; off++) {
    const failing = o.failEvery > 0 && off > 0 && off % o.failEvery === 0 && !quiet;
    const forGood = failing && (off / o.failEvery) % 2 === 0;
    x.emit({ ...s, action: A.Begin, a: off, b: 0 });
    if (!failing) {
      x.emit({ ...s, action: A.Succeed, a: off, b: 0 });
      continue;
    }
    let tries = 0;
    for (;;) {
      x.emit({ ...s, action: A.Fail, a: off, b: ++tries });
      if (tries > o.maxRetries) {
        x.emit({ ...s, action: A.DeadLetter, a: off, b: tries });
        break;
      }
      x.emit({ ...s, action: A.Retry, a: off, b: tries });
      if (!forGood && tries === 1) {
        x.emit({ ...s, action: A.Succeed, a: off, b: tries });
        break;
      }
    }
  }
}

/** Fetches, handles and commits offsets up to `until`; returns the ledger's next. */
function handle(x: Proc, p: number, h: Held, until: number, o: SynthOptions): number {
  while (h.base < until) {
    const upTo = Math.min(until, h.base + Math.min(o.window, o.commitEvery));
    const ran = h.pos;
    fetch(x, p, h, upTo);
    run(x, p, h, ran, o);
    const from = h.base;
    x.emit({ action: A.WriteLedger, p, epoch: h.epoch, base: h.base, pos: h.pos, a: from, b: upTo });
    h.base = upTo;
    x.emit({ action: A.Commit, p, epoch: h.epoch, base: h.base, pos: h.pos, a: from, b: upTo });
    if ((upTo / o.commitEvery) % 4 === 0) commitBroker(x, p, h);
  }
  return h.base;
}

/** Writes a run's files into dir as p<i>.ndjson; returns their paths. */
export function writeRun(dir: string, run: SynthRun): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return run.files.map((lines, i) => {
    const f = path.join(dir, `p${i}.ndjson`);
    fs.writeFileSync(f, lines.length === 0 ? '' : lines.join('\n') + '\n');
    return f;
  });
}

if (require.main === module && process.argv.includes('--bench')) {
  // The checker's speed on a synthetic run of about 2.3 million records.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { checkTraces, formatResult } = require('./main') as typeof import('./main');
  const dir = path.join(process.cwd(), '.cache', 'trace-check-bench');
  const opts: SynthOptions = { partitions: 8, perPartition: 150000, window: 500, maxRetries: 2, failEvery: 997, commitEvery: 200 };
  const run = synthesize(opts);
  const files = writeRun(dir, run);
  const r = checkTraces({ files, maxRetries: opts.maxRetries, window: opts.window, endOffsets: run.endOffsets });
  console.log(formatResult(r));
  console.log(JSON.stringify({ bench: 'trace-check', records: r.records, seconds: r.seconds, recordsPerSecond: Math.round(r.records / r.seconds) }));
  process.exitCode = r.ok ? 0 : 1;
}
