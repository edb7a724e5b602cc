-- The handler's effect table, created by the ledger when it opens (every
-- open: hence IF NOT EXISTS), in the same database as the offsets.
CREATE TABLE IF NOT EXISTS order_totals (
  customer TEXT PRIMARY KEY,
  orders   INTEGER NOT NULL,
  cents    INTEGER NOT NULL
);
