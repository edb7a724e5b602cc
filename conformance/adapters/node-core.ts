// The conformance adapter for htmqc's own cores (PROTOCOL.md): speaks the
// protocol on stdin/stdout and drives a core through the facade.
//
//   node dist/conformance/adapters/node-core.js ts       the TypeScript reference
//   node dist/conformance/adapters/node-core.js native   the native (C++) core

import * as readline from 'node:readline';
import { createCore, DcsmError, ErrorCode, OFFSET_STATE_NAMES, type Core, type CoreKind, type Input } from '../../src/core';
import { PROTOCOL_VERSION, type ObservableState, type ResetConfig } from '../protocol';

type Request = { id?: unknown; type?: unknown; version?: unknown; config?: ResetConfig; input?: Input };
type Reply = Record<string, unknown>;

export class CoreAdapter {
  private core: Core | null = null;

  constructor(private readonly kind: CoreKind) {}

  handle(req: Request): Reply {
    const id = req.id;
    switch (req.type) {
      case 'hello':
        if (req.version !== PROTOCOL_VERSION) {
          return { id, type: 'error', code: 'UnsupportedVersion', message: `this adapter speaks version ${PROTOCOL_VERSION}` };
        }
        return { id, type: 'hello_ok', version: PROTOCOL_VERSION, implementation: `htmqc ${this.kind} core` };
      case 'reset': {
        const c = req.config;
        if (c === undefined) return { id, type: 'error', code: 'InvalidArgument', message: 'reset needs a config' };
        this.core = createCore({
          kind: this.kind, maxInFlightPerPartition: c.window, maxRetries: c.maxRetries,
          retryBackoffMs: c.retryBackoff, maxPartitions: c.partitions,
        });
        return { id, type: 'reset_ok' };
      }
      case 'step': {
        if (this.core === null) return { id, type: 'error', code: 'NotReset', message: 'step before reset' };
        try {
          const batch = this.core.step(req.input as Input);
          return { id, type: 'step_ok', commands: batch.toArray() };
        } catch (e) {
          if (e instanceof DcsmError) return { id, type: 'error', code: ErrorCode[e.code], message: e.message };
          throw e;
        }
      }
      case 'state':
        if (this.core === null) return { id, type: 'error', code: 'NotReset', message: 'state before reset' };
        return { id, type: 'state_ok', state: this.observe(this.core) };
      default:
        return { id, type: 'error', code: 'UnknownType', message: `unknown request type ${String(req.type)}` };
    }
  }

  private observe(core: Core): ObservableState {
    return {
      partitions: core.snapshot().partitions.map((h) => ({
        p: h.p, epoch: h.epoch, gen: h.gen, base: h.base,
        win: h.win.map((s) => ({ st: OFFSET_STATE_NAMES[s.st] as never, tries: s.tries })),
        answer: h.answer,
      })),
    };
  }
}

if (require.main === module) {
  const kind = process.argv[2];
  if (kind !== 'ts' && kind !== 'native') {
    process.stderr.write('usage: node-core.js ts|native\n');
    process.exit(2);
  }
  const adapter = new CoreAdapter(kind);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      process.stdout.write(JSON.stringify({ id: null, type: 'error', code: 'BadRequest', message: 'not JSON' }) + '\n');
      return;
    }
    process.stdout.write(JSON.stringify(adapter.handle(req)) + '\n');
  });
}
