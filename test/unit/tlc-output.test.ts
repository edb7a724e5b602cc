// The TLC runner's judgement (tools/tlc/tlc-output.ts): `make tlc` must fail
// when a safety config is violated, when a mutant passes, when the state
// count drifts, and when TLC itself errors.

import { strict as assert } from 'node:assert';
import { judge, ManifestEntry, parseTlcOutput, validateManifest } from '../../tools/tlc/tlc-output';

const passOutput = `Starting...
Progress(21) at 2026-11-21 10:31:54: 142,496 states generated (142,496 s/min), 16,533 distinct states found (16,533 ds/min), 3,368 states left on queue.
Model checking completed. No error has been found.
773595 states generated, 65703 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 41.
Finished in 11s at (2026-11-21 10:32:02)`;

const invariantOutput = `Error: Invariant NoDuplicateInv is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
18572 states generated, 2780 distinct states found, 872 states left on queue.`;

const temporalOutput = `Error: Temporal properties were violated.
Error: The following behavior constitutes a counter-example:
37006 states generated, 12851 distinct states found, 0 states left on queue.`;

const parseErrorOutput = `***Parse Error***
Encountered "==" at line 12, column 3 in module DCSM`;

function entry(expect: string, distinctStates: number, kind: ManifestEntry['kind'] = 'safety'): ManifestEntry {
  return { name: 'MC_X', kind, why: 'test', expect, distinctStates, workers: 1 };
}

describe('TLC runner (make tlc): reading TLC output and judging it against spec/manifest.json', () => {
  it('a clean run is a pass with its distinct-state count', () => {
    const run = parseTlcOutput(passOutput, 0);
    assert.deepEqual(run.outcome, { kind: 'pass' });
    assert.equal(run.distinctStates, 65703);
    assert.equal(run.depth, 41);
    assert.deepEqual(judge(entry('pass', 65703), run), []);
  });

  it('a safety config whose invariant breaks is a mismatch naming the property', () => {
    const run = parseTlcOutput(invariantOutput, 12);
    assert.deepEqual(run.outcome, { kind: 'violation', property: 'NoDuplicateInv' });
    const problems = judge(entry('pass', 2780), run);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /expected pass, got violates NoDuplicateInv/);
  });

  it('a mutant that TLC does not refute is a mismatch', () => {
    const problems = judge(entry('NoDuplicateInv', 65703, 'mutant'), parseTlcOutput(passOutput, 0));
    assert.match(problems.join(';'), /expected a violation of NoDuplicateInv, got pass/);
  });

  it('a mutant refuted by the wrong property is a mismatch', () => {
    const problems = judge(entry('NoGapInv', 2780, 'mutant'), parseTlcOutput(invariantOutput, 12));
    assert.match(problems.join(';'), /expected a violation of NoGapInv, got violates NoDuplicateInv/);
  });

  it('a temporal violation is attributed to the config\'s one PROPERTY', () => {
    const run = parseTlcOutput(temporalOutput, 13);
    assert.deepEqual(judge(entry('CompletenessProp', 12851, 'mutant'), run, 'CompletenessProp'), []);
    assert.notDeepEqual(judge(entry('pass', 12851, 'liveness'), run, 'CompletenessProp'), []);
  });

  it('a drifted state count is a mismatch even when the outcome matches', () => {
    const problems = judge(entry('pass', 65704), parseTlcOutput(passOutput, 0));
    assert.deepEqual(problems, ['expected 65704 distinct states, got 65703']);
  });

  it('a parse error is an error, never a pass or a violation', () => {
    const run = parseTlcOutput(parseErrorOutput, 150);
    assert.equal(run.outcome.kind, 'error');
    assert.notDeepEqual(judge(entry('pass', 1), run), []);
    assert.notDeepEqual(judge(entry('NoGapInv', 1, 'mutant'), run), []);
  });

  it('a violation reported with exit code 0 is treated as an error', () => {
    assert.equal(parseTlcOutput(invariantOutput, 0).outcome.kind, 'error');
  });

  it('the manifest is validated field by field, naming the field', () => {
    assert.throws(() => validateManifest({ tlc: 'x', configs: [{ name: 'Bad' }] }), /configs\[0\]\.name/);
    assert.throws(
      () => validateManifest({ tlc: 'x', configs: [{ ...entry('pass', 1, 'mutant'), name: 'MC_M' }] }),
      /a mutant must expect a violated property/,
    );
    assert.throws(() => validateManifest({ tlc: 'x', configs: [{ ...entry('pass', 0), name: 'MC_A' }] }), /distinctStates/);
    const ok = validateManifest({ tlc: 'x', configs: [{ ...entry('pass', 3), name: 'MC_A' }] });
    assert.equal(ok.configs[0].name, 'MC_A');
  });
});
