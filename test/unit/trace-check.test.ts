// The fast trace checker (trace-check/checker) against spec/DCSM.tla's
// transition relation: synthetic runs of three processes (Assign, Fetch,
// Begin, Succeed, Fail, Retry, DeadLetter, Commit, CommitBroker, Revoke, and a
// zombie's CommitRejected after a fence) pass; hand-edited runs -- a
// duplicated commit, a skipped offset, a stale-epoch commit, a fence that
// reads an old next, a missing record, lost offsets -- fail on the edited
// line with the guard or invariant that refuses the step.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkTraces } from '../../trace-check/checker/main';
import type { CheckResult, LedgerDump } from '../../trace-check/checker/replay';
import { synthesize, writeRun, type SynthOptions, type SynthRun } from '../../trace-check/checker/synth';

export const SMALL: SynthOptions = { partitions: 2, perPartition: 30, window: 8, maxRetries: 1, failEvery: 7, commitEvery: 4 };

export function renumber(lines: string[]): string[] {
  return lines.map((l, i) => l.replace(/^\{"seq":\d+,/, `{"seq":${i + 1},`));
}

interface Parsed { seq: number; action: string; p: number; epoch: number; base: number; pos: number; [k: string]: number | string }

export function parsed(lines: readonly string[]): Parsed[] {
  return lines.map((l) => JSON.parse(l) as Parsed);
}

describe('trace-check: the fast checker replays traces through the DCSM transition relation', function () {
  let dir: string;
  let n = 0;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-trace-check-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function check(run: SynthRun, opts: Partial<{ end: boolean }> = {}): { r: CheckResult; files: string[] } {
    const files = writeRun(path.join(dir, `run${n++}`), run);
    const r = checkTraces({
      files, maxRetries: SMALL.maxRetries, window: SMALL.window, ...(opts.end === false ? {} : { endOffsets: run.endOffsets }),
    });
    return { r, files };
  }

  function edit(fileIndex: number, f: (lines: string[]) => string[]): { run: SynthRun; } {
    const run = synthesize(SMALL);
    run.files[fileIndex] = renumber(f([...run.files[fileIndex]!]));
    return { run };
  }

  function expectViolation(run: SynthRun, fileIndex: number, line: number, reason: RegExp): CheckResult {
    const { r, files } = check(run);
    assert.ok(!r.ok, 'the edited trace is rejected');
    const v = r.violation!;
    assert.strictEqual(path.basename(v.file), path.basename(files[fileIndex]!), `violation in the edited file: ${v.file}: ${v.reason}`);
    assert.strictEqual(v.line, line, `violation on the edited line: ${v.reason}`);
    assert.match(v.reason, reason);
    if (v.action !== '?') assert.ok(v.stateBefore.includes('ledger['), 'the report shows the abstract state before the step');
    return r;
  }

  it('accepts a run of three processes with retries, dead letters, a revoke and a fenced zombie', function () {
    const run = synthesize(SMALL);
    const { r } = check(run);
    assert.ok(r.ok, r.violation?.reason);
    assert.strictEqual(r.committedOffsets, SMALL.partitions * SMALL.perPartition);
    assert.ok(r.deadLettered > 0, 'some records were dead-lettered');
    assert.strictEqual(r.lost, 0);
    const actions = new Set(run.files.flatMap((f) => parsed(f).map((x) => x.action)));
    for (const a of ['Assign', 'Revoke', 'Fetch', 'Begin', 'Succeed', 'Fail', 'Retry', 'DeadLetter', 'Commit', 'CommitRejected', 'CommitBroker']) {
      assert.ok(actions.has(a), `the run exercises ${a}`);
    }
  });

  it('accepts the same run whatever the order of the files (the merge rule orders them through the ledger)', function () {
    const run = synthesize(SMALL);
    const { r } = check({ files: [...run.files].reverse(), endOffsets: run.endOffsets });
    assert.ok(r.ok, r.violation?.reason);
  });

  it('rejects a duplicated commit (the Commit line repeated)', function () {
    let at = 0;
    const { run } = edit(0, (lines) => {
      at = lines.findIndex((l) => l.includes('"action":"Commit"'));
      lines.splice(at + 1, 0, lines[at]!);
      return lines;
    });
    expectViolation(run, 0, at + 2, /Commit from \d+, but the window starts at \d+/);
  });

  it('rejects a skipped offset (one Begin/Succeed pair removed)', function () {
    let at = 0;
    const { run } = edit(0, (lines) => {
      at = lines.findIndex((l) => l.includes('"action":"Begin"') && l.includes('"o":2,'));
      lines.splice(at, 2);
      return lines;
    });
    expectViolation(run, 0, at + 1, /Begin of offset 3, but the head \(first unfinished offset\) is 2/);
  });

  it('rejects a stale-epoch commit (the zombie commits after the fence instead of CommitRejected)', function () {
    let at = 0;
    const { run } = edit(1, (lines) => {
      at = lines.findIndex((l) => l.includes('"action":"CommitRejected"'));
      const x = parsed(lines.slice(0, at)).reverse().find((y) => y.p === 0 && y.epoch === 2)!;
      lines[at] = `{"seq":0,"action":"Commit","p":0,"epoch":2,"base":${x.base + 1},"pos":${x.pos},"from":${x.base},"upTo":${x.base + 1}}`;
      return lines;
    });
    expectViolation(run, 1, at + 1, /stale epoch 2: the ledger was fenced with epoch 3/);
  });

  it('rejects a fence that reads an old next (its holder would commit offsets again)', function () {
    let at = 0;
    const { run } = edit(1, (lines) => {
      at = lines.findIndex((l) => l.includes('"action":"Assign"'));
      const x = parsed([lines[at]!])[0]!;
      // Not a commit boundary, so no interleaving makes the fence read it.
      const base = Number(x.base) - 1;
      lines[at] = `{"seq":0,"action":"Assign","p":${x.p},"epoch":${x.epoch},"base":${base},"pos":${base},"gen":1}`;
      return lines;
    });
    expectViolation(run, 1, at + 1, /Assign reads ledger next \d+, but the ledger's next is \d+: .*duplicates/);
  });

  it('rejects a file with a missing record (a seq gap)', function () {
    const run = synthesize(SMALL);
    run.files[2]!.splice(5, 1);
    expectViolation(run, 2, 6, /seq 7 after 5/);
  });

  it('rejects a run whose ledger never reaches the log end (lost offsets), and reports how many', function () {
    const { run } = edit(2, (lines) => {
      const last = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes('"action":"Commit"') && l.includes('"p":1,')).pop()!;
      return lines.filter((_, i) => i < last[1] || !lines[i]!.includes('"p":1,'));
    });
    const { r } = check(run);
    assert.ok(!r.ok);
    assert.match(r.violation!.reason, /completeness: partition 1's ledger next is \d+, its log end is 30: .* \(lost\)/);
    assert.ok(r.lost > 0);
  });

  it('rejects a Retry past MaxRetries and a DeadLetter before it', function () {
    const run = synthesize(SMALL);
    const strict = checkTraces({ files: writeRun(path.join(dir, `run${n++}`), run), maxRetries: 0, window: SMALL.window });
    assert.ok(!strict.ok);
    assert.match(strict.violation!.reason, /Retry needs tries 1 <= MaxRetries = 0/);
  });

  it('rejects a torn or malformed line with its line number', function () {
    const run = synthesize(SMALL);
    run.files[0]![3] = run.files[0]![3]!.replace('"p":', '"q":');
    expectViolation(run, 0, 4, /unknown key q/);
  });
});

// The split ledger write in traces: WriteLedger, its answer (Commit,
// CommitRejected) or its loss (LoseAnswer) and the read that decides
// (Recover); ApplyWrite and AbortWrite are the database's, in no trace.
describe('trace-check: writes in flight, lost answers and Recover', function () {
  let dir: string;
  let n = 0;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-trace-lost-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** One process's records of partition 0: [action, epoch, base, pos, extra fields]. */
  type Step = [string, number, number, number, Record<string, number>];
  function lines(steps: readonly Step[]): string[] {
    return steps.map(([action, epoch, base, pos, extra], i) =>
      JSON.stringify({ seq: i + 1, action, p: 0, epoch, base, pos, ...extra }));
  }
  /** Assign epoch e at next, fetch two records, handle both. */
  function handleTwo(e: number, next: number, gen: number): Step[] {
    return [
      ['Assign', e, next, next, { gen }],
      ['Fetch', e, next, next + 2, { o: next, n: 2 }],
      ['Begin', e, next, next + 2, { o: next, tries: 0 }],
      ['Succeed', e, next, next + 2, { o: next, tries: 0 }],
      ['Begin', e, next, next + 2, { o: next + 1, tries: 0 }],
      ['Succeed', e, next, next + 2, { o: next + 1, tries: 0 }],
    ];
  }
  function check(files: Step[][], end: number, ledger?: LedgerDump): CheckResult {
    const d = path.join(dir, `run${n++}`);
    fs.mkdirSync(d);
    const paths = files.map((f, i) => {
      const file = path.join(d, `p${i}.ndjson`);
      fs.writeFileSync(file, lines(f).join('\n') + '\n');
      return file;
    });
    return checkTraces({ files: paths, maxRetries: 0, window: 4, endOffsets: { 0: end }, ...(ledger === undefined ? {} : { ledger }) });
  }

  it('accepts a lost answer whose write applied: Recover reads upTo under its epoch, then Commit', function () {
    const r = check([[
      ...handleTwo(1, 0, 1),
      ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
      ['LoseAnswer', 1, 0, 2, { upTo: 2 }],
      ['Recover', 1, 0, 2, { rowEpoch: 1, rowNext: 2 }],
      ['Commit', 1, 2, 2, { from: 0, upTo: 2 }],
      ['CommitBroker', 1, 2, 2, { offset: 2 }],
    ]], 2);
    assert.ok(r.ok, r.violation?.reason);
    assert.strictEqual(r.commits, 1);
    assert.deepStrictEqual(r.ledgerNext, { 0: 2 });
  });

  it('accepts a lost answer whose write did not apply: Recover reads the old next, a new WriteLedger commits once', function () {
    const r = check([[
      ...handleTwo(1, 0, 1),
      ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
      ['LoseAnswer', 1, 0, 2, { upTo: 2 }],
      ['Recover', 1, 0, 2, { rowEpoch: 1, rowNext: 0 }],
      ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
      ['Commit', 1, 2, 2, { from: 0, upTo: 2 }],
    ]], 2);
    assert.ok(r.ok, r.violation?.reason);
    assert.strictEqual(r.commits, 1, 'the aborted write applied nothing');
  });

  it('accepts a lost answer of a fenced zombie: Recover reads the newer epoch, CommitRejected; the new holder commits', function () {
    const r = check([
      [...handleTwo(1, 0, 1),
        ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
        ['LoseAnswer', 1, 0, 2, { upTo: 2 }],
        ['Recover', 1, 0, 2, { rowEpoch: 2, rowNext: 0 }],
        ['CommitRejected', 0, 0, 0, { dropped: 1 }]],
      [...handleTwo(2, 0, 2),
        ['WriteLedger', 2, 0, 2, { expectedNext: 0, upTo: 2 }],
        ['Commit', 2, 2, 2, { from: 0, upTo: 2 }]],
    ], 2);
    assert.ok(r.ok, r.violation?.reason);
    assert.strictEqual(r.commits, 1);
  });

  it('accepts a write that applied after its sender died: the next fence reads its upTo', function () {
    const r = check([
      [...handleTwo(1, 0, 1), ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }]],
      [['Assign', 2, 2, 2, { gen: 2 }]],
    ], 2);
    assert.ok(r.ok, r.violation?.reason);
    assert.strictEqual(r.lostCommitsInferred, 1, 'one write applied whose answer no trace took');
  });

  it('with the ledger\'s account, a write whose sender died applies only if a committed range of its epoch shows it', function () {
    const files: Step[][] = [
      [...handleTwo(1, 0, 1), ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }]],
      [['Assign', 2, 2, 2, { gen: 2 }]],
    ];
    const shown = check(files, 2, { partitions: { 0: { next: 2, epoch: 2 } }, epochRanges: { 0: [{ epoch: 1, lo: 0, hi: 1 }] } });
    assert.ok(shown.ok, shown.violation?.reason);
    // The write was logged, then its sender died before the transaction began; the fence read a next nobody committed.
    const never = check(files, 2, { partitions: { 0: { next: 2, epoch: 2 } }, epochRanges: { 0: [] } });
    assert.ok(!never.ok);
    assert.match(never.violation!.reason, /Assign reads ledger next 2, but the ledger's next is 0 and no trace or ledger row commits offsets 0\.\.1/);
  });

  it('rejects a lost answer sent again without reading the row', function () {
    const r = check([[
      ...handleTwo(1, 0, 1),
      ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
      ['LoseAnswer', 1, 0, 2, { upTo: 2 }],
      ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
    ]], 2);
    assert.ok(!r.ok);
    assert.strictEqual(r.violation!.line, 9);
    assert.match(r.violation!.reason, /WriteLedger while the write up to 2 is in flight/);
  });

  it('rejects a lost answer taken for a commit', function () {
    const r = check([[
      ...handleTwo(1, 0, 1),
      ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
      ['LoseAnswer', 1, 0, 2, { upTo: 2 }],
      ['Commit', 1, 2, 2, { from: 0, upTo: 2 }],
    ]], 2);
    assert.ok(!r.ok);
    assert.match(r.violation!.reason, /Commit, but the answer to the write is Unknown/);
  });

  it('rejects a Recover that reads a row the ledger never had (its write applied, the row says not)', function () {
    const r = check([
      [...handleTwo(1, 0, 1),
        ['WriteLedger', 1, 0, 2, { expectedNext: 0, upTo: 2 }],
        ['LoseAnswer', 1, 0, 2, { upTo: 2 }],
        ['Recover', 1, 0, 2, { rowEpoch: 1, rowNext: 0 }]],
      [['Assign', 2, 2, 2, { gen: 2 }]],
    ], 2);
    // Either the fence read next 2 first (then the row of epoch 1 is gone) or the Recover
    // aborted the write (then no write sets next 2 for the fence): refused both ways.
    assert.ok(!r.ok);
    assert.match(r.violation!.reason, /Recover read the row of epoch 1, but the ledger is at epoch 2|Assign reads ledger next 2, but the ledger's next is 0/);
  });

  it('rejects a Commit whose WriteLedger is missing', function () {
    const r = check([[...handleTwo(1, 0, 1), ['Commit', 1, 2, 2, { from: 0, upTo: 2 }]]], 2);
    assert.ok(!r.ok);
    assert.match(r.violation!.reason, /Commit needs a write in flight/);
  });
});
