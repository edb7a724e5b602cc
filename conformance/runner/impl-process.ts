// The implementation under test as a child process speaking the protocol
// (PROTOCOL.md): one JSON request per line on its stdin, one JSON reply per
// line on its stdout, strictly in turn.  Anything else -- an exit, a line
// that is not a JSON object, a reply with the wrong id, no reply in time --
// is a ProtocolFailure, after which the process is killed and not used again.
//
// The command runs through /bin/sh -c in a process group of its own, and
// every kill is sent to that whole group: an implementation started as
// `python3 impl.py` is a child of the shell, and a hung one must not outlive
// the runner reparented to PID 1 (nor any helper process it started).

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as readline from 'node:readline';

export type FailureKind = 'crashed' | 'malformed' | 'timeout' | 'spawn';

export class ProtocolFailure extends Error {
  constructor(readonly kind: FailureKind, message: string) { super(message); }
}

export type Reply = { readonly id: number; readonly type: string; readonly [field: string]: unknown };

const STDERR_TAIL = 2000;

/** Process groups of implementations still running; killed when the runner exits (also on Ctrl-C). */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone already */ }
  }
});

export class ImplProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private nextId = 1;
  private waiting: { id: number; resolve: (r: Reply) => void; reject: (e: ProtocolFailure) => void; timer: NodeJS.Timeout } | null = null;
  private failed: ProtocolFailure | null = null;
  private stderrTail = '';
  private exited = false;

  /** Starts `command` through the shell (sh -c), in cwd. */
  constructor(readonly command: string, private readonly timeoutMs: number, cwd?: string) {
    this.child = spawn('/bin/sh', ['-c', command], { cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    if (this.child.pid !== undefined) liveGroups.add(this.child.pid);
    this.child.stdin.on('error', () => { /* an exit is reported by 'exit' */ });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_TAIL);
    });
    const lines = readline.createInterface({ input: this.child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => this.onLine(line));
    this.child.on('error', (err) => this.fail(new ProtocolFailure('spawn', `cannot start ${JSON.stringify(command)}: ${err.message}`)));
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`;
      // Let stdout and stderr drain first: a reply or a last message may still be in the pipe.
      setImmediate(() => this.fail(new ProtocolFailure('crashed', `the implementation ${how}${this.stderrSuffix()}`)));
    });
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.trim();
    return tail === '' ? '' : `; its stderr ended with:\n${tail.split('\n').slice(-12).map((l) => `    | ${l}`).join('\n')}`;
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    const w = this.waiting;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.fail(new ProtocolFailure('malformed', `the implementation wrote a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`));
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      this.fail(new ProtocolFailure('malformed', `a reply must be a JSON object, got ${line.slice(0, 200)}`));
      return;
    }
    const reply = msg as { id?: unknown; type?: unknown };
    if (w === null) {
      this.fail(new ProtocolFailure('malformed', `unsolicited output from the implementation: ${line.slice(0, 200)}`));
      return;
    }
    if (reply.id !== w.id || typeof reply.type !== 'string') {
      this.fail(new ProtocolFailure('malformed', `expected a reply with id ${w.id} and a string type, got ${line.slice(0, 200)}`));
      return;
    }
    this.waiting = null;
    clearTimeout(w.timer);
    w.resolve(msg as Reply);
  }

  private fail(f: ProtocolFailure): void {
    if (this.failed !== null) return;
    this.failed = f;
    const w = this.waiting;
    this.waiting = null;
    if (w !== null) {
      clearTimeout(w.timer);
      w.reject(f);
    }
    this.killGroup();
  }

  /** SIGKILL to the implementation's whole process group (the shell, the implementation, anything it started). */
  private killGroup(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    liveGroups.delete(pid);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch (e) {
      // ESRCH: the group is gone already (every member exited).
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  /** Sends one request (an id is added) and resolves to its reply. */
  request(type: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    if (this.failed !== null) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new ProtocolFailure('timeout', `no reply to ${type} within ${this.timeoutMs} ms${this.stderrSuffix()}`));
      }, this.timeoutMs);
      this.waiting = { id, resolve, reject, timer };
      this.child.stdin.write(JSON.stringify({ id, type, ...fields }) + '\n');
    });
  }

  /** Closes stdin (the implementation should exit) and kills it if it lingers. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.failed ??= new ProtocolFailure('crashed', 'closed by the runner');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.killGroup(), 1000);
      this.child.once('exit', () => { clearTimeout(timer); resolve(); });
      this.child.stdin.end();
    });
    // The shell exited; whatever it started and left behind goes with the group.
    this.killGroup();
  }
}
