// The conformance generator (conformance/gen): TLC value and dot parsing, the
// deterministic numbering of the state graph, the edge cover, the projection
// of spec actions (spec/MC_Conformance.tla) onto protocol steps, and the
// committed vectors' own bookkeeping.

import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { coverEdges, CoverError } from '../../conformance/gen/cover';
import { parseStateGraph, type Edge, type SpecState, type StateGraph } from '../../conformance/gen/graph';
import { Projector, roleOf } from '../../conformance/gen/project';
import { canonicalJson, parseTlaState, parseTlaValue } from '../../conformance/gen/tla-value';
import { coverage, loadVectors } from '../../conformance/runner/run';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('conformance gen: TLA+ values as TLC prints them', () => {
  it('reads records, functions, sequences, strings, model values and booleans', () => {
    assert.deepEqual(parseTlaValue('(c1 :> [win |-> <<[st |-> "Done", tries |-> 1]>>, base |-> 0] @@ c2 :> TRUE)'), {
      c1: { win: [{ st: 'Done', tries: 1 }], base: 0 },
      c2: true,
    });
    assert.deepEqual(parseTlaValue('[name |-> "Commit", args |-> <<c1, p1, 1, 0, 1>>]'), { name: 'Commit', args: ['c1', 'p1', 1, 0, 1] });
    assert.deepEqual(parseTlaValue('<<>>'), []);
    assert.deepEqual(parseTlaValue('{1, -2}'), [1, -2]);
    assert.throws(() => parseTlaValue('[a |-> 1'), /expected \]/);
  });

  it('reads a state and gives equal states equal canonical text whatever the field order', () => {
    const a = parseTlaState('/\\ x = [b |-> 1, a |-> 2]\n/\\ y = (p1 :> 0)');
    const b = parseTlaState('/\\ y = (p1 :> 0)\n/\\ x = [a |-> 2, b |-> 1]');
    assert.equal(canonicalJson(a), canonicalJson(b));
  });
});

/** A TLC-style dot dump of a diamond: init -> {l, r} -> end. */
function diamondDot(ids: [string, string, string, string], reversed: boolean): string {
  const label = (n: number, name: string) =>
    `/\\\\ n = ${n}\\n/\\\\ lastAction = [name |-> \\"${name}\\", args |-> <<>>]`;
  const lines = [
    `${ids[0]} [label="${label(0, 'Init')}",style = filled]`,
    `${ids[0]} -> ${ids[1]} [label="Next",color="black",fontcolor="black"];`,
    `${ids[1]} [label="${label(1, 'Left')}"];`,
    `${ids[0]} -> ${ids[2]} [label="Next",color="black",fontcolor="black"];`,
    `${ids[2]} [label="${label(2, 'Right')}"];`,
    `${ids[1]} -> ${ids[3]} [label="Next",color="black",fontcolor="black"];`,
    `${ids[2]} -> ${ids[3]} [label="Next",color="black",fontcolor="black"];`,
    `${ids[3]} [label="${label(3, 'Join')}"];`,
  ];
  const body = reversed ? [lines[0]!, ...lines.slice(1).reverse()] : lines;
  return ['strict digraph DiskGraph {', 'subgraph cluster_graph {', ...body, '}', '}'].join('\n');
}

describe('conformance gen: the state graph', () => {
  it('numbers states and edges by content, not by TLC fingerprint or dump order', () => {
    const a = parseStateGraph(diamondDot(['11', '-22', '33', '44'], false));
    const b = parseStateGraph(diamondDot(['-9', '8', '7', '-6'], true));
    assert.deepEqual(a, b);
    assert.equal(a.states.length, 4);
    assert.equal(a.edges.length, 4);
    assert.deepEqual(a.states[0], { lastAction: { args: [], name: 'Init' }, n: 0 });
    assert.deepEqual(a.edges.map((e) => e.action.name), ['Left', 'Right', 'Join', 'Join']);
  });

  it('rejects a dump without exactly one initial state', () => {
    assert.throws(() => parseStateGraph(diamondDot(['1', '2', '3', '4'], false).replace(',style = filled', '')), /one initial state/);
  });
});

// ------------------------------------------------------------ synthetic DCSM --

interface Local { epoch: number; gen: number; base: number; win: Array<{ st: string; tries: number }>; writeUpTo: number; answer: string }
const NOT_HELD: Local = { epoch: 0, gen: 0, base: 0, win: [], writeUpTo: 0, answer: 'NoAnswer' };

function dcsmState(name: string, args: unknown[], c1: Local, extra: Record<string, unknown> = {}): SpecState {
  return {
    lastAction: { name, args }, local: { c1: { p1: c1 }, c2: { p1: NOT_HELD } }, ...extra,
  } as unknown as SpecState;
}

