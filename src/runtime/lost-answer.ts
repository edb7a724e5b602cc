// The lost answer of a ledger write, resolved by reading the row again.

import type { LedgerPort, LedgerWrite, WriteResult } from '../ledger';

/** What a lost answer turned out to be: the write's answer, or 'resend' when it did not apply. */
export type LostAnswerResolution = Exclude<WriteResult, { status: 'unknown' }> | 'resend';

/**
 * The spec's recovery step for a WriteLedger whose answer was lost ({ status:
 * 'unknown' }): read the partition's row and decide from it, never by writing
 * twice.  The consumer keeps one write per partition in flight, so the row
 * can only have moved by this write or by a newer holder:
 *
 *  1. row.epoch = write.epoch and row.next = write.upTo: the write applied
 *     (committed up to upTo);
 *  2. row.epoch = write.epoch and row.next = write.expectedNext: it did not
 *     apply, and nothing else of this epoch did; 'resend' the same write (its
 *     next check makes a duplicate impossible should the resend be lost too);
 *  3. otherwise a newer holder fenced the row, or it moved elsewhere: the
 *     write is rejected, exactly as the ledger would have answered it.
 *
 * A failed read rejects with the ledger's error (the caller retries the
 * resolution, not the write).  This lives in the runtime until the spec
 * models the lost answer (issue 15); then it moves into the cores.
 */
export async function resolveLostAnswer<E>(ledger: LedgerPort<E>, write: LedgerWrite<E>): Promise<LostAnswerResolution> {
  const row = await ledger.read(write);
  if (row !== undefined && row.epoch === write.epoch) {
    if (row.next === write.upTo) return { status: 'committed', next: write.upTo };
    if (row.next === write.expectedNext) return 'resend';
    return { status: 'rejected', reason: 'next', ledger: row };
  }
  return { status: 'rejected', reason: 'epoch', ledger: row ?? { epoch: 0, next: 0, writer: 0 } };
}
