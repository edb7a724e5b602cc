// The conformance runner (conformance/runner): how it judges replies and
// reports the first divergent step in spec terms, and how it survives an
// implementation that writes malformed JSON, crashes or hangs.

import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { commandDifference, formatDivergence, formatSuiteResult, runSuite, type VectorSuite } from '../../conformance/runner/run';
import { VECTOR_FORMAT, type VectorStep } from '../../conformance/protocol';

const ROOT = path.resolve(__dirname, '..', '..', '..');

const ASSIGN: VectorStep = {
  v: 1, n: 1, op: 'step', spec: ['Rebalance(p1, c1)', 'Assign(c1, p1, 1, 0)'], edges: [0, 1],
  input: { kind: 'Assigned', p: 0, epoch: 1, ledgerNext: 0, gen: 1 },
  expect: { commands: [{ kind: 'Seek', p: 0, offset: 0 }, { kind: 'Resume', p: 0 }], state: { partitions: [{ p: 0, epoch: 1, gen: 1, base: 0, win: [] }] } },
};
const FETCH: VectorStep = {
  v: 1, n: 2, op: 'step', spec: ['Fetch(c1, p1, 0)', 'Begin(c1, p1, 0)'], edges: [2, 3],
  input: { kind: 'Fetched', p: 0, base: 0, count: 1 },
  expect: { commands: [{ kind: 'RunHandler', p: 0, o: 0 }], state: { partitions: [{ p: 0, epoch: 1, gen: 1, base: 0, win: [{ st: 'Processing', tries: 0 }] }] } },
};
const STALE: VectorStep = {
  v: 2, n: 1, op: 'step', spec: [], edges: [], probe: 'Revoke requires Held(c, p)',
  input: { kind: 'Revoked', p: 0 }, expect: { error: 'UnheldPartition', state: { partitions: [] } },
};

const SUITE: VectorSuite = {
  header: {
    format: VECTOR_FORMAT, header: 'test', source: 'test',
    config: { window: 2, maxRetries: 1, retryBackoff: 10, partitions: 1 },
    graph: { states: 5, edges: 4, actions: ['Assign', 'Begin', 'Fetch', 'Rebalance'] },
    suite: { vectors: 2, steps: 3, probes: 1, edgesCovered: 4, actionsCovered: 4 },
  },
  vectors: [[ASSIGN, FETCH], [{ ...STALE }]],
};

let tmp: string;

/** Writes a Node implementation whose `step` handler body is given; returns the command. */
function fakeImpl(name: string, body: string): string {
  const file = path.join(tmp, `${name}.js`);
  fs.writeFileSync(file, `
const rl = require('readline').createInterface({ input: process.stdin });
let state = { partitions: [] };
const reply = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
rl.on('line', (line) => {
  const req = JSON.parse(line);
  if (req.type === 'hello') return reply({ id: req.id, type: 'hello_ok', version: 1, implementation: '${name}' });
  if (req.type === 'reset') { state = { partitions: [] }; return reply({ id: req.id, type: 'reset_ok' }); }
  if (req.type === 'state') return reply({ id: req.id, type: 'state_ok', state });
  ${body}
});
`);
  return `node ${JSON.stringify(file)}`;
}