/** A chain graph of the given states (edge i: state i -> state i+1). */
function chain(states: SpecState[]): StateGraph {
  const edges: Edge[] = states.slice(1).map((s, i) => ({
    id: i, from: i, to: i + 1, action: s['lastAction'] as unknown as Edge['action'],
  }));
  return { states, edges, out: states.map((_s, i) => edges.filter((e) => e.from === i)) };
}

const CONFIG = { window: 2, maxRetries: 1, retryBackoff: 10, partitions: 1 };
const held = (win: Local['win'], base = 0, writeUpTo = 0, answer = 'NoAnswer'): Local => ({ epoch: 1, gen: 1, base, win, writeUpTo, answer });

describe('conformance gen: edge cover', () => {
  it('covers every edge of a diamond with walks from the initial state', () => {
    const g = parseStateGraph(diamondDot(['1', '2', '3', '4'], false));
    const paths = coverEdges(g, { isDecision: () => false, isInput: () => true, maxInputs: 10 });
    assert.deepEqual(paths.map((p) => p.map((e) => e.id)), [[0, 2], [1, 3]]);
  });

  it('never ends a walk where only the implementation\'s own decision leads on', () => {
    const g = chain([
      dcsmState('Init', [], NOT_HELD),
      dcsmState('Fetch', ['c1', 'p1', 0], held([{ st: 'Pending', tries: 0 }])),
      dcsmState('Begin', ['c1', 'p1', 0], held([{ st: 'Processing', tries: 0 }])),
    ]);
    const paths = coverEdges(g, { isDecision: (e) => roleOf(e, g) === 'decision', isInput: (e) => roleOf(e, g) === 'input', maxInputs: 1 });
    assert.deepEqual(paths.map((p) => p.map((e) => e.action.name)), [['Fetch', 'Begin']]);
  });

  it('refuses a graph where a decision competes with another step', () => {
    const states = [
      dcsmState('Init', [], NOT_HELD),
      dcsmState('Fetch', ['c1', 'p1', 0], held([{ st: 'Pending', tries: 0 }])),
      dcsmState('Begin', ['c1', 'p1', 0], held([{ st: 'Processing', tries: 0 }])),
      dcsmState('Rebalance', ['p1', 'c2'], held([{ st: 'Pending', tries: 0 }])),
    ];
    const act = (i: number) => states[i]!['lastAction'] as unknown as Edge['action'];
    const edges: Edge[] = [
      { id: 0, from: 0, to: 1, action: act(1) },
      { id: 1, from: 1, to: 2, action: act(2) },
      { id: 2, from: 1, to: 3, action: act(3) },
    ];
    const g: StateGraph = { states, edges, out: [[edges[0]!], [edges[1]!, edges[2]!], [], []] };
    assert.throws(() => coverEdges(g, { isDecision: (e) => roleOf(e, g) === 'decision', isInput: (e) => roleOf(e, g) === 'input', maxInputs: 1 }), CoverError);
  });
});

