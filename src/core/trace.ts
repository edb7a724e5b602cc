// Trace records: one per transition, named as the spec action it implements,
// carrying its parameters and the partition's post-state.  The contract is
// trace-check/SCHEMA.md; both cores produce identical records.

/** Spec action codes (binary trace records of the native core use them). */
export enum Action {
  Assign = 1,
  Revoke = 2,
  Fetch = 3,
  Begin = 4,
  Succeed = 5,
  Fail = 6,
  Retry = 7,
  DeadLetter = 8,
  Commit = 9,
  CommitRejected = 10,
  CommitBroker = 11,
  WriteLedger = 12,
  LoseAnswer = 13,
  Recover = 14,
}

export type ActionName = keyof typeof Action;

const ACTION_NAMES: readonly (ActionName | undefined)[] = (() => {
  const names: (ActionName | undefined)[] = [];
  for (const name of Object.keys(Action).filter((k) => Number.isNaN(Number(k))) as ActionName[]) {
    names[Action[name]] = name;
  }
  return names;
})();

interface Common {
  /** Per-process sequence number, 1, 2, 3, ... */
  readonly seq: number;
  readonly p: number;
  /** Post-state local[c][p].epoch (0 = not held). */
  readonly epoch: number;
  /** Post-state local[c][p].base (0 when not held). */
  readonly base: number;
  /** Post-state Position(c, p) = base + Len(win) (0 when not held). */
  readonly pos: number;
}

export type TraceRecord = Common & (
  | { readonly action: 'Assign'; readonly gen: number }
  | { readonly action: 'Revoke' | 'CommitRejected'; readonly dropped: number }
  | { readonly action: 'Fetch'; readonly o: number; readonly n: number }
  | { readonly action: 'Begin' | 'Succeed' | 'Fail' | 'Retry' | 'DeadLetter'; readonly o: number; readonly tries: number }
  | { readonly action: 'Commit'; readonly from: number; readonly upTo: number }
  | { readonly action: 'CommitBroker'; readonly offset: number }
  | { readonly action: 'WriteLedger'; readonly expectedNext: number; readonly upTo: number }
  | { readonly action: 'LoseAnswer'; readonly upTo: number }
  | { readonly action: 'Recover'; readonly rowEpoch: number; readonly rowNext: number }
);

/** Receives every trace record as it is produced. */
export type TraceSink = (record: TraceRecord) => void;

/** Width of a binary trace record: [seq, action, p, epoch, base, pos, a, b]. */
export const TRACE_STRIDE = 8;

/**
 * Builds a record from the binary layout's fields; a and b carry the
 * action-specific payload (table in trace-check/SCHEMA.md).  Both cores build
 * their records here, so the key order of the NDJSON rendering is one order.
 */
export function makeTraceRecord(
  seq: number, action: Action, p: number, epoch: number, base: number, pos: number, a: number, b: number,
): TraceRecord {
  const name = ACTION_NAMES[action];
  switch (name) {
    case 'Assign': return { seq, action: name, p, epoch, base, pos, gen: a };
    case 'Revoke':
    case 'CommitRejected': return { seq, action: name, p, epoch, base, pos, dropped: a };
    case 'Fetch': return { seq, action: name, p, epoch, base, pos, o: a, n: b };
    case 'Begin':
    case 'Succeed':
    case 'Fail':
    case 'Retry':
    case 'DeadLetter': return { seq, action: name, p, epoch, base, pos, o: a, tries: b };
    case 'Commit': return { seq, action: name, p, epoch, base, pos, from: a, upTo: b };
    case 'CommitBroker': return { seq, action: name, p, epoch, base, pos, offset: a };
    case 'WriteLedger': return { seq, action: name, p, epoch, base, pos, expectedNext: a, upTo: b };
    case 'LoseAnswer': return { seq, action: name, p, epoch, base, pos, upTo: a };
    case 'Recover': return { seq, action: name, p, epoch, base, pos, rowEpoch: a, rowNext: b };
    case undefined: throw new RangeError(`unknown trace action code ${action}`);
  }
}

/** Decodes binary record number i of buf (the native core's layout). */
export function decodeTraceRecord(buf: Float64Array, i: number): TraceRecord {
  const at = i * TRACE_STRIDE;
  return makeTraceRecord(buf[at]!, buf[at + 1]!, buf[at + 2]!, buf[at + 3]!, buf[at + 4]!, buf[at + 5]!, buf[at + 6]!, buf[at + 7]!);
}

/** One NDJSON line (no newline); key order is fixed by the record's construction. */
export function renderTraceRecord(r: TraceRecord): string {
  return JSON.stringify(r);
}
