// The handler `htmqc run examples/run/orders.json examples/run/handler.js`
// loads: each order {"customer": "...", "cents": 1250} adds to its
// customer's totals.  The statement is queued on tx, so it commits in the
// ledger transaction with the offset: exactly once, even across a crash.
'use strict';

module.exports = async function handler(message, tx) {
  const order = JSON.parse(message.value.toString('utf8'));
  if (typeof order.customer !== 'string' || !Number.isInteger(order.cents)) {
    throw new Error(`offset ${message.offset}: not an order: ${message.value.toString('utf8')}`);
  }
  tx.execute(
    'INSERT INTO order_totals (customer, orders, cents) VALUES (?, 1, ?) ' +
      'ON CONFLICT (customer) DO UPDATE SET orders = orders + 1, cents = cents + excluded.cents',
    [order.customer, order.cents],
  );
};
