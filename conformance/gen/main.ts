// `make conformance-gen` / `make conformance-check`:
//
//   node dist/conformance/gen/main.js            regenerate conformance/vectors/
//   node dist/conformance/gen/main.js --check    regenerate into a temporary
//                                                directory and compare byte for byte
//
// Exit codes: 0 done / identical, 1 the committed vectors differ, 2 error.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { generate, repoPaths, VECTOR_FILE, type Generated } from './generate';

export function repoRoot(from: string = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the repository root above ${from}`);
    dir = up;
  }
  return dir;
}

function summary(g: Generated): string {
  const s = g.header.suite;
  return `${s.vectors} vectors, ${s.steps} steps (${s.probes} probes); ` +
    `edges ${s.edgesCovered}/${g.header.graph.edges}, actions ${s.actionsCovered}/${g.header.graph.actions.length}, ` +
    `${g.header.graph.states} states`;
}

/** Regenerates (check = false) or compares with the committed file; returns the exit code. */
export async function runGenerator(check: boolean, log: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<number> {
  const paths = repoPaths(repoRoot());
  const g = await generate(paths, log);
  const committed = path.join(paths.vectorDir, VECTOR_FILE);
  if (!check) {
    fs.mkdirSync(paths.vectorDir, { recursive: true });
    fs.writeFileSync(committed, zlib.gzipSync(g.text, { level: 9 }));
    log(`wrote ${path.relative(paths.root, committed)} (${g.text.length} bytes of NDJSON, gzipped to ${fs.statSync(committed).size}): ${summary(g)}`);
    return 0;
  }
  {
    // Compared decompressed: the gzip bytes may differ between zlib versions, the vectors may not.
    const a = fs.existsSync(committed) ? zlib.gunzipSync(fs.readFileSync(committed)) : Buffer.alloc(0);
    const b = Buffer.from(g.text);
    if (a.equals(b)) {
      log(`conformance vectors are up to date: ${summary(g)}`);
      return 0;
    }
    const al = a.toString().split('\n');
    const bl = b.toString().split('\n');
    let i = 0;
    while (i < al.length && i < bl.length && al[i] === bl[i]) i++;
    log(`conformance/vectors/${VECTOR_FILE} is stale (first difference at line ${i + 1}); run make conformance-gen`);
    log(`  committed:   ${(al[i] ?? '<end of file>').slice(0, 300)}`);
    log(`  regenerated: ${(bl[i] ?? '<end of file>').slice(0, 300)}`);
    return 1;
  }
}

if (require.main === module) {
  runGenerator(process.argv.includes('--check')).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`conformance-gen: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
