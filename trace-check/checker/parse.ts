// Streaming NDJSON reader for DCSM trace files (trace-check/SCHEMA.md).
//
// Written for speed, not generality: it reads the file in 4 MiB chunks with
// readSync and parses each line byte by byte into the fields of one reusable
// record (no JSON.parse, no string per line).  It accepts exactly the record
// shapes of SCHEMA.md: flat objects, string `action`, non-negative integer
// values.  Anything else is a malformed line, reported with its line number.
// A file whose last line has no newline ends with a torn write (the process
// was SIGKILLed inside write(2)); that line is dropped and counted.

import * as fs from 'fs';

/** Action codes, shared with src/core/trace.ts (`Action`) and SCHEMA.md's binary table. */
export const A = {
  Assign: 1, Revoke: 2, Fetch: 3, Begin: 4, Succeed: 5, Fail: 6, Retry: 7, DeadLetter: 8,
  Commit: 9, CommitRejected: 10, CommitBroker: 11, WriteLedger: 12, LoseAnswer: 13, Recover: 14,
} as const;

export const ACTION_NAME: readonly string[] = [
  '', 'Assign', 'Revoke', 'Fetch', 'Begin', 'Succeed', 'Fail', 'Retry', 'DeadLetter', 'Commit', 'CommitRejected', 'CommitBroker',
  'WriteLedger', 'LoseAnswer', 'Recover',
];

// Field bits: which keys a line carried.
const F_SEQ = 1, F_ACTION = 2, F_P = 4, F_EPOCH = 8, F_BASE = 16, F_POS = 32;
const F_GEN = 64, F_DROPPED = 128, F_O = 256, F_N = 512, F_TRIES = 1024, F_FROM = 2048, F_UPTO = 4096, F_OFFSET = 8192;
const F_ROW_EPOCH = 16384, F_ROW_NEXT = 32768, F_EXPECTED_NEXT = 65536;
const COMMON = F_SEQ | F_ACTION | F_P | F_EPOCH | F_BASE | F_POS;

/** The exact field set of each action (index = action code). */
const SHAPE: readonly number[] = [
  0,
  COMMON | F_GEN, COMMON | F_DROPPED, COMMON | F_O | F_N,
  COMMON | F_O | F_TRIES, COMMON | F_O | F_TRIES, COMMON | F_O | F_TRIES, COMMON | F_O | F_TRIES, COMMON | F_O | F_TRIES,
  COMMON | F_FROM | F_UPTO, COMMON | F_DROPPED, COMMON | F_OFFSET,
  COMMON | F_EXPECTED_NEXT | F_UPTO, COMMON | F_UPTO, COMMON | F_ROW_EPOCH | F_ROW_NEXT,
];

/**
 * One parsed record in the binary layout of SCHEMA.md: a and b carry the
 * action-specific fields (Assign: gen; Revoke/CommitRejected: dropped;
 * Fetch: o, n; Begin..DeadLetter: o, tries; Commit: from, upTo;
 * CommitBroker: offset; WriteLedger: expectedNext, upTo; LoseAnswer: b = upTo;
 * Recover: rowEpoch, rowNext).
 */
export interface Rec {
  seq: number;
  action: number;
  p: number;
  epoch: number;
  base: number;
  pos: number;
  a: number;
  b: number;
}

export class TraceFormatError extends Error {
  constructor(readonly file: string, readonly line: number, message: string, readonly text: string) {
    super(`${file}:${line}: ${message}\n  ${text}`);
    this.name = 'TraceFormatError';
  }
}

const CHUNK = 4 << 20;

/** A forward cursor over one trace file: `rec` is the current record while `!done`. */
export class TraceCursor {
  readonly rec: Rec = { seq: 0, action: 0, p: 0, epoch: 0, base: 0, pos: 0, a: 0, b: 0 };
  /** 1-based line number of `rec`. */
  line = 0;
  done = false;
  /** Records read so far (including the current one). */
  count = 0;
  /** A torn last line was dropped. */
  torn = false;
  bytes = 0;

  private readonly fd: number;
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  private eof = false;
  private fileOffset = 0;

  /**
   * pMap[p] is the global partition of the file's dense partition number p
   * (the `<trace>.partitions` sidecar the runtime writes); identity when absent.
   */
  constructor(readonly file: string, readonly name = file, private readonly pMap?: readonly number[]) {
    this.fd = fs.openSync(file, 'r');
    this.advance();
  }

