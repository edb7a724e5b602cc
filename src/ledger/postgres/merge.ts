// Consecutive effects of one plain INSERT, merged into multi-row INSERTs.
//
// A handler that queues one `INSERT INTO t (a, b) VALUES ($1, $2)` per record
// sends, per commit, one Bind and one Execute per record and gets one
// BindComplete and one CommandComplete back for each: that per-statement
// protocol work, not the server, is what a group commit of such effects
// costs on the client (bench/README.md).  A hand-written consumer sends one
// multi-row INSERT per batch instead.  So the ledger does the same, when it
// cannot change what the effects do:
//
//  - the text is exactly `INSERT INTO <table> (<columns>) VALUES (<$1 .. $n>)`
//    (placeholders $1..$n in order, each optionally cast `::type`): no
//    ON CONFLICT (two rows of one statement may not both update a row), no
//    RETURNING, no DEFAULT VALUES, no subquery, no comment;
//  - the table is a plain or partitioned table with no statement-level
//    trigger (it would fire once instead of once per effect) and no rule
//    (asked of the server once per text: `mergeableTable` below);
//  - the effects are consecutive in the commit (order is kept) and each has
//    exactly n parameters.
// A merged statement that fails is not attributed to one offset: the commit
// is rolled back and run once more unmerged, which names it (postgres.ts).

/** What a mergeable INSERT text is made of. */
export interface InsertShape {
  /** `INSERT INTO <table> (<columns>) VALUES ` */
  readonly head: string;
  /** The table as written, for the server's regclass. */
  readonly table: string;
  /** Per placeholder i (0-based): its cast (`::type`) or ''. */
  readonly casts: readonly string[];
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const TYPE = String.raw`[A-Za-z_][A-Za-z0-9_ ]*(?:\[\])?`;
const PLACEHOLDER = String.raw`\$(\d+)\s*(::\s*${TYPE})?`;
const INSERT = new RegExp(
  String.raw`^\s*(INSERT\s+INTO\s+(${IDENT}(?:\s*\.\s*${IDENT})?)\s*\(\s*${IDENT}(?:\s*,\s*${IDENT})*\s*\)\s*VALUES\s*)` +
  String.raw`\(\s*(${PLACEHOLDER}(?:\s*,\s*${PLACEHOLDER})*)\s*\)\s*;?\s*$`, 'i');
const ONE = new RegExp(PLACEHOLDER, 'g');

/** The shape of a plain INSERT of $1..$n, or undefined when the text is anything else. */
export function insertShape(sql: string): InsertShape | undefined {
  const m = INSERT.exec(sql);
  if (m === null) return undefined;
  const casts: string[] = [];
  let i = 0;
  for (const p of m[3]!.matchAll(ONE)) {
    if (Number(p[1]) !== ++i) return undefined;
    casts.push(p[2] === undefined ? '' : p[2].replace(/\s+/g, ' ').replace(/^:: ?/, '::').trimEnd());
  }
  if (i === 0) return undefined;
  return { head: m[1]!.trimEnd() + ' ', table: m[2]!, casts };
}

/** The most parameters one statement may carry (the protocol's Int16 count). */
export const MAX_PARAMS = 65535;
/** Rows per merged statement at most, whatever the width. */
export const MAX_ROWS = 1000;

/** `INSERT INTO t (..) VALUES ($1, $2), ($3, $4), ...` for `rows` rows of the shape. */
export function mergedText(shape: InsertShape, rows: number): string {
  const n = shape.casts.length;
  const parts: string[] = [];
  for (let r = 0; r < rows; r++) {
    const ps: string[] = [];
    for (let i = 0; i < n; i++) ps.push(`$${r * n + i + 1}${shape.casts[i]}`);
    parts.push(`(${ps.join(', ')})`);
  }
  return shape.head + parts.join(', ');
}

const texts = new WeakMap<InsertShape, Map<number, string>>();

/** mergedText, kept per shape and row count (most statements of a drain have the same count, and building one costs as much as binding it). */
export function mergedTextCached(shape: InsertShape, rows: number): string {
  let byRows = texts.get(shape);
  if (byRows === undefined) texts.set(shape, byRows = new Map());
  let t = byRows.get(rows);
  if (t === undefined) {
    t = mergedText(shape, rows);
    if (byRows.size < 64) byRows.set(rows, t);
  }
  return t;
}

/** Rows per merged statement for a shape of n parameters. */
export function rowsPerStatement(n: number): number {
  return Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMS / n)));
}

/**
 * The server's verdict on the table of a shape: true when merging cannot
 * change what the INSERTs do.  $1 is the table as written (resolved with the
 * connection's search_path).
 */
export const MERGEABLE_TABLE_SQL =
  `SELECT c.relkind IN ('r', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND (t.tgtype & 1) = 0)
      AND NOT EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class = c.oid AND w.rulename <> '_RETURN') AS ok
     FROM pg_class c WHERE c.oid = to_regclass($1)`;