describe('conformance gen: spec actions to protocol steps (PROTOCOL.md mapping)', () => {
  const states = [
    dcsmState('Init', [], NOT_HELD),
    dcsmState('Produce', ['p1'], NOT_HELD),
    dcsmState('Assign', ['c1', 'p1', 1, 0], held([])),
    dcsmState('Fetch', ['c1', 'p1', 0], held([{ st: 'Pending', tries: 0 }])),
    dcsmState('Begin', ['c1', 'p1', 0], held([{ st: 'Processing', tries: 0 }])),
    dcsmState('Fetch', ['c1', 'p1', 1], held([{ st: 'Processing', tries: 0 }, { st: 'Pending', tries: 0 }])),
    dcsmState('Fail', ['c1', 'p1', 0], held([{ st: 'Failed', tries: 1 }, { st: 'Pending', tries: 0 }])),
    dcsmState('Retry', ['c1', 'p1', 0], held([{ st: 'Processing', tries: 1 }, { st: 'Pending', tries: 0 }])),
    dcsmState('Succeed', ['c1', 'p1', 0], held([{ st: 'Done', tries: 1 }, { st: 'Pending', tries: 0 }])),
    dcsmState('Begin', ['c1', 'p1', 1], held([{ st: 'Done', tries: 1 }, { st: 'Processing', tries: 0 }])),
    dcsmState('WriteLedger', ['c1', 'p1', 1, 0, 1], held([{ st: 'Done', tries: 1 }, { st: 'Processing', tries: 0 }], 0, 1)),
    dcsmState('LoseAnswer', ['c1', 'p1', 1, 1], held([{ st: 'Done', tries: 1 }, { st: 'Processing', tries: 0 }], 0, 1, 'Unknown')),
    dcsmState('AbortWrite', ['p1', 'c1', 1, 0, 1], held([{ st: 'Done', tries: 1 }, { st: 'Processing', tries: 0 }], 0, 1, 'Unknown')),
    dcsmState('Recover', ['c1', 'p1', 1, 0, 'NoAnswer'], held([{ st: 'Done', tries: 1 }, { st: 'Processing', tries: 0 }])),
    dcsmState('WriteLedger', ['c1', 'p1', 1, 0, 1], held([{ st: 'Done', tries: 1 }, { st: 'Processing', tries: 0 }], 0, 1)),
    dcsmState('ApplyWrite', ['p1', 'c1', 1, 0, 1, 'Committed'], held([{ st: 'Done', tries: 1 }, { st: 'Processing', tries: 0 }], 0, 1, 'Committed')),
    dcsmState('Commit', ['c1', 'p1', 1, 0, 1], held([{ st: 'Processing', tries: 0 }], 1)),
    dcsmState('CommitBroker', ['c1', 'p1', 1], held([{ st: 'Processing', tries: 0 }], 1)),
    dcsmState('Crash', ['c1'], NOT_HELD),
  ];
  const g = chain(states);
  const steps = new Projector(g, CONFIG).project(1, g.edges);
  const real = steps.filter((s) => s.probe === undefined);

  it('maps each input action to its input and derives the commands from the transitions', () => {
    assert.deepEqual(real.map((s) => [s.op, s.spec, s.input, s.expect.commands]), [
      ['step', ['Produce(p1)', 'Assign(c1, p1, 1, 0)'], { kind: 'Assigned', p: 0, epoch: 1, ledgerNext: 0, gen: 1 },
        [{ kind: 'Seek', p: 0, offset: 0 }, { kind: 'Resume', p: 0 }]],
      ['step', ['Fetch(c1, p1, 0)', 'Begin(c1, p1, 0)'], { kind: 'Fetched', p: 0, base: 0, count: 1 },
        [{ kind: 'RunHandler', p: 0, o: 0 }]],
      ['step', ['Fetch(c1, p1, 1)'], { kind: 'Fetched', p: 0, base: 1, count: 1 }, [{ kind: 'Pause', p: 0 }]],
      ['step', ['Fail(c1, p1, 0)'], { kind: 'HandlerFailed', p: 0, o: 0 }, []],
      ['step', ['Retry(c1, p1, 0)'], { kind: 'Tick', now: 10 }, [{ kind: 'RunHandler', p: 0, o: 0 }]],
      ['step', ['Succeed(c1, p1, 0)', 'Begin(c1, p1, 1)', 'WriteLedger(c1, p1, 1, 0, 1)'], { kind: 'HandlerSucceeded', p: 0, o: 0 },
        [{ kind: 'RunHandler', p: 0, o: 1 }, { kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 0, upTo: 1 }]],
      ['step', ['LoseAnswer(c1, p1, 1, 1)'], { kind: 'LedgerUnknown', p: 0 }, [{ kind: 'ReadLedger', p: 0, epoch: 1 }]],
      ['step', ['AbortWrite(p1, c1, 1, 0, 1)', 'Recover(c1, p1, 1, 0, NoAnswer)', 'WriteLedger(c1, p1, 1, 0, 1)'],
        { kind: 'LedgerRead', p: 0, epoch: 1, next: 0 }, [{ kind: 'WriteLedger', p: 0, epoch: 1, expectedNext: 0, upTo: 1 }]],
      ['step', ['ApplyWrite(p1, c1, 1, 0, 1, Committed)', 'Commit(c1, p1, 1, 0, 1)', 'CommitBroker(c1, p1, 1)'], { kind: 'LedgerCommitted', p: 0, next: 1 },
        [{ kind: 'CommitBroker', p: 0, offset: 1 }, { kind: 'Resume', p: 0 }]],
      ['reset', ['Crash(c1)'], undefined, undefined],
    ]);
  });

  it('shows the answer as the implementation knows it: Unknown after LedgerUnknown, NoAnswer while the database applied the write', () => {
    const answers = real.map((s) => s.expect.state?.partitions[0]?.answer);
    assert.deepEqual(answers.slice(6, 9), ['Unknown', 'NoAnswer', 'NoAnswer']);
  });

  it('takes the Commit or CommitRejected after a Recover as the implementation\'s own, in the LedgerRead step', () => {
    const lost = (decision: string, row: [number, number], after: SpecState[]): StateGraph => chain([
      dcsmState('Init', [], NOT_HELD),
      dcsmState('Assign', ['c1', 'p1', 1, 0], held([])),
      dcsmState('Fetch', ['c1', 'p1', 0], held([{ st: 'Pending', tries: 0 }])),
      dcsmState('Begin', ['c1', 'p1', 0], held([{ st: 'Processing', tries: 0 }])),
      dcsmState('Succeed', ['c1', 'p1', 0], held([{ st: 'Done', tries: 0 }])),
      dcsmState('WriteLedger', ['c1', 'p1', 1, 0, 1], held([{ st: 'Done', tries: 0 }], 0, 1)),
      dcsmState('LoseAnswer', ['c1', 'p1', 1, 1], held([{ st: 'Done', tries: 0 }], 0, 1, 'Unknown')),
      dcsmState('Recover', ['c1', 'p1', ...row, decision], held([{ st: 'Done', tries: 0 }], 0, 1, decision)),
      ...after,
    ]);
    const committed = lost('Committed', [1, 1], [
      dcsmState('Commit', ['c1', 'p1', 1, 0, 1], held([], 1)),
      dcsmState('CommitBroker', ['c1', 'p1', 1], held([], 1)),
    ]);
    assert.deepEqual(committed.edges.map((e) => roleOf(e, committed)).slice(-3), ['input', 'decision', 'decision']);
    const c = new Projector(committed, CONFIG).project(1, committed.edges).filter((s) => s.probe === undefined).at(-1)!;
    assert.deepEqual([c.spec, c.input, c.expect.commands], [
      ['Recover(c1, p1, 1, 1, Committed)', 'Commit(c1, p1, 1, 0, 1)', 'CommitBroker(c1, p1, 1)'],
      { kind: 'LedgerRead', p: 0, epoch: 1, next: 1 }, [{ kind: 'CommitBroker', p: 0, offset: 1 }]]);
    const rejected = lost('Rejected', [2, 0], [dcsmState('CommitRejected', ['c1', 'p1', 1], NOT_HELD)]);
    const r = new Projector(rejected, CONFIG).project(1, rejected.edges).filter((s) => s.probe === undefined).at(-1)!;
    assert.deepEqual([r.spec, r.input, r.expect.commands, r.expect.state], [
      ['Recover(c1, p1, 2, 0, Rejected)', 'CommitRejected(c1, p1, 1)'], { kind: 'LedgerRead', p: 0, epoch: 2, next: 0 },
      [{ kind: 'Pause', p: 0 }], { partitions: [] }]);
  });

  it('probes rejected inputs once per situation, with the spec guard that rejects them', () => {
    const probes = steps.filter((s) => s.probe !== undefined);
    const codes: string[] = probes.map((s) => s.expect.error ?? 'ok');
    for (const code of ['InvalidArgument', 'UnheldPartition', 'PartitionAlreadyHeld', 'OffsetOutsideWindow',
      'HandlerNotRunning', 'NoLedgerWriteInFlight', 'AnswerLost', 'AnswerNotLost', 'StaleEpoch', 'LedgerNextMismatch',
      'ClockWentBackwards', 'ok']) {
      assert.ok(codes.includes(code), `no probe expects ${code}`);
    }
    const early = probes.find((s) => s.expect.error === undefined)!;
    assert.deepEqual(early.input, { kind: 'Tick', now: 9 });
    assert.match(early.probe!, /backoff/);
  });
});

