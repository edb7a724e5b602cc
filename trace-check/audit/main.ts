// The audit's command line:
//   node dist/trace-check/audit/main.js <run.json>
// run.json is what the harness writes (brokers, topic, db, endOffsets); the
// broker must be running.  Exit 0 when nothing is duplicated, lost or orphaned.

import * as fs from 'fs';
import { audit, formatAudit } from './audit';

async function main(): Promise<number> {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: node dist/trace-check/audit/main.js <run.json>');
  const run = JSON.parse(fs.readFileSync(file, 'utf8')) as { brokers: string; topic: string; db: string; endOffsets: Record<string, number> };
  const a = await audit(run.brokers, run.topic, run.db, run.endOffsets);
  console.log(formatAudit(a));
  console.log(JSON.stringify(a));
  return a.duplicated === 0 && a.lost === 0 && a.orphans === 0 ? 0 : 1;
}

main().then((c) => { process.exitCode = c; }, (e: unknown) => { console.error(String(e)); process.exitCode = 2; });