/** Whether pid still runs after waiting up to ms for it to end (a zombie waiting to be reaped has ended). */
async function runningAfter(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return false;
    }
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    if (Date.now() > deadline) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('conformance runner', () => {
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-conformance-test-')); });
  after(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

  it('compares commands as a multiset', () => {
    const seek = { kind: 'Seek', p: 0, offset: 0 } as const;
    const resume = { kind: 'Resume', p: 0 } as const;
    assert.equal(commandDifference([seek, resume], [resume, seek]), undefined);
    assert.deepEqual(commandDifference([seek, resume], [seek, seek]), { missing: [resume], unexpected: [seek] });
  });

  it('passes the htmqc TypeScript core (through its adapter)', async () => {
    const r = await runSuite(SUITE, 'node dist/conformance/adapters/node-core.js ts', { timeoutMs: 5000, cwd: ROOT });
    assert.equal(r.protocolFailure, undefined);
    assert.deepEqual(r.results.map((x) => x.passed), [true, true]);
    assert.equal(r.implementation, 'htmqc ts core');
  });

  it('reports the first divergent step with expected vs actual in spec terms', async () => {
    // Holds the partition on Assigned but never emits Seek, and never starts a handler.
    const cmd = fakeImpl('forgetful', `
  const i = req.input;
  if (i.kind === 'Assigned') { state = { partitions: [{ p: 0, epoch: i.epoch, gen: i.gen, base: i.ledgerNext, win: [] }] };
    return reply({ id: req.id, type: 'step_ok', commands: [{ kind: 'Resume', p: 0 }] }); }
  if (i.kind === 'Revoked') return reply({ id: req.id, type: 'error', code: 'UnheldPartition', message: 'not held' });
  return reply({ id: req.id, type: 'step_ok', commands: [] });`);
    const r = await runSuite(SUITE, cmd, { timeoutMs: 5000 });
    assert.equal(r.protocolFailure, undefined);
    assert.deepEqual(r.results.map((x) => x.passed), [false, true]);
    const d = r.results[0]!.divergence!;
    assert.deepEqual([d.v, d.n], [1, 1]);
    const text = formatDivergence(SUITE, d).join('\n');
    assert.match(text, /FAIL 1\. Rebalance\(p1, c1\) ; Assign\(c1, p1, 1, 0\)  => Assigned\(p=0, epoch=1, ledgerNext=0, gen=1\)/);
    assert.match(text, /expected commands: Seek\(0, 0\) Resume\(0\)/);
    assert.match(text, /actual commands:   Resume\(0\)/);
    assert.match(text, /missing: +Seek\(0, 0\)/);
    const report = formatSuiteResult(SUITE, r);
    assert.equal(report.ok, false);
    assert.match(report.lines.join('\n'), /forgetful: 1\/2 vectors passed, 1 failed/);
  });

  it('reports a state divergence after matching commands', async () => {
    const cmd = fakeImpl('stateless', `
  const i = req.input;
  if (i.kind === 'Assigned') return reply({ id: req.id, type: 'step_ok', commands: [{ kind: 'Seek', p: 0, offset: 0 }, { kind: 'Resume', p: 0 }] });
  return reply({ id: req.id, type: 'error', code: 'UnheldPartition', message: 'not held' });`);
    const r = await runSuite(SUITE, cmd, { timeoutMs: 5000, only: [1] });
    const lines = r.results[0]!.divergence!.lines;
    assert.deepEqual(lines, ['expected state: p0: epoch 1, gen 1, base 0, win <<>>', 'actual state:   nothing held']);
  });

  it('reports an accepted input the spec rejects, with the expected error code', async () => {
    const cmd = fakeImpl('lenient', 'return reply({ id: req.id, type: \'step_ok\', commands: [] });');
    const r = await runSuite(SUITE, cmd, { timeoutMs: 5000, only: [2] });
    assert.deepEqual(r.results[0]!.divergence!.lines, ['expected: rejected with UnheldPartition', 'actual:   accepted; commands (none)']);
  });

  it('stops cleanly on malformed JSON, naming the line', async () => {
    const cmd = fakeImpl('garbled', 'process.stdout.write("RunHandler 0 0\\n");');
    const r = await runSuite(SUITE, cmd, { timeoutMs: 5000 });
    assert.equal(r.protocolFailure?.failure.kind, 'malformed');
    assert.match(r.protocolFailure!.failure.message, /not JSON: "RunHandler 0 0"/);
    assert.deepEqual([r.protocolFailure!.v, r.protocolFailure!.n], [1, 1]);
    const report = formatSuiteResult(SUITE, r);
    assert.equal(report.ok, false);
    assert.match(report.lines.join('\n'), /ERROR vector 1, step 1: malformed/);
    assert.match(report.lines.join('\n'), /0\/2 vectors passed, 0 failed, 2 not run/);
  });

  it('stops cleanly when the implementation crashes, with the end of its stderr', async () => {
    const cmd = fakeImpl('crashing', 'if (req.input.kind === \'Fetched\') { console.error(\'segfault in fetch\'); process.exit(139); } reply({ id: req.id, type: \'step_ok\', commands: [{ kind: \'Seek\', p: 0, offset: 0 }, { kind: \'Resume\', p: 0 }] }); state = { partitions: [{ p: 0, epoch: 1, gen: 1, base: 0, win: [] }] };');
    const r = await runSuite(SUITE, cmd, { timeoutMs: 5000 });
    assert.equal(r.protocolFailure?.failure.kind, 'crashed');
    assert.match(r.protocolFailure!.failure.message, /exited with code 139/);
    assert.match(r.protocolFailure!.failure.message, /segfault in fetch/);
    assert.deepEqual([r.protocolFailure!.v, r.protocolFailure!.n], [1, 2]);
  });

  it('stops cleanly when the implementation does not answer in time', async () => {
    const cmd = fakeImpl('silent', '/* never replies to step */');
    // Long enough for a node process to start and answer hello on a loaded machine (200 ms was not).
    const r = await runSuite(SUITE, cmd, { timeoutMs: 3000 });
    assert.equal(r.protocolFailure?.failure.kind, 'timeout');
    assert.match(r.protocolFailure!.failure.message, /no reply to step within 3000 ms/);
  });

  it('kills a hung implementation with its whole process group and shows the end of its stderr', async () => {
    // The shell starts the implementation as its child (as `python3 impl.py` is), which starts a helper of its own.
    const file = path.join(tmp, 'hung-group.js');
    fs.writeFileSync(file, `
const { spawn } = require('child_process');
const helper = spawn('sleep', ['300'], { stdio: 'ignore' });
console.error('helper pid ' + helper.pid + ', implementation pid ' + process.pid);
require('readline').createInterface({ input: process.stdin }).on('line', () => { /* never answers */ });
`);
    const r = await runSuite(SUITE, `node ${JSON.stringify(file)}; echo shell-still-here`, { timeoutMs: 500 });
    assert.equal(r.protocolFailure?.failure.kind, 'timeout');
    const message = r.protocolFailure!.failure.message;
    assert.match(message, /no reply to hello within 500 ms; its stderr ended with:/);
    const m = /helper pid (\d+), implementation pid (\d+)/.exec(message);
    assert.ok(m !== null, `the timeout report shows the implementation's stderr: ${message}`);
    for (const pid of [Number(m[1]), Number(m[2])]) {
      assert.equal(await runningAfter(pid, 2000), false, `process ${pid} of the implementation's group is still running`);
    }
  });

  it('stops cleanly when the command does not exist', async () => {
    const r = await runSuite(SUITE, 'exec /nonexistent/htmqc-impl', { timeoutMs: 5000 });
    assert.equal(r.protocolFailure?.failure.kind, 'crashed');
    assert.deepEqual([r.protocolFailure!.v, r.protocolFailure!.n], [0, 0]);
  });
});
