import type { Command } from 'commander';
import { addClientOptions, clientFrom, grpcErrorText, type ClientFlags } from './client-options';
import { integerFlag, nonEmptyFlag, repeatableActionFlag, repeatableIntegerFlag } from './flags';

interface TransitionRow {
  seq: number; action: string; topic: string; partition: number; epoch: number; base: number; pos: number; offset: number; arg: number;
  time_unix_ms: number;
}

export function registerWatch(program: Command): void {
  addClientOptions(program
    .command('watch')
    .description('print a running consumer\'s transitions live (htmqc.v1.StateService WatchTransitions) until Ctrl-C'))
    .option('--topic <topic>', 'only this topic', nonEmptyFlag('a topic name'))
    .option('-p, --partition <n>', 'only this partition (repeatable)', repeatableIntegerFlag(0, 2 ** 31 - 1), [])
    .option('--action <ACTION>', 'only this spec action, e.g. COMMIT, DEAD_LETTER (repeatable)', repeatableActionFlag(), [])
    .option('--count <n>', 'stop after n transitions', integerFlag(1))
    .action(async (flags: ClientFlags & { topic?: string; partition: number[]; action: string[]; count?: number }) => {
      const client = clientFrom(flags);
      const limit = flags.count ?? Infinity;
      let seen = 0;
      const stream = client.watch({
        topic: flags.topic ?? '', partitions: flags.partition, actions: flags.action,
      });
      const code = await new Promise<number>((resolve) => {
        const stop = (): void => { stream.cancel(); resolve(0); };
        process.once('SIGINT', stop);
        stream.on('data', (m: { transitions: TransitionRow[]; dropped: number }) => {
          if (m.dropped > 0) process.stdout.write(flags.json ? `${JSON.stringify({ dropped: m.dropped })}\n` : `... ${m.dropped} transitions dropped (this client read too slowly)\n`);
          for (const t of m.transitions) {
            if (seen >= limit) break;
            seen++;
            process.stdout.write(flags.json ? `${JSON.stringify(t)}\n`
              : `${new Date(t.time_unix_ms).toISOString()}  #${t.seq}  ${t.action.padEnd(15)} ${t.topic}/${t.partition}  offset ${t.offset}  arg ${t.arg}  ` +
                `epoch ${t.epoch}  base ${t.base}  pos ${t.pos}\n`);
          }
          if (seen >= limit) stop();
        });
        stream.on('error', (e: { code?: number }) => {
          if (e.code === 1) return resolve(0);
          process.stderr.write(`htmqc watch: ${flags.address}: ${grpcErrorText(e)}\n`);
          resolve(1);
        });
        stream.on('end', () => resolve(0));
      });
      client.close();
      process.exitCode = code;
    });
}
