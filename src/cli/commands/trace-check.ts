import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { repoRoot, runInRepo } from './run-make';

/** Compiled modules that `trace-check` and `soak` run; each command is registered only when its module is built. */
export const TRACE_CHECK_MAIN = 'dist/trace-check/checker/main.js';
export const SOAK_MAIN = ['dist/trace-check/harness/soak.js', 'dist/trace-check/harness/main.js'];

function existing(candidates: readonly string[]): string | undefined {
  return candidates.find((f) => fs.existsSync(path.join(repoRoot(), f)));
}

export function registerTraceCheck(program: Command): void {
  const checker = existing([TRACE_CHECK_MAIN]);
  if (checker !== undefined) {
    program
      .command('trace-check')
      .description(`check NDJSON traces against the spec's transition relation (${checker}; arguments after --)`)
      .allowUnknownOption()
      .argument('[args...]', 'passed to the checker')
      .action(async (args: string[]) => { process.exitCode = await runInRepo(process.execPath, [checker, ...args]); });
  }
  const soak = existing(SOAK_MAIN);
  if (soak !== undefined) {
    program
      .command('soak')
      .description(`crash-injection soak against a real broker (${soak}; arguments after --)`)
      .allowUnknownOption()
      .argument('[args...]', 'passed to the harness')
      .action(async (args: string[]) => { process.exitCode = await runInRepo(process.execPath, [soak, ...args]); });
  }
}
