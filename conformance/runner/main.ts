// `htmqc conformance --impl "<command>"`: one implementation, every vector.
//
//   node dist/conformance/runner/main.js "<command>" [--vector N ...]
//
// Exit codes: 0 every vector passed, 1 a vector failed or the implementation
// broke the protocol (crash, malformed output, timeout), 2 usage error.

import * as path from 'node:path';
import { repoRoot } from '../gen/main';
import { VECTOR_FILE } from '../gen/generate';
import { formatSuiteResult, loadVectors, runSuite } from './run';

export interface ConformanceOptions {
  readonly command: string;
  readonly timeoutMs: number;
  readonly vectorFile?: string | undefined;
  readonly verbose?: boolean;
  readonly only?: readonly number[] | undefined;
  readonly log?: (line: string) => void;
}

export function defaultVectorFile(): string {
  return path.join(repoRoot(), 'conformance', 'vectors', VECTOR_FILE);
}

export async function runConformance(opts: ConformanceOptions): Promise<number> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const suite = loadVectors(opts.vectorFile ?? defaultVectorFile());
  log(`conformance: ${suite.vectors.length} vectors from ${suite.header.source} against: ${opts.command}`);
  const result = await runSuite(suite, opts.command, {
    timeoutMs: opts.timeoutMs,
    cwd: repoRoot(),
    only: opts.only,
    onVector: opts.verbose === true
      ? (r) => log(`${r.passed ? 'ok  ' : 'FAIL'} vector ${r.v} (${r.stepsRun} steps)${r.passed ? '' : ` diverges at step ${r.divergence!.n}`}`)
      : undefined,
  });
  const report = formatSuiteResult(suite, result);
  for (const l of report.lines) log(l);
  return report.ok ? 0 : 1;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const only: number[] = [];
  let command: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--vector') only.push(Number.parseInt(args[++i] ?? '', 10));
    else command = args[i];
  }
  if (command === undefined) {
    process.stderr.write('usage: main.js "<implementation command>" [--vector N ...]\n');
    process.exitCode = 2;
  } else {
    runConformance({ command, timeoutMs: 5000, only: only.length > 0 ? only : undefined }).then(
      (code) => { process.exitCode = code; },
      (err: unknown) => { process.stderr.write(`conformance: ${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 2; },
    );
  }
}
