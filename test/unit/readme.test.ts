// The README's quickstart code blocks type-check against the package as
// built (dist/src/index.d.ts), strict, so a renamed option or export breaks
// this test rather than the reader's first run.  Each block becomes a module
// whose statements run inside an async function (the blocks use top-level
// await).  make package (test/package/) runs the SQLite block from the npm
// tarball; the extractor's own checks are at the end.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { quickstartBlocks, quickstartCommands, uncreatedTopics, withBroker } from '../readme/quickstart';

const root = path.join(__dirname, '..', '..', '..');
const entry = path.join(root, 'dist', 'src', 'index');

/** Type errors of the blocks, one line each ("block 2 line 5: ..."), empty when all compile. */
function typeErrors(blocks: string[]): string[] {
  // Inside the repository, so that 'kafkajs' resolves from its node_modules.
  fs.mkdirSync(path.join(root, '.cache'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(root, '.cache', 'readme-check-'));
  try {
    const files = blocks.map((block, i) => {
      const lines = block.replace(/from 'htmqc'/g, `from ${JSON.stringify(entry)}`).split('\n');
      const imports = lines.filter((l) => l.startsWith('import '));
      const body = lines.filter((l) => !l.startsWith('import '));
      const file = path.join(dir, `block${i + 1}.ts`);
      fs.writeFileSync(file, [...imports, 'export async function main(): Promise<void> {', ...body, '}', ''].join('\n'));
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
      esModuleInterop: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], lib: ['lib.es2022.d.ts'],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const name = d.file ? path.basename(d.file.fileName, '.ts') : '?';
      return `${name} line ${where === undefined ? '?' : where.line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('README: the quickstart code blocks type-check against the built package', function () {
  this.timeout(60000);
  const blocks = quickstartBlocks(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));

  it('has one block per ledger (SQLite, PostgreSQL)', function () {
    assert.strictEqual(blocks.length, 2);
    assert.match(blocks[0]!, /openSqliteLedger\(/);
    assert.match(blocks[1]!, /openPostgresLedger\(/);
  });

  it('compiles every block, strict', function () {
    assert.deepStrictEqual(typeErrors(blocks), []);
  });

  it('fails a block whose option does not exist (the check has teeth)', function () {
    const bad = blocks[1]!.replace('connectionString: url', 'url');
    assert.notStrictEqual(bad, blocks[1]);
    const errors = typeErrors([bad]);
    assert.ok(errors.some((e) => /'url' does not exist in type 'PostgresLedgerOptions'/.test(e)), errors.join('\n'));
  });
});

describe('README: the quickstart extractor make package runs', function () {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const sqlite = quickstartBlocks(readme)[0]!;

  it('finds the install command and a create command for every topic the SQLite block uses', function () {
    assert.ok(quickstartCommands(readme).includes('npm install htmqc kafkajs'), quickstartCommands(readme).join('\n'));
    assert.deepStrictEqual(uncreatedTopics(readme, sqlite), []);
  });

  it('names a topic the README no longer creates (a drifted README fails make package)', function () {
    const drifted = readme.replace(/\nkafka-topics\.sh [^\n]*--topic orders\.dlq[^\n]*/, '');
    assert.notStrictEqual(drifted, readme);
    assert.deepStrictEqual(uncreatedTopics(drifted, sqlite), ['orders.dlq']);
  });

  it('sets the broker address only where the block has it once, else names what it looked for', function () {
    assert.match(withBroker(sqlite, '127.0.0.1:19392'), /brokers: \['127\.0\.0\.1:19392'\]/);
    assert.throws(() => withBroker(sqlite.replace("'127.0.0.1:9092'", "'localhost:9092'"), '127.0.0.1:1', 'block 1'),
      /block 1: expected the broker address '127\.0\.0\.1:9092' once, found it 0 times/);
  });

  it('fails a README without a Quickstart section', function () {
    assert.throws(() => quickstartBlocks(readme.replace('\n## Quickstart\n', '\n## Start\n')), /no "## Quickstart" section/);
  });
});
