// The fast trace checker's command line.
//
//   node dist/trace-check/checker/main.js [options] <file|dir>...
//
//   --max-retries N     spec MaxRetries of the run (default 3, the runtime's default)
//   --window N          spec Window (maxInFlightPerPartition); unbounded when absent
//   --end FILE|LIST     the topic's end offsets: a JSON file {"0": 123, ...} (or a
//                       run.json the harness wrote) or "0:123,1:456"
//   --ledger FILE       the ledger's account (ledger.json the harness wrote); lets the
//                       checker infer the trace tail a SIGKILLed process never wrote
//   --merged FILE       write the merged order (one record per line, with the file's
//                       index as "c"), as checked, e.g. for trace-check/tlc
//   --json              print the result as one JSON line
//
// A directory argument stands for its *.ndjson files.  Exit status: 0 the
// traces are a behaviour of DCSM, 1 a violation (printed: file:line, the
// record, why, the state before), 2 a usage or format error.

import * as fs from 'fs';
import * as path from 'path';
import { TraceFormatError, renderRec } from './parse';
import { Checker, formatViolation, type CheckOptions, type CheckResult, type LedgerDump } from './replay';

export interface CheckArgs {
  files: string[];
  maxRetries: number;
  window?: number;
  endOffsets?: Record<string, number>;
  ledger?: LedgerDump;
  merged?: string;
}

export function parseEndOffsets(v: string): Record<string, number> {
  if (fs.existsSync(v)) {
    const j = JSON.parse(fs.readFileSync(v, 'utf8')) as Record<string, unknown>;
    const src = (j['endOffsets'] ?? j) as Record<string, number>;
    return { ...src };
  }
  const out: Record<string, number> = {};
  for (const part of v.split(',')) {
    const [p, n] = part.split(':');
    if (p === undefined || n === undefined || !/^\d+$/.test(p) || !/^\d+$/.test(n)) throw new Error(`--end: bad entry "${part}"`);
    out[p] = Number(n);
  }
  return out;
}

/** Expands directories to their *.ndjson files, sorted. */
export function expandFiles(args: readonly string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    if (fs.statSync(a).isDirectory()) {
      for (const f of fs.readdirSync(a).filter((n) => n.endsWith('.ndjson')).sort()) files.push(path.join(a, f));
    } else {
      files.push(a);
    }
  }
  return files;
}

/** Runs the checker over files; writes the merged order when asked. */
export function checkTraces(a: CheckArgs): CheckResult {
  let out: number | undefined;
  let pending: string[] = [];
  const opts: CheckOptions = {
    maxRetries: a.maxRetries,
    ...(a.window === undefined ? {} : { window: a.window }),
    ...(a.endOffsets === undefined ? {} : { endOffsets: a.endOffsets }),
    ...(a.ledger === undefined ? {} : { ledger: a.ledger }),
  };
  if (a.merged !== undefined) {
    out = fs.openSync(a.merged, 'w');
    const fd = out;
    (opts as { onStep?: CheckOptions['onStep'] }).onStep = (c, r, inferred, at) => {
      const line = renderRec(r);
      pending.push(`{"c":${c},"line":${at},"inferred":${inferred ? 1 : 0},${line.slice(1)}`);
      if (pending.length >= 4096) {
        fs.writeSync(fd, pending.join('\n') + '\n');
        pending = [];
      }
    };
  }
  const checker = new Checker(opts);
  for (const f of a.files) checker.addFile(f, path.relative(process.cwd(), f) || f);
  try {
    return checker.run();
  } finally {
    if (out !== undefined) {
      if (pending.length > 0) fs.writeSync(out, pending.join('\n') + '\n');
      fs.closeSync(out);
    }
  }
}

export function formatResult(r: CheckResult): string {
  const rate = r.seconds > 0 ? Math.round(r.records / r.seconds) : 0;
  const head = r.ok ? 'OK: the traces are a behaviour of DCSM' : 'FAILED';
  return [
    `${head}: ${r.records} records from ${r.files} files (${(r.bytes / 1e6).toFixed(1)} MB) in ${r.seconds.toFixed(2)} s = ${rate} records/s`,
    `  ${r.steps} spec steps over ${r.partitions} partitions; ${r.commits} commits of ${r.committedOffsets} offsets ` +
    `(${r.deadLettered} dead-lettered); ${r.rebalancesInserted} Rebalance steps inserted; ` +
    `writes applied whose answer no trace took: ${r.lostCommitsInferred}; lost fences inferred from the ledger: ${r.lostFencesInferred}; torn last lines: ${r.tornLines}`,
    `  lost answers (LoseAnswer): ${r.lostAnswers}; Recover decided committed ${r.recovered.committed}, not applied ${r.recovered.notApplied}, ` +
    `fenced ${r.recovered.rejected}`,
    `  lost (end offsets the ledger never reached): ${r.lost}`,
    ...(r.violation === undefined ? [] : [formatViolation(r.violation)]),
  ].join('\n');
}

function main(argv: string[]): number {
  const args: CheckArgs = { files: [], maxRetries: 3 };
  let json = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    const next = (): string => {
      const n = argv[++i];
      if (n === undefined) throw new Error(`${v} needs a value`);
      return n;
    };
    switch (v) {
      case '--max-retries': args.maxRetries = Number(next()); break;
      case '--window': args.window = Number(next()); break;
      case '--end': args.endOffsets = parseEndOffsets(next()); break;
      case '--ledger': args.ledger = JSON.parse(fs.readFileSync(next(), 'utf8')) as LedgerDump; break;
      case '--merged': args.merged = next(); break;
      case '--json': json = true; break;
      case '-h': case '--help':
        console.log('usage: node dist/trace-check/checker/main.js [--max-retries N] [--window N] [--end FILE|p:n,...] [--ledger FILE] [--merged FILE] [--json] <file|dir>...');
        return 0;
      default:
        if (v.startsWith('--')) throw new Error(`unknown option ${v}`);
        rest.push(v);
    }
  }
  args.files = expandFiles(rest);
  if (args.files.length === 0) throw new Error('no trace files given');
  const r = checkTraces(args);
  console.log(json ? JSON.stringify(r) : formatResult(r));
  return r.ok ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof TraceFormatError ? `FORMAT ERROR at ${e.message}` : `error: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  }
}
