// The per-process NDJSON trace (trace-check/SCHEMA.md): the core's records,
// drained after every core call and appended to one file per process off the
// hot path (one write per event-loop turn).  Records still buffered when the
// process is SIGKILLed are lost; the file then ends early, never out of order.

import * as fs from 'fs';
import * as path from 'path';
import { renderTraceRecord, type Core } from '../core';

export class TraceFile {
  private readonly fd: number;
  private lines: string[] = [];
  private scheduled = false;
  private closed = false;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
  }

  /** Moves the core's pending records into the buffer; the write follows on setImmediate. */
  drain(core: Core): void {
    if (this.closed) return;
    core.drainTrace((r) => { this.lines.push(renderTraceRecord(r)); });
    if (this.lines.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
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
