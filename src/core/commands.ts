// Packed commands: the form both cores hand to the runtime.  Command i is the
// tuple data[5i .. 5i+4] = [op, p, a, b, c] with op a CommandOp and:
//
//   RunHandler(p, o)                          a = o
//   WriteLedger(p, epoch, expectedNext, upTo) a = epoch, b = expectedNext, c = upTo
//   CommitBroker(p, offset)                   a = offset
//   Pause(p) / Resume(p)                      -
//   Seek(p, offset)                           a = offset
//   DeadLetter(p, o)                          a = o
//   ReadLedger(p, epoch)                      a = epoch
//
// Unused fields are 0.  The native core writes the same layout (codes.h).

import { CommandOp, type Command } from './types';

export const COMMAND_STRIDE = 5;

/** A view of the commands of the last call; valid until the core's next call. */
export class CommandBatch {
  constructor(public data: Float64Array, public count: number) {}

  op(i: number): CommandOp { return this.data[i * COMMAND_STRIDE]! as CommandOp; }
  p(i: number): number { return this.data[i * COMMAND_STRIDE + 1]!; }
  a(i: number): number { return this.data[i * COMMAND_STRIDE + 2]!; }
  b(i: number): number { return this.data[i * COMMAND_STRIDE + 3]!; }
  c(i: number): number { return this.data[i * COMMAND_STRIDE + 4]!; }

  /** Decodes command i (allocates; meant for tests, logs and slow paths). */
  get(i: number): Command { return decodeCommand(this.data, i); }

  toArray(): Command[] {
    const out: Command[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.get(i));
    return out;
  }
}

export function decodeCommand(data: Float64Array, i: number): Command {
  const at = i * COMMAND_STRIDE;
  const p = data[at + 1]!;
  const a = data[at + 2]!;
  switch (data[at] as CommandOp) {
    case CommandOp.RunHandler: return { kind: 'RunHandler', p, o: a };
    case CommandOp.WriteLedger: return { kind: 'WriteLedger', p, epoch: a, expectedNext: data[at + 3]!, upTo: data[at + 4]! };
    case CommandOp.CommitBroker: return { kind: 'CommitBroker', p, offset: a };
    case CommandOp.Pause: return { kind: 'Pause', p };
    case CommandOp.Resume: return { kind: 'Resume', p };
    case CommandOp.Seek: return { kind: 'Seek', p, offset: a };
    case CommandOp.DeadLetter: return { kind: 'DeadLetter', p, o: a };
    case CommandOp.ReadLedger: return { kind: 'ReadLedger', p, epoch: a };
    default: throw new RangeError(`unknown command opcode ${data[at]}`);
  }
}

/** Writes command objects into data from index 0; data must hold them all. */
export function packCommands(commands: readonly Command[], data: Float64Array): void {
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i]!;
    const at = i * COMMAND_STRIDE;
    let op: CommandOp;
    let a = 0;
    let b = 0;
    let x = 0;
    switch (c.kind) {
      case 'RunHandler': op = CommandOp.RunHandler; a = c.o; break;
      case 'WriteLedger': op = CommandOp.WriteLedger; a = c.epoch; b = c.expectedNext; x = c.upTo; break;
      case 'CommitBroker': op = CommandOp.CommitBroker; a = c.offset; break;
      case 'Pause': op = CommandOp.Pause; break;
      case 'Resume': op = CommandOp.Resume; break;
      case 'Seek': op = CommandOp.Seek; a = c.offset; break;
      case 'DeadLetter': op = CommandOp.DeadLetter; a = c.o; break;
      case 'ReadLedger': op = CommandOp.ReadLedger; a = c.epoch; break;
    }
    data[at] = op;
    data[at + 1] = c.p;
    data[at + 2] = a;
    data[at + 3] = b;
    data[at + 4] = x;
  }
}
