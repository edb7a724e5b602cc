// The htmqc command. Each subcommand lives in src/cli/commands/ and registers
// itself on the program; `htmqc <command> --help` documents each one.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench';
import { registerBroker } from './commands/broker';
import { registerConformance } from './commands/conformance';
import { registerRun } from './commands/run';
import { registerStatus } from './commands/status';
import { registerTraceCheck } from './commands/trace-check';
import { registerVerify } from './commands/verify';
import { registerWatch } from './commands/watch';

/** The version in htmqc's package.json (dist/src/cli/main.js is three folders below it). */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('htmqc')
    .description('A Kafka consumer that commits each message\'s effects exactly once, checked against its TLA+ spec')
    .version(packageVersion(), '-V, --version', 'print the htmqc version')
    .showHelpAfterError()
    .exitOverride();
  registerRun(program);
  registerStatus(program);
  registerWatch(program);
  registerVerify(program);
  registerConformance(program);
  registerTraceCheck(program);
  registerBench(program);
  registerBroker(program);
  return program;
}

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}
