// The per-process NDJSON trace (trace-check/SCHEMA.md): the core's records,
// drained after every core call and appended to one file per process off the
// hot path (one write per event-loop turn).  Records still buffered when the
// process is SIGKILLed are lost; the file then ends early, never out of order.

import * as fs from 'fs';
import * as path from 'path';
import { renderTraceRecord, type Core, type TraceRecord } from '../core';

export class TraceFile {
  private readonly fd: number;
  private lines: string[] = [];
  private scheduled = false;
  private closed = false;
  /**
   * HTMQC_TRACE_SYNC=1 (the crash-injection harness): records are written
   * before the core's commands run, so a SIGKILL loses at most the records
   * of a step whose ledger write already returned (trace-check/SCHEMA.md).
   */
  private readonly sync = process.env.HTMQC_TRACE_SYNC === '1';

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
  }

  /** Moves the core's pending records into the buffer; the write follows on setImmediate. */
  drain(core: Core): void {
    if (this.closed) return;
    core.drainTrace((r) => { this.lines.push(renderTraceRecord(r)); });
    if (this.sync) {
      this.flush();
      return;
    }
    if (this.lines.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Buffers one record; the write follows on setImmediate. */
  add(record: TraceRecord): void {
    if (this.closed) return;
    this.lines.push(renderTraceRecord(record));
    if (this.sync) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Records name partitions by the core's dense number p; the sidecar file
   * `<trace>.partitions` maps each p to its topic and partition, written
   * before the first record that uses p (trace-check/SCHEMA.md).
   */
  declarePartition(p: number, topic: string, partition: number): void {
    if (this.closed) return;
    fs.appendFileSync(`${this.file}.partitions`, `${JSON.stringify({ p, topic, partition })}\n`);
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0 || this.closed) return;
    const text = this.lines.join('\n') + '\n';
    this.lines = [];
    fs.writeSync(this.fd, text);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
