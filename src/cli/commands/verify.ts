import { Command } from 'commander';
import { runInRepo } from './run-make';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('run every check (what `make verify` runs): unit tests, Coq, TLC, integration tests')
    .action(async () => {
      process.exitCode = await runInRepo('make', ['verify']);
    });
}
