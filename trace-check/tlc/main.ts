// TLC trace validation from the command line:
//   node dist/trace-check/tlc/main.js <merged.ndjson> [--records N] [--max-retries N]
//        [--window N] [--end run.json|p:n,...] [--check-end] [--out DIR]
// merged.ndjson is the fast checker's --merged output.  Exit 0 when TLC
// confirms the records are a behaviour of DCSM.

import * as path from 'path';
import { parseEndOffsets } from '../checker/main';
import { runTlcOnMerged, type TlcOptions } from './generate';

async function main(argv: string[]): Promise<number> {
  const o: TlcOptions = { records: 1000, maxRetries: 3, window: 1000, endOffsets: {} };
  let merged: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    switch (v) {
      case '--records': o.records = Number(argv[++i]); break;
      case '--max-retries': o.maxRetries = Number(argv[++i]); break;
      case '--window': o.window = Number(argv[++i]); break;
      case '--end': o.endOffsets = parseEndOffsets(argv[++i]!); break;
      case '--check-end': o.checkEnd = true; break;
      case '--out': out = argv[++i]; break;
      default: merged = v;
    }
  }
  if (merged === undefined) throw new Error('usage: node dist/trace-check/tlc/main.js <merged.ndjson> [options]');
  const r = await runTlcOnMerged(merged, out ?? path.join(path.dirname(merged), 'tlc'), o);
  console.log(r.summary);
  return r.ok ? 0 : 1;
}

main(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e: unknown) => { console.error(String(e)); process.exitCode = 2; });
