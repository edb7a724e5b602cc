// From a path of the MC_Conformance state graph to the steps of a vector:
// what the harness sends the implementation under test (the spec's consumer
// Tested = c1) and what it must answer.  PROTOCOL.md, "From spec actions to
// steps", is the prose form of this file.
//
// Each edge is one of:
//   input     an action of Tested the harness causes: it becomes one `step`
//             (Crash(c1) becomes a `reset`; LoseAnswer(c1, p) the input
//             LedgerUnknown, Recover(c1, p) the input LedgerRead);
//   decision  Begin, DeadLetter, CommitBroker, WriteLedger of Tested, and the
//             Commit or CommitRejected right after its Recover: the
//             implementation's own steps, which MC_Conformance schedules right
//             after the input that enabled them (rules 1-3).  They show up as
//             commands in that step's reply;
//   harness   everything else (Produce, Rebalance, Restart, the relay, the
//             database's ApplyWrite and AbortWrite, the Fencer process): no
//             message; listed in the next step's `spec`.
//
// Commands are derived from the spec's transitions: the input's own, then
// each decision's (WriteLedger from its label: MC_Conformance's rule 3 issues
// it at the end of the step for the whole finished prefix, as the cores do).

import { actionOf, formatAction, type Edge, type SpecState, type StateGraph } from './graph';
import type { TlaValue } from './tla-value';
import type {
  Answer, Command, ErrorCode, HeldPartition, Input, ObservableState, ResetConfig, Slot, SlotState, VectorStep,
} from '../protocol';

export const TESTED = 'c1';

const INPUT_ACTIONS = new Set(['Assign', 'Revoke', 'Fetch', 'Succeed', 'Fail', 'Retry', 'Commit', 'CommitRejected', 'LoseAnswer', 'Recover']);
const DECISION_ACTIONS = new Set(['Begin', 'DeadLetter', 'CommitBroker', 'WriteLedger']);
/** Taken by the implementation inside the step of its Recover (MC_Conformance rule 2), else inputs. */
const AFTER_RECOVER = new Set(['Commit', 'CommitRejected']);

export type EdgeRole = 'input' | 'reset' | 'decision' | 'harness';

/** The role of edge e of graph g (the state it leaves tells a Commit after Recover from a LedgerCommitted). */
export function roleOf(e: Edge, g: StateGraph): EdgeRole {
  const a = e.action;
  const mine = a.args[0] === TESTED;
  if (mine && AFTER_RECOVER.has(a.name)) {
    const before = actionOf(g.states[e.from]!);
    if (before.name === 'Recover' && before.args[0] === TESTED && before.args[1] === a.args[1]) return 'decision';
  }
  if (mine && INPUT_ACTIONS.has(a.name)) return 'input';
  if (mine && DECISION_ACTIONS.has(a.name)) return 'decision';
  if (mine && a.name === 'Crash') return 'reset';
  return 'harness';
}

/** The protocol's partition number of a spec partition: p1 -> 0, p2 -> 1. */
export function partitionNumber(p: TlaValue): number {
  const m = /^p(\d+)$/.exec(String(p));
  if (m === null) throw new Error(`not a partition model value: ${String(p)}`);
  return Number(m[1]) - 1;
}

interface LocalRec { epoch: number; gen: number; base: number; win: Slot[]; writeUpTo: number; answer: string }

