// `htmqc conformance --all` (make conformance): the suite against every
// implementation we have.  Adapters must pass every vector; every mutant in
// conformance/mutants/ must fail at least one (the suite has teeth).  Prints
// a table and exits non-zero on any other outcome.
//
//   node dist/conformance/runner/all.js

import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../gen/main';
import { defaultVectorFile } from './main';
import { coverage, formatCoverage, formatSuiteResult, loadVectors, runSuite, type SuiteResult, type VectorSuite } from './run';

export interface Subject {
  readonly name: string;
  readonly expect: 'pass' | 'fail';
  readonly command: string;
  /** What the mutant gets wrong (first line of its docstring). */
  readonly about: string;
}

export const ADAPTERS: readonly Subject[] = [
  { name: 'ts-core', expect: 'pass', command: 'node dist/conformance/adapters/node-core.js ts', about: 'htmqc TypeScript reference core (src/core/machine.ts)' },
  { name: 'native-core', expect: 'pass', command: 'node dist/conformance/adapters/node-core.js native', about: 'htmqc native core (native/src/core)' },
  { name: 'python', expect: 'pass', command: 'python3 -B conformance/adapters/python/dcsm_adapter.py', about: 'independent implementation from PROTOCOL.md and the spec' },
];

/** conformance/mutants/*.py, each run as python3 <file>; sorted by name. */
export function mutants(root: string): Subject[] {
  const dir = path.join(root, 'conformance', 'mutants');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.py') && !f.startsWith('_')).sort().map((f) => {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const doc = /^"""(.*?)(?:""")?$/m.exec(text);
    return { name: f.replace(/\.py$/, ''), expect: 'fail', command: `python3 -B conformance/mutants/${f}`, about: doc ? doc[1]!.trim() : '' };
  });
}

interface Row {
  readonly subject: Subject;
  readonly result: SuiteResult;
  readonly ok: boolean;
  readonly outcome: string;
}

function firstFailure(r: SuiteResult): string {
  if (r.protocolFailure !== undefined) return `${r.protocolFailure.failure.kind} at vector ${r.protocolFailure.v} step ${r.protocolFailure.n}`;
  const f = r.results.find((x) => !x.passed);
  if (f === undefined) return '-';
  const d = f.divergence!;
  const what = d.lines[0]!.startsWith('expected commands') ? 'commands differ'
    : d.lines[0]!.startsWith('expected state') ? 'state differs'
    : d.lines[0]!.startsWith('expected: rejected') ? `not ${d.lines[0]!.slice('expected: '.length)}`
    : 'rejected a valid input';
  const at = d.step.probe !== undefined ? `probe ${d.step.input!.kind}` : d.step.spec.filter((a) => a.includes('(c1')).slice(0, 1).join('') || d.step.op;
  return `vector ${f.v} step ${d.n}, ${at}: ${what}`;
}

async function judge(suite: VectorSuite, s: Subject, timeoutMs: number, root: string): Promise<Row> {
  const result = await runSuite(suite, s.command, { timeoutMs, cwd: root });
  const failed = result.results.filter((x) => !x.passed).length;
  const broken = result.protocolFailure !== undefined;
  const passedAll = !broken && failed === 0 && result.results.length === suite.vectors.length;
  let ok: boolean;
  let outcome: string;
  if (s.expect === 'pass') {
    ok = passedAll;
    outcome = passedAll ? 'passed' : broken ? `BROKE (${result.protocolFailure!.failure.kind})` : 'FAILED';
  } else {
    // A mutant is caught by a divergence; a crash or malformed output is not a catch.
    ok = !broken && failed > 0;
    outcome = ok ? 'caught' : broken ? `BROKE (${result.protocolFailure!.failure.kind})` : 'NOT CAUGHT';
  }
  return { subject: s, result, ok, outcome };
}

function pad(s: string, n: number): string { return s.length >= n ? s : s + ' '.repeat(n - s.length); }

export async function runAll(opts: { timeoutMs: number; vectorFile?: string | undefined; log?: (l: string) => void; parallel?: number }): Promise<number> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const root = repoRoot();
  const suite = loadVectors(opts.vectorFile ?? defaultVectorFile());
  const subjects = [...ADAPTERS, ...mutants(root)];
  log(`conformance --all: ${subjects.length} implementations x ${suite.vectors.length} vectors`);
  log(`suite: ${formatCoverage(coverage(suite))}`);
  const started = Date.now();
  const rows: Row[] = new Array(subjects.length);
  let next = 0;
  const worker = async () => {
    while (next < subjects.length) {
      const i = next++;
      rows[i] = await judge(suite, subjects[i]!, opts.timeoutMs, root);
    }
  };
  await Promise.all(Array.from({ length: opts.parallel ?? 2 }, worker));

  const header = ['implementation', 'expect', 'outcome', 'vectors passed', 'time', 'first divergence'];
  const table = rows.map((r) => [
    r.subject.name, r.subject.expect, r.outcome,
    `${r.result.results.filter((x) => x.passed).length}/${suite.vectors.length}`,
    `${r.result.seconds.toFixed(1)} s`, firstFailure(r.result),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  log('');
  log(header.map((h, i) => pad(h, widths[i]!)).join('  '));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) log(row.map((c, i) => pad(c, widths[i]!)).join('  '));
  log('');
  for (const r of rows) {
    if (r.subject.expect === 'fail') log(`  ${pad(r.subject.name, widths[0]!)}  ${r.subject.about}`);
  }
  const bad = rows.filter((r) => !r.ok);
  for (const r of bad) {
    log('');
    log(`unexpected outcome for ${r.subject.name} (${r.subject.command}):`);
    for (const l of formatSuiteResult(suite, r.result, 3).lines) log(`  ${l}`);
  }
  log('');
  log(`${rows.length - bad.length}/${rows.length} as expected in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return bad.length === 0 ? 0 : 1;
}

if (require.main === module) {
  runAll({ timeoutMs: 5000 }).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => { process.stderr.write(`conformance --all: ${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 2; },
  );
}
