// The package entry and the PostgreSQL ledger: openPostgresLedger and its
// error class are exported next to openSqliteLedger, and the `pg` driver is
// loaded only when a PostgreSQL ledger is opened (a fresh node process per
// case, since the module cache is per process).

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as htmqc from '../../src';
import { LedgerArgumentError, LedgerStatementError } from '../../src/ledger';
import { PostgresLedger } from '../../src/ledger/postgres';

const entry = path.join(__dirname, '..', '..', 'src', 'index.js');

/** Runs `script` in a fresh node with `htmqc` bound to the built entry; returns its stdout. */
function fresh(script: string): string {
  const prelude = `const htmqc = require(${JSON.stringify(entry)});
    const pgLoaded = () => Object.keys(require.cache).some((k) => k.includes(\`\${require('path').sep}node_modules\${require('path').sep}pg\${require('path').sep}\`));`;
  return execFileSync(process.execPath, ['-e', `${prelude}\n${script}`], { encoding: 'utf8' }).trim();
}

describe('package entry: the PostgreSQL ledger', function () {
  this.timeout(20000);

  it('exports openPostgresLedger and PostgresStatementError (a LedgerStatementError)', function () {
    assert.strictEqual(typeof htmqc.openPostgresLedger, 'function');
    const e = new htmqc.PostgresStatementError('m', 't', 1, 2, false);
    assert.ok(e instanceof LedgerStatementError);
    assert.deepStrictEqual([e.topic, e.partition, e.offset, e.retriable], ['t', 1, 2, false]);
  });

  it('does not load the pg driver for a user who never opens a PostgreSQL ledger', function () {
    assert.strictEqual(fresh(`htmqc.openSqliteLedger; console.log(pgLoaded())`), 'false');
  });

  it('loads it on the first openPostgresLedger call (the check above can see a loaded driver)', function () {
    const out = fresh(`htmqc.openPostgresLedger({ connectionString: '' }).then(
      () => console.log('opened'), (e) => console.log(e.name, pgLoaded()));`);
    assert.strictEqual(out, 'LedgerArgumentError true');
  });

  it('rejects bad options through the lazy entry with the field named', async function () {
    await assert.rejects(htmqc.openPostgresLedger({ connectionString: 'postgres://x@127.0.0.1:1/x', poolSize: 0 }),
      (e: unknown) => e instanceof LedgerArgumentError && /options\.poolSize must be an integer in 1\.\.100, got 0/.test(e.message));
  });

  it('concurrentCommits: poolSize - 1 by default (a connection kept for fences and reads), at least 1, at most poolSize', function () {
    // The constructor validates and builds the pool without connecting.
    const commits = (o: object): number => new PostgresLedger({ connectionString: 'postgres://x@127.0.0.1:1/x', ...o }).concurrentCommits;
    assert.strictEqual(commits({}), 3, 'default pool of 4');
    assert.strictEqual(commits({ poolSize: 8 }), 7);
    assert.strictEqual(commits({ poolSize: 1 }), 1);
    assert.strictEqual(commits({ poolSize: 2 }), 1);
    assert.strictEqual(commits({ poolSize: 4, concurrentCommits: 4 }), 4);
    assert.strictEqual(commits({ poolSize: 4, concurrentCommits: 1 }), 1);
  });

  it('rejects a concurrentCommits above the pool or below 1, and an unknown option with did-you-mean', async function () {
    const bad: [object, RegExp][] = [
      [{ poolSize: 4, concurrentCommits: 5 }, /options\.concurrentCommits must be an integer in 1\.\.4, got 5/],
      [{ concurrentCommits: 0 }, /options\.concurrentCommits must be an integer in 1\.\.4, got 0/],
      [{ concurrentCommits: '2' }, /options\.concurrentCommits must be an integer in 1\.\.4, got "2" \(a string\)/],
      [{ concurentCommits: 2 }, /options\.concurentCommits is not an option \(did you mean concurrentCommits\?\)/],
      [{ poolsize: 2 }, /options\.poolsize is not an option \(did you mean poolSize\?\)/],
    ];
    for (const [o, re] of bad) {
      await assert.rejects(htmqc.openPostgresLedger({ connectionString: 'postgres://x@127.0.0.1:1/x', ...o } as never),
        (e: unknown) => e instanceof LedgerArgumentError && re.test(e.message), `${JSON.stringify(o)} must be refused matching ${re}`);
    }
  });
});
