// The package entry and the PostgreSQL ledger: openPostgresLedger and its
// error class are exported next to openSqliteLedger, and the `pg` driver is
// loaded only when a PostgreSQL ledger is opened (a fresh node process per
// case, since the module cache is per process).

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as htmqc from '../../src';
import { LedgerArgumentError, LedgerStatementError } from '../../src/ledger';

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
});
