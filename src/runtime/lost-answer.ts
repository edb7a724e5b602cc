// Command ReadLedger(p, epoch): the row of a partition whose write lost its
// answer, read once that write settled (spec LoseAnswer, then Recover).
//
// The decision is the core's (input LedgerRead(p, epoch, next), spec
// RecoverDecision); this only reads, through the ledger port's readSettled,
// and hands the row on.  Errors are classified by `retriable` as the writer
// does: a retriable one (a lock wait that timed out, a dropped connection)
// is reported and the read tried again with exponential backoff, as long as
// the run still holds its partition -- never skipped, never guessed; any
// other error stops the consumer, naming the partition and the offset.

import { LedgerError, type LedgerPort, type LedgerRow, type PartitionRef, type Statement } from '../ledger';
import { ConsumerFatalError } from './errors';

export interface ReaderRun extends PartitionRef {
  readonly active: boolean;
  /** The window's first offset (the lost write's expectedNext), to name in an error. */
  readonly base: number;
}

export interface LedgerReaderEvents<R extends ReaderRun> {
  /** The row read for run's ReadLedger (undefined: the partition was never fenced). */
  row(run: R, epoch: number, row: LedgerRow | undefined): void;
  /** A retriable error; the read is tried again after backoff. */
  retrying(error: unknown): void;
  /** A non-retriable error: the consumer must stop. */
  fatal(error: ConsumerFatalError): void;
}

export interface LedgerReaderOptions {
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

export class LedgerReader<R extends ReaderRun> {
  private readonly reading = new Set<Promise<void>>();
  private halted = false;

  constructor(
    private readonly ledger: LedgerPort<Statement>,
    private readonly events: LedgerReaderEvents<R>,
    private readonly options: LedgerReaderOptions,
  ) {}

  /** Reads in progress (including their backoff waits). */
  get inFlight(): number { return this.reading.size; }

  /** Command ReadLedger(p, epoch) for run. */
  read(run: R, epoch: number): void {
    const done: Promise<void> = this.readUntilDone(run, epoch).finally(() => this.reading.delete(done));
    this.reading.add(done);
  }

  /** Resolves once no read is in progress. */
  async settle(): Promise<void> {
    while (this.reading.size > 0) await Promise.all(this.reading);
  }

  /** No more reads: those in progress end at their next attempt. */
  halt(): void { this.halted = true; }

  private async readUntilDone(run: R, epoch: number): Promise<void> {
    let backoff = this.options.backoffMs;
    while (!this.halted && run.active) {
      let row: LedgerRow | undefined;
      try {
        row = await this.ledger.readSettled(run);
      } catch (e) {
        if (!(e instanceof LedgerError && e.retriable)) {
          this.events.fatal(new ConsumerFatalError(
            { topic: run.topic, partition: run.partition, offset: run.base }, 'the ledger read after a lost answer (ReadLedger)', e));
          return;
        }
        this.events.retrying(e);
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(this.options.maxBackoffMs, backoff * 2);
        continue;
      }
      if (!this.halted && run.active) this.events.row(run, epoch, row);
      return;
    }
  }
}
