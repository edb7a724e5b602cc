// The audit's command line:
//   node dist/trace-check/audit/main.js <run.json>
// run.json is what the harness writes (brokers, topic, ledger -- a SQLite
// file or a PostgreSQL URL and schema -- and endOffsets); the broker (and
// PostgreSQL) must be running.  Exit 0 when nothing is duplicated, lost or orphaned.

import * as fs from 'fs';
import { audit, formatAudit, type LedgerLocation } from './audit';

async function main(): Promise<number> {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: node dist/trace-check/audit/main.js <run.json>');
  const run = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    brokers: string | string[]; topic: string; db?: string; ledger?: LedgerLocation; endOffsets: Record<string, number>;
  };
  const where = run.ledger ?? run.db;
  if (where === undefined) throw new Error(`${file}: neither "ledger" nor "db" names the ledger`);
  const a = await audit(run.brokers, run.topic, where, run.endOffsets);
  console.log(formatAudit(a));
  console.log(JSON.stringify(a));
  return a.duplicated === 0 && a.lost === 0 && a.orphans === 0 ? 0 : 1;
}

main().then((c) => { process.exitCode = c; }, (e: unknown) => { console.error(String(e)); process.exitCode = 2; });
