// merge.ts: which effect texts the PostgreSQL ledger may send as multi-row
// INSERTs, and the text it sends.  No server (test/pg/merge.test.ts runs
// them on one).

import * as assert from 'assert';
import { insertShape, MAX_PARAMS, mergedText, mergedTextCached, rowsPerStatement } from '../../src/ledger/postgres/merge';

describe('PostgreSQL ledger: merging consecutive INSERT effects (merge.ts)', () => {
  it('takes a plain INSERT of $1..$n, with casts, quoted and schema-qualified names', () => {
    assert.deepStrictEqual(insertShape('INSERT INTO effects (p, o, v) VALUES ($1, $2, $3)'),
      { head: 'INSERT INTO effects (p, o, v) VALUES ', table: 'effects', casts: ['', '', ''] });
    const s = insertShape('  insert into app."Orders" ("Id", note)\n values ($1::bigint, $2 :: text);  ')!;
    assert.strictEqual(s.table, 'app."Orders"');
    assert.deepStrictEqual(s.casts, ['::bigint', '::text']);
    assert.strictEqual(mergedText(s, 2), 'insert into app."Orders" ("Id", note)\n values ($1::bigint, $2::text), ($3::bigint, $4::text)');
  });

  it('refuses every text whose merge could change what it does', () => {
    for (const sql of [
      'INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING',
      'INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = excluded.a',
      'INSERT INTO t (a) VALUES ($1) RETURNING a',
      'INSERT INTO t DEFAULT VALUES',
      'INSERT INTO t (a) SELECT $1',
      'INSERT INTO t (a, b) VALUES ($2, $1)',
      'INSERT INTO t (a, b) VALUES ($1, $1)',
      'INSERT INTO t (a, b) VALUES ($1, 7)',
      'INSERT INTO t (a) VALUES ($1), ($2)',
      'INSERT INTO t VALUES ($1)',
      'INSERT INTO t (a) VALUES ($1) -- note',
      'UPDATE t SET a = $1',
      'INSERT INTO t (a) VALUES ($1); DELETE FROM t',
    ]) assert.strictEqual(insertShape(sql), undefined, sql);
  });

  it('numbers the placeholders row after row, and keeps a statement within the protocol\'s 65,535 parameters', () => {
    const s = insertShape('INSERT INTO t (a, b) VALUES ($1, $2)')!;
    assert.strictEqual(mergedText(s, 3), 'INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)');
    assert.strictEqual(rowsPerStatement(3), 1000);
    assert.strictEqual(rowsPerStatement(100), Math.floor(MAX_PARAMS / 100));
    assert.strictEqual(rowsPerStatement(70000), 1);
    assert.strictEqual(mergedTextCached(s, 3), mergedText(s, 3));
    assert.strictEqual(mergedTextCached(s, 3), mergedTextCached(s, 3), 'the same string, built once');
  });
});
