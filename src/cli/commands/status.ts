import type { Command } from 'commander';
import { addClientOptions, clientFrom, grpcErrorText, type ClientFlags } from './client-options';
import { nonEmptyFlag } from './flags';

interface PartitionRow {
  topic: string; partition: number; epoch: number; position: number; ledger_next: number; broker_offset: number; high_watermark: number;
  lag: number; paused: boolean; retries: number; dead_lettered: number; committed: number;
  in_flight: { pending: number; processing: number; done: number; failed: number; dead_lettered: number };
}

/** A fixed-width table: one header row, right-aligned numbers. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]): string =>
    cells.map((c, i) => (typeof c === 'number' ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function registerStatus(program: Command): void {
  addClientOptions(program
    .command('status')
    .description('print a running consumer\'s group and partition table (htmqc.v1.StateService GetGroup + ListPartitions)'))
    .option('--topic <topic>', 'only this topic', nonEmptyFlag('a topic name'))
    .action(async (flags: ClientFlags & { topic?: string }) => {
      const client = clientFrom(flags);
      try {
        const group = await client.call<Record<string, unknown>>('GetGroup', {});
        const list = await client.call<{ partitions: PartitionRow[]; snapshot_age_ms: number }>('ListPartitions', { topic: flags.topic ?? '' });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ group, partitions: list.partitions })}\n`);
          return;
        }
        const members = (group['members'] as unknown[]).length;
        process.stdout.write(`group ${String(group['group_id'])}  member ${String(group['member_id'])}  generation ${String(group['generation'])}  ` +
          `running ${String(group['running'])}  members ${members}${group['group_state'] ? `  state ${String(group['group_state'])}` : ''}\n\n`);
        const rows = list.partitions.map((p) => [
          p.topic, p.partition, p.epoch, p.position, p.ledger_next, p.broker_offset, p.high_watermark, p.lag,
          p.in_flight.pending, p.in_flight.processing, p.in_flight.done, p.in_flight.failed, p.in_flight.dead_lettered,
          p.paused ? 'yes' : 'no', p.retries, p.dead_lettered, p.committed,
        ]);
        process.stdout.write(`${formatTable(['topic', 'part', 'epoch', 'position', 'ledger_next', 'broker_off', 'high_wm', 'lag',
          'pend', 'proc', 'done', 'fail', 'dlq', 'paused', 'retries', 'dead_lettered', 'committed'], rows)}\n`);
      } catch (e) {
        process.stderr.write(`htmqc status: ${flags.address}: ${grpcErrorText(e)}\n`);
        process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