  /** Moves to the next record; sets `done` at the end of the file. */
  advance(): void {
    for (;;) {
      let nl = this.buf.indexOf(10, this.start);
      if (nl < 0 || nl >= this.end) {
        if (!this.fill()) {
          if (this.start < this.end) {
            this.torn = true;
            this.start = this.end;
          }
          this.done = true;
          fs.closeSync(this.fd);
          return;
        }
        continue;
      }
      const from = this.start;
      this.start = nl + 1;
      this.line++;
      if (nl > from && this.buf[nl - 1] === 13) nl--;
      if (nl === from) continue;
      const prev = this.rec.seq;
      this.parseLine(from, nl);
      if (this.rec.seq !== prev + 1) {
        this.fail(from, nl, `seq ${this.rec.seq} after ${prev}: records are missing or repeated (SCHEMA.md: seq is consecutive)`);
      }
      this.count++;
      if (this.pMap !== undefined) {
        const g = this.pMap[this.rec.p];
        if (g === undefined) this.fail(from, nl, `partition ${this.rec.p} is not declared in ${this.file}.partitions`);
        this.rec.p = g;
      }
      return;
    }
  }

  /** The current line's text (for reports; slow path). */
  text(): string {
    return JSON.stringify(this.rec);
  }

  private fill(): boolean {
    if (this.eof) return false;
    const rest = this.end - this.start;
    const size = Math.max(CHUNK, rest * 2);
    const next = Buffer.allocUnsafe(size);
    if (rest > 0) this.buf.copy(next, 0, this.start, this.end);
    const n = fs.readSync(this.fd, next, rest, size - rest, this.fileOffset);
    this.fileOffset += n;
    this.bytes += n;
    this.buf = next;
    this.start = 0;
    this.end = rest + n;
    if (n === 0) this.eof = true;
    return n > 0;
  }

  private fail(from: number, to: number, why: string): never {
    throw new TraceFormatError(this.name, this.line, why, this.buf.toString('utf8', from, to));
  }

  private parseLine(from: number, to: number): void {
    const b = this.buf;
    const r = this.rec;
    let i = from;
    let seen = 0;
    if (b[i] !== 123) this.fail(from, to, 'a record must be a JSON object');
    i++;
    for (;;) {
      if (b[i] !== 34) this.fail(from, to, 'expected a key');
      const k0 = i + 1;
      i = k0;
      while (i < to && b[i] !== 34) i++;
      const klen = i - k0;
      i++;
      if (b[i] !== 58) this.fail(from, to, 'expected ":"');
      i++;
      let field = 0;
      let value = 0;
      if (b[i] === 34) {
        // Only `action` has a string value.
        const v0 = i + 1;
        i = v0;
        while (i < to && b[i] !== 34) i++;
        if (!(klen === 6 && b[k0] === 97)) this.fail(from, to, 'only "action" may be a string');
        value = actionCode(b, v0, i - v0);
        if (value === 0) this.fail(from, to, `unknown action ${b.toString('utf8', v0, i)}`);
        i++;
        field = F_ACTION;
        r.action = value;
      } else {
        const v0 = i;
        while (i < to) {
          const d = b[i]! - 48;
          if (d < 0 || d > 9) break;
          value = value * 10 + d;
          i++;
        }
        if (i === v0 || i - v0 > 16 || (i - v0 > 1 && b[v0] === 48)) this.fail(from, to, 'values must be non-negative integers');
        if (value > Number.MAX_SAFE_INTEGER) this.fail(from, to, 'value above 2^53');
        field = numericField(b, k0, klen);
        if (field === 0) this.fail(from, to, `unknown key ${b.toString('utf8', k0, k0 + klen)}`);
        switch (field) {
          case F_SEQ: r.seq = value; break;
          case F_P: r.p = value; break;
          case F_EPOCH: r.epoch = value; break;
          case F_BASE: r.base = value; break;
          case F_POS: r.pos = value; break;
          case F_N: case F_TRIES: case F_UPTO: case F_ROW_NEXT: r.b = value; break;
          default: r.a = value; break;
        }
      }
      if ((seen & field) !== 0) this.fail(from, to, 'repeated key');
      seen |= field;
      if (b[i] === 44) { i++; continue; }
      if (b[i] === 125 && i + 1 === to) break;
      this.fail(from, to, 'expected "," or "}" ending the line');
    }
    if ((seen & F_ACTION) === 0 || seen !== SHAPE[r.action]) {
      this.fail(from, to, `fields do not match the ${ACTION_NAME[r.action] ?? '?'} record of SCHEMA.md`);
    }
    if (r.action === A.Assign || r.action === A.Revoke || r.action === A.CommitRejected || r.action === A.CommitBroker) r.b = 0;
    if (r.action === A.LoseAnswer) r.a = 0;
  }
}

