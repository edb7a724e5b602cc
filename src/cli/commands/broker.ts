import { Command } from 'commander';
import { runInRepo } from './run-make';

export function registerBroker(program: Command): void {
  const broker = program
    .command('broker')
    .description('the local single-node KRaft broker (tools/kafka/broker.sh)');
  for (const [name, what] of [
    ['up', 'start it (formats storage on first use) and wait until it serves'],
    ['down', 'stop it: SIGTERM, then SIGKILL after a grace period'],
    ['status', 'say whether it runs'],
  ] as const) {
    broker
      .command(name)
      .description(what)
      .action(async () => {
        const sub = name === 'up' ? 'start' : name === 'down' ? 'stop' : 'status';
        process.exitCode = await runInRepo('tools/kafka/broker.sh', [sub]);
      });
  }
}