function obj(v: TlaValue | undefined, what: string): { [k: string]: TlaValue } {
  if (v === undefined || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what}: expected a record or function`);
  return v;
}

function num(v: TlaValue | undefined, what: string): number {
  if (typeof v !== 'number') throw new Error(`${what}: expected an integer`);
  return v;
}

/** local[Tested][p] for every partition p of the state, by spec name. */
export function testedLocal(s: SpecState): Map<string, LocalRec> {
  const mine = obj(obj(s['local'], 'local')[TESTED], `local[${TESTED}]`);
  const out = new Map<string, LocalRec>();
  for (const p of Object.keys(mine).sort()) {
    const l = obj(mine[p], `local[${TESTED}][${p}]`);
    const win = l['win'];
    if (!Array.isArray(win)) throw new Error('win: expected a sequence');
    out.set(p, {
      epoch: num(l['epoch'], 'epoch'),
      gen: num(l['gen'], 'gen'),
      base: num(l['base'], 'base'),
      win: win.map((x) => {
        const slot = obj(x, 'slot');
        return { st: String(slot['st']) as SlotState, tries: num(slot['tries'], 'tries') };
      }),
      writeUpTo: num(l['writeUpTo'], 'writeUpTo'),
      answer: String(l['answer']),
    });
  }
  return out;
}

/**
 * The answer as the implementation knows it: the spec's Committed or Rejected
 * (the database applied or refused the write, ApplyWrite) is not visible to
 * it until the answer arrives, so it shows NoAnswer.
 */
function observedAnswer(l: LocalRec): Answer {
  return l.answer === 'Unknown' ? 'Unknown' : 'NoAnswer';
}

/** The observable state of the tested process in a spec state. */
export function observe(s: SpecState): ObservableState {
  const partitions: HeldPartition[] = [];
  for (const [p, l] of testedLocal(s)) {
    if (l.epoch === 0) continue;
    partitions.push({ p: partitionNumber(p), epoch: l.epoch, gen: l.gen, base: l.base, win: l.win, answer: observedAnswer(l) });
  }
  partitions.sort((a, b) => a.p - b.p);
  return { partitions };
}

function finishedPrefixLen(win: readonly Slot[]): number {
  let k = 0;
  while (k < win.length && (win[k]!.st === 'Done' || win[k]!.st === 'DeadLettered')) k++;
  return k;
}

/**
 * What the harness knows of the tested process beyond the spec state:
 * the clock it drives, the highest epoch it assigned since the last reset,
 * and when a failed head's Retry is due.
 */
interface Harness {
  now: number;
  fence: Map<number, number>;
  dueAt: Map<number, number>;
}

function freshHarness(): Harness {
  return { now: 0, fence: new Map(), dueAt: new Map() };
}

export class ProjectionError extends Error {}

/**
 * Turns paths (each from the initial state) into vector steps.  `probesAt`
 * decides, per stable state, which rejected inputs to try there; probes are
 * emitted the first time a distinct situation of the tested process is met
 * across all paths, so the set depends on the path order only.
 */
export class Projector {
  private readonly seenSituations = new Set<string>();
  private probeCount = 0;

  constructor(private readonly graph: StateGraph, private readonly config: ResetConfig) {}

  get probes(): number { return this.probeCount; }

  project(v: number, path: readonly Edge[]): VectorStep[] {
    const steps: VectorStep[] = [];
    const h = freshHarness();
    let pending: Edge[] = [];
    let i = 0;
    const push = (s: Omit<VectorStep, 'v' | 'n'>) => { steps.push({ v, n: steps.length + 1, ...s }); };
    while (i < path.length) {
      const e = path[i]!;
      const role = roleOf(e, this.graph);
      if (role === 'harness') {
        pending.push(e);
        i++;
        continue;
      }
      if (role === 'decision') throw new ProjectionError(`vector ${v}: decision ${formatAction(e.action)} without an input before it`);
      // Probes first, in the state the implementation is in now.
      for (const probe of this.probesAt(this.graph.states[e.from]!, h)) push(probe);
      const group = [...pending, e];
      pending = [];
      i++;
      while (i < path.length && roleOf(path[i]!, this.graph) === 'decision') group.push(path[i++]!);
      push(this.stepFor(group, e, h));
    }
    if (pending.length > 0) {
      const last = this.graph.states[pending[pending.length - 1]!.to]!;
      push({ op: 'state', spec: pending.map((x) => formatAction(x.action)), edges: pending.map((x) => x.id), expect: { state: observe(last) } });
    }
    if (path.length > 0) {
      for (const probe of this.probesAt(this.graph.states[path[path.length - 1]!.to]!, h)) push(probe);
    }
    return steps;
  }

  /** One input (e) with the harness actions before it and the decisions after it. */
  private stepFor(group: readonly Edge[], e: Edge, h: Harness): Omit<VectorStep, 'v' | 'n'> {
    const spec = group.map((x) => formatAction(x.action));
    const edges = group.map((x) => x.id);
    const after = this.graph.states[group[group.length - 1]!.to]!;
    const state = observe(after);
    if (roleOf(e, this.graph) === 'reset') {
      h.now = 0;
      h.fence.clear();
      h.dueAt.clear();
      return { op: 'reset', spec, edges, expect: { state } };
    }
    const a = e.action;
    const p = partitionNumber(a.args[1]!);
    const pName = String(a.args[1]);
    const before = testedLocal(this.graph.states[e.from]!).get(pName)!;
    const afterInput = testedLocal(this.graph.states[e.to]!).get(pName)!;
    const commands: Command[] = [];
    let input: Input;
    switch (a.name) {
      case 'Assign': {
        const epoch = num(a.args[2], 'epoch');
        const next = num(a.args[3], 'next');
        input = { kind: 'Assigned', p, epoch, ledgerNext: next, gen: afterInput.gen };
        commands.push({ kind: 'Seek', p, offset: next }, { kind: 'Resume', p });
        h.fence.set(p, epoch);
        break;
      }
      case 'Revoke':
        input = { kind: 'Revoked', p };
        h.dueAt.delete(p);
        break;
      case 'Fetch': {
        input = { kind: 'Fetched', p, base: num(a.args[2], 'offset'), count: 1 };
        if (afterInput.win.length === this.config.window) commands.push({ kind: 'Pause', p });
        break;
      }
      case 'Succeed':
        input = { kind: 'HandlerSucceeded', p, o: num(a.args[2], 'offset') };
        break;
      case 'Fail': {
        const o = num(a.args[2], 'offset');
        input = { kind: 'HandlerFailed', p, o };
        const slot = afterInput.win[o - afterInput.base]!;
        if (slot.tries <= this.config.maxRetries) h.dueAt.set(p, h.now + this.config.retryBackoff);
        break;
      }
      case 'Retry': {
        const due = h.dueAt.get(p);
        if (due === undefined) throw new ProjectionError(`Retry without a Fail before it: ${formatAction(a)}`);
        h.now = Math.max(h.now, due);
        h.dueAt.delete(p);
        input = { kind: 'Tick', now: h.now };
        commands.push({ kind: 'RunHandler', p, o: num(a.args[2], 'offset') });
        break;
      }
      case 'Commit': {
        const upTo = num(a.args[4], 'upTo');
        if (before.writeUpTo !== upTo) {
          throw new ProjectionError(`${formatAction(a)} but the write in flight is for ${before.writeUpTo}: MC_Conformance and the ledger contract disagree`);
        }
        input = { kind: 'LedgerCommitted', p, next: upTo };
        this.commitCommands(p, upTo, before, commands);
        break;
      }
      case 'CommitRejected':
        input = { kind: 'LedgerRejected', p };
        commands.push({ kind: 'Pause', p });
        h.dueAt.delete(p);
        break;
      case 'LoseAnswer':
        input = { kind: 'LedgerUnknown', p };
        commands.push({ kind: 'ReadLedger', p, epoch: num(a.args[2], 'epoch') });
        break;
      case 'Recover':
        input = { kind: 'LedgerRead', p, epoch: num(a.args[2], 'row epoch'), next: num(a.args[3], 'row next') };
        break;
      default:
        throw new ProjectionError(`no input for ${formatAction(a)}`);
    }
    for (const d of group.slice(group.indexOf(e) + 1)) {
      const da = d.action;
      switch (da.name) {
        case 'Begin': commands.push({ kind: 'RunHandler', p, o: num(da.args[2], 'offset') }); break;
        case 'DeadLetter': commands.push({ kind: 'DeadLetter', p, o: num(da.args[2], 'offset') }); break;
        // The spec's step is Kafka accepting the command the Commit already listed.
        case 'CommitBroker': break;
        // Recover decided Committed or Rejected: the implementation takes it in the same step.
        case 'Commit': this.commitCommands(p, num(da.args[4], 'upTo'), testedLocal(this.graph.states[d.from]!).get(pName)!, commands); break;
        case 'CommitRejected': commands.push({ kind: 'Pause', p }); h.dueAt.delete(p); break;
        case 'WriteLedger':
          commands.push({
            kind: 'WriteLedger', p, epoch: num(da.args[2], 'epoch'), expectedNext: num(da.args[3], 'expectedNext'), upTo: num(da.args[4], 'upTo'),
          });
          break;
        default: throw new ProjectionError(`no command for the decision ${formatAction(da)}`);
      }
    }
    // MC_Conformance's rule 3 is the cores' Ready point: a finished prefix never waits without a write.
    const final = testedLocal(after).get(pName)!;
    if (final.epoch !== 0 && final.writeUpTo === 0 && finishedPrefixLen(final.win) > 0) {
      throw new ProjectionError(`after ${spec.join(' ; ')} a finished prefix has no write in flight: MC_Conformance rule 3 and the cores disagree`);
    }
    return { op: 'step', spec, edges, input, expect: { commands, state } };
  }

  /** The commands of spec Commit: CommitBroker(p, upTo), and Resume(p) if the window was full (it was paused). */
  private commitCommands(p: number, upTo: number, before: LocalRec, commands: Command[]): void {
    commands.push({ kind: 'CommitBroker', p, offset: upTo });
    if (before.win.length === this.config.window) commands.push({ kind: 'Resume', p });
  }

  /**
   * Inputs the spec does not allow in state s (each must be rejected with
   * the code given and change nothing), plus a Tick before a Retry is due.
   * Only the first time this situation of the tested process is met.
   */
  private probesAt(s: SpecState, h: Harness): Array<Omit<VectorStep, 'v' | 'n'>> {
    const local = testedLocal(s);
    const seen = [...local].map(([p, l]) => [p, { ...l, answer: observedAnswer(l) }]);
    const situation = JSON.stringify({ local: seen, h: [h.now > 0, [...h.fence], [...h.dueAt].map(([p, d]) => [p, d > h.now + 1])] });
    if (this.seenSituations.has(situation)) return [];
    const first = this.seenSituations.size === 0;
    this.seenSituations.add(situation);
    const state = observe(s);
    const out: Array<Omit<VectorStep, 'v' | 'n'>> = [];
    const reject = (probe: string, input: Input, error: ErrorCode) => {
      out.push({ op: 'step', spec: [], edges: [], probe, input, expect: { error, state } });
    };
    if (first) {
      reject('the partition is outside 0..partitions-1', { kind: 'Revoked', p: this.config.partitions }, 'InvalidArgument');
      reject('Fetched needs count >= 1', { kind: 'Fetched', p: 0, base: 0, count: 0 }, 'InvalidArgument');
      reject('LedgerRead needs the row\'s next', { kind: 'LedgerRead', p: 0, epoch: 1 } as unknown as Input, 'InvalidArgument');
    }
    for (const [pName, l] of local) {
      const p = partitionNumber(pName);
      const fence = h.fence.get(p) ?? 0;
      if (l.epoch === 0) {
        reject('Revoke requires Held(c, p)', { kind: 'Revoked', p }, 'UnheldPartition');
        reject('Succeed requires Held(c, p)', { kind: 'HandlerSucceeded', p, o: 0 }, 'UnheldPartition');
        reject('Commit requires Held(c, p)', { kind: 'LedgerCommitted', p, next: 1 }, 'UnheldPartition');
        reject('LoseAnswer requires Held(c, p)', { kind: 'LedgerUnknown', p }, 'UnheldPartition');
        reject('Recover requires Held(c, p) (a row read after Revoked is dropped)', { kind: 'LedgerRead', p, epoch: Math.max(fence, 1), next: 1 }, 'UnheldPartition');
        if (fence > 0) {
          reject('Assign issues an epoch above every epoch held before (the ledger fences)', { kind: 'Assigned', p, epoch: fence, ledgerNext: 0, gen: 1 }, 'StaleEpoch');
        }
        continue;
      }
      const pos = l.base + l.win.length;
      reject('Assign requires ~Held(c, p)', { kind: 'Assigned', p, epoch: fence + 1, ledgerNext: l.base, gen: l.gen + 1 }, 'PartitionAlreadyHeld');
      reject('Fetch appends the record at Position(c, p) only', { kind: 'Fetched', p, base: pos + 1, count: 1 }, 'OffsetOutsideWindow');
      reject('Succeed is for the head of the window', { kind: 'HandlerSucceeded', p, o: pos }, 'OffsetOutsideWindow');
      const idle = l.win.findIndex((x) => x.st !== 'Processing');
      if (idle >= 0) {
        reject(`Fail requires the slot to be Processing (it is ${l.win[idle]!.st})`, { kind: 'HandlerFailed', p, o: l.base + idle }, 'HandlerNotRunning');
      }
      if (l.writeUpTo === 0) {
        reject('Commit requires a WriteLedger in flight (FinishedPrefixLen > 0)', { kind: 'LedgerCommitted', p, next: l.base + 1 }, 'NoLedgerWriteInFlight');
        reject('CommitRejected requires a WriteLedger in flight (FinishedPrefixLen > 0)', { kind: 'LedgerRejected', p }, 'NoLedgerWriteInFlight');
        reject('LoseAnswer requires a WriteLedger in flight (writeUpTo # 0)', { kind: 'LedgerUnknown', p }, 'NoLedgerWriteInFlight');
        reject('Recover requires a lost answer (answer = Unknown)', { kind: 'LedgerRead', p, epoch: l.epoch, next: l.base }, 'AnswerNotLost');
      } else if (observedAnswer(l) !== 'Unknown') {
        reject(`Commit sets next to the upTo of the write in flight (${l.writeUpTo})`, { kind: 'LedgerCommitted', p, next: l.writeUpTo + 1 }, 'LedgerNextMismatch');
        reject('Recover requires a lost answer (answer = Unknown)', { kind: 'LedgerRead', p, epoch: l.epoch, next: l.writeUpTo }, 'AnswerNotLost');
      } else {
        reject('Commit requires answer = Committed: after a lost answer only the row decides', { kind: 'LedgerCommitted', p, next: l.writeUpTo }, 'AnswerLost');
        reject('CommitRejected requires answer = Rejected: after a lost answer only the row decides', { kind: 'LedgerRejected', p }, 'AnswerLost');
        reject('LoseAnswer requires answer # Unknown', { kind: 'LedgerUnknown', p }, 'AnswerLost');
        reject('a ledger row never goes back to an older epoch (FencingInv)', { kind: 'LedgerRead', p, epoch: l.epoch - 1, next: l.base }, 'StaleEpoch');
        reject(`under the held epoch the row's next is the write's expectedNext (${l.base}) or its upTo (${l.writeUpTo}) (WriteInFlightInv)`,
          { kind: 'LedgerRead', p, epoch: l.epoch, next: l.writeUpTo + 1 }, 'LedgerNextMismatch');
      }
      const head = l.win[finishedPrefixLen(l.win)];
      const due = h.dueAt.get(p);
      if (head !== undefined && head.st === 'Failed' && head.tries <= this.config.maxRetries && due !== undefined && due - 1 > h.now) {
        h.now = due - 1;
        out.push({ op: 'step', spec: [], edges: [], probe: 'Retry comes after the backoff only: nothing is due yet', input: { kind: 'Tick', now: h.now }, expect: { commands: [], state } });
      }
    }
    if (h.now > 0) reject('the clock never goes back', { kind: 'Tick', now: h.now - 1 }, 'ClockWentBackwards');
    this.probeCount += out.length;
    return out;
  }
}
