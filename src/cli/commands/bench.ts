import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { repoRoot, runInRepo } from './run-make';

/** The compiled benchmarks `htmqc bench` runs, in order, when they exist. */
export const BENCHMARKS = ['dist/bench/core.js', 'dist/bench/throughput.js'];

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(`run the benchmarks that are built (${BENCHMARKS.join(', ')}); each prints a table and a JSON line`)
    .option('--service', 'also run dist/bench/service.js (state service latency and watcher overhead; needs the broker jars)')
    .action(async (flags: { service?: boolean }) => {
      const list = [...BENCHMARKS, ...(flags.service ? ['dist/bench/service.js'] : [])]
        .filter((f) => fs.existsSync(path.join(repoRoot(), f)));
      if (list.length === 0) {
        process.stderr.write('htmqc bench: no compiled benchmark found; run `make build` first\n');
        process.exitCode = 1;
        return;
      }
      for (const f of list) {
        const code = await runInRepo(process.execPath, [f]);
        if (code !== 0) {
          process.exitCode = code;
          return;
        }
      }
    });
}
