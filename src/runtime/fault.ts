// Fault injection for the crash-injection harness (trace-check/harness).
// Off unless the environment asks for it; never set in production.
//
//   HTMQC_FAULT=<point>       the process SIGKILLs itself when it reaches <point>
//   HTMQC_FAULT_AFTER=<n>     ... the n-th time (default 1)
//   HTMQC_FAULT_LOSE_ANSWER_EVERY=<n>
//                             PostgreSQL ledger: the answer to every n-th commit
//                             is lost (its connection cut after COMMIT was sent;
//                             the process lives on and recovers, spec LoseAnswer)
//   HTMQC_TRACE_SYNC=1        trace records are written before the core's
//                             commands run (see trace-file.ts)
//   HTMQC_UNSAFE=broker-commit-first
//                             a known-wrong design (see unsafe.ts), to show that
//                             the trace checker and the audit catch it

export type FaultPoint =
  | 'after-handlers-before-ledger'       // effects queued, the ledger transaction not begun
  | 'after-ledger-before-broker-commit'  // the ledger transaction is durable, nothing after it ran
  | 'mid-rebalance'                      // some partitions of a join fenced, others not yet
  | 'mid-dead-letter'                    // a DeadLetter command issued, its outcome not committed
  | 'ledger-commit-sent-before-reply';   // PostgreSQL ledger: the script ending in COMMIT written to the socket, its answer not read

const armed = process.env.HTMQC_FAULT;
const after = Math.max(1, Number(process.env.HTMQC_FAULT_AFTER ?? '1') || 1);
let hits = 0;

const loseEvery = Math.max(0, Number(process.env.HTMQC_FAULT_LOSE_ANSWER_EVERY ?? '0') || 0);
let commitsSent = 0;

/** True for the commits whose answer the harness's lost-answer fault takes away (every HTMQC_FAULT_LOSE_ANSWER_EVERY-th). */
export function loseThisAnswer(): boolean {
  return loseEvery > 0 && ++commitsSent % loseEvery === 0;
}

/** SIGKILLs this process at `point` when HTMQC_FAULT names it (on its HTMQC_FAULT_AFTER-th visit). */
export function faultPoint(point: FaultPoint): void {
  if (armed === undefined || armed !== point) return;
  if (++hits >= after) process.kill(process.pid, 'SIGKILL');
}