describe('conformance gen: the committed vectors', () => {
  const file = path.join(ROOT, 'conformance', 'vectors', 'dcsm.ndjson.gz');

  it('say how to regenerate them and cover every edge and action of their graph', () => {
    const suite = loadVectors(file);
    assert.match(suite.header.header, /make conformance-gen/);
    const c = coverage(suite);
    assert.equal(c.edgesCovered, suite.header.graph.edges);
    assert.equal(c.actionsCovered, suite.header.graph.actions.length);
    assert.deepEqual([c.vectors, c.steps, c.probes], [suite.header.suite.vectors, suite.header.suite.steps, suite.header.suite.probes]);
    for (const a of ['Assign', 'Revoke', 'Fetch', 'Begin', 'Succeed', 'Fail', 'Retry', 'DeadLetter', 'Commit', 'CommitRejected', 'CommitBroker', 'Crash',
      'WriteLedger', 'ApplyWrite', 'LoseAnswer', 'AbortWrite', 'Recover']) {
      assert.ok(suite.header.graph.actions.includes(a), `action ${a} is not in the graph`);
    }
  });

  it('number their steps 1.. within each vector and give each step what its op needs', () => {
    const suite = loadVectors(file);
    suite.vectors.forEach((steps, i) => {
      steps.forEach((s, j) => {
        assert.equal(s.v, i + 1);
        assert.equal(s.n, j + 1);
        if (s.op === 'step') assert.ok(s.input !== undefined && (s.expect.commands !== undefined || s.expect.error !== undefined));
      });
    });
    assert.ok(fs.statSync(file).size > 0);
  });
});
