import { Command, Option } from 'commander';
import { runAll } from '../../../conformance/runner/all';
import { runConformance } from '../../../conformance/runner/main';
import { runGenerator } from '../../../conformance/gen/main';
import { integerFlag, nonEmptyFlag, readableFileFlag } from './flags';

const vectorNumber = integerFlag(1);

export function registerConformance(program: Command): void {
  program
    .command('conformance')
    .description('run the spec-generated conformance vectors against an implementation (conformance/PROTOCOL.md)')
    .option('--impl <command>', 'the implementation under test: a shell command speaking the protocol on stdin/stdout', nonEmptyFlag('a shell command'))
    .option('--all', 'run every adapter in conformance/adapters (all must pass) and every mutant in conformance/mutants (all must fail)')
    .option('--gen', 'regenerate conformance/vectors from spec/MC_Conformance with TLC')
    .option('--check', 'regenerate into a temporary directory and compare with the committed vectors')
    .option('--vectors <file>', 'the vector file, NDJSON or gzipped NDJSON (default conformance/vectors/dcsm.ndjson.gz)', readableFileFlag)
    .option('--vector <n...>', 'run only these vector numbers', (v: string, prev: number[] | undefined) => [...(prev ?? []), vectorNumber(v)])
    .addOption(new Option('--timeout <ms>', 'time allowed per reply').default(5000).argParser(integerFlag(1, 3_600_000)))
    .option('--verbose', 'print a line for every vector')
    .action(async (opts: { impl?: string; all?: boolean; gen?: boolean; check?: boolean; vectors?: string; vector?: number[]; timeout: number; verbose?: boolean }) => {
      const modes = [opts.impl !== undefined, opts.all === true, opts.gen === true, opts.check === true].filter(Boolean).length;
      if (modes !== 1) {
        process.stderr.write('htmqc conformance: give exactly one of --impl <command>, --all, --gen, --check\n');
        process.exitCode = 2;
        return;
      }
      if (opts.gen === true || opts.check === true) {
        process.exitCode = await runGenerator(opts.check === true);
      } else if (opts.all === true) {
        process.exitCode = await runAll({ timeoutMs: opts.timeout, vectorFile: opts.vectors });
      } else {
        process.exitCode = await runConformance({
          command: opts.impl!, timeoutMs: opts.timeout, vectorFile: opts.vectors, verbose: opts.verbose === true,
          only: opts.vector,
        });
      }
    });
}