function numericField(b: Buffer, k: number, len: number): number {
  const c = b[k];
  switch (len) {
    case 1: return c === 112 ? F_P : c === 111 ? F_O : c === 110 ? F_N : 0;          // p o n
    case 3: return c === 115 ? F_SEQ : c === 112 ? F_POS : c === 103 ? F_GEN : 0;     // seq pos gen
    case 4: return c === 98 ? F_BASE : c === 102 ? F_FROM : c === 117 ? F_UPTO : 0;   // base from upTo
    case 8: return c === 114 ? F_ROW_EPOCH : 0;                                          // rowEpoch
    case 12: return c === 101 ? F_EXPECTED_NEXT : 0;                                     // expectedNext
    case 5: return c === 101 ? F_EPOCH : c === 116 ? F_TRIES : 0;                      // epoch tries
    case 6: return c === 111 ? F_OFFSET : 0;                                             // offset
    case 7: return c === 100 ? F_DROPPED : c === 114 ? F_ROW_NEXT : 0;                  // dropped rowNext
    default: return 0;
  }
}

const NAMES_BY_LEN = new Map<number, { name: Buffer; code: number }[]>();
for (let code = 1; code < ACTION_NAME.length; code++) {
  const name = Buffer.from(ACTION_NAME[code]!);
  const list = NAMES_BY_LEN.get(name.length) ?? [];
  list.push({ name, code });
  NAMES_BY_LEN.set(name.length, list);
}

function actionCode(b: Buffer, at: number, len: number): number {
  const list = NAMES_BY_LEN.get(len);
  if (list === undefined) return 0;
  for (const { name, code } of list) {
    let ok = true;
    for (let j = 0; j < len; j++) {
      if (b[at + j] !== name[j]) { ok = false; break; }
    }
    if (ok) return code;
  }
  return 0;
}

/** The record as its NDJSON line (key order of SCHEMA.md), for reports and generated fixtures. */
export function renderRec(r: Rec): string {
  const head = `{"seq":${r.seq},"action":"${ACTION_NAME[r.action]}","p":${r.p},"epoch":${r.epoch},"base":${r.base},"pos":${r.pos}`;
  switch (r.action) {
    case A.Assign: return `${head},"gen":${r.a}}`;
    case A.Revoke: case A.CommitRejected: return `${head},"dropped":${r.a}}`;
    case A.Fetch: return `${head},"o":${r.a},"n":${r.b}}`;
    case A.Commit: return `${head},"from":${r.a},"upTo":${r.b}}`;
    case A.WriteLedger: return `${head},"expectedNext":${r.a},"upTo":${r.b}}`;
    case A.LoseAnswer: return `${head},"upTo":${r.b}}`;
    case A.Recover: return `${head},"rowEpoch":${r.a},"rowNext":${r.b}}`;
    case A.CommitBroker: return `${head},"offset":${r.a}}`;
    default: return `${head},"o":${r.a},"tries":${r.b}}`;
  }
}

/**
 * Reads the `<trace>.partitions` sidecar: the file's dense p -> the partition
 * (one topic per run), or undefined when the file has none.
 */
export function readPartitionMap(file: string): number[] | undefined {
  const side = `${file}.partitions`;
  if (!fs.existsSync(side)) return undefined;
  const map: number[] = [];
  const topics = new Set<string>();
  for (const line of fs.readFileSync(side, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let e: { p: number; topic: string; partition: number };
    try {
      e = JSON.parse(line) as { p: number; topic: string; partition: number };
    } catch {
      continue; // a torn last line: its p has no records (the sidecar is written first)
    }
    topics.add(e.topic);
    map[e.p] = e.partition;
  }
  if (topics.size > 1) throw new Error(`${side}: the checker handles one topic per run, found ${[...topics].join(', ')}`);
  return map;
}
