// The htmqc command run as a subprocess (node bin/htmqc.js): help on every
// subcommand, `status` and `watch` against a running state service (fake
// consumer, no broker), and a non-zero exit for an unknown command.

import * as assert from 'assert';
import { execFile } from 'child_process';
import * as path from 'path';
import { OffsetState } from '../../src/core';
import type { ConsumerObserver, ConsumerSnapshot } from '../../src/runtime/consumer';
import { startStateService, type StateService } from '../../src/service';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'htmqc.js');

function htmqc(args: string[], timeoutMs = 15000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: timeoutMs }, (e, stdout, stderr) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout, stderr });
    });
  });
}

const observers: ConsumerObserver[] = [];
const fake = {
  transitions: true,
  snapshot: (): ConsumerSnapshot => ({
    groupId: 'g-cli', memberId: 'member-x', running: true, joins: 2,
    partitions: [{ p: 0, topic: 'orders', partition: 3, epoch: 5, ledgerNext: 1200, position: 1210, inFlight: 10, paused: false }],
    counters: { handled: 0, failed: 0, committed: 0, deadLettered: 0, ledgerCommits: 0, ledgerRejections: 0, ledgerLostAnswers: 0, ledgerErrors: 0, rebalances: 2 },
    core: {
      now: 0, seq: 0, fences: [[0, 5]],
      partitions: [{
        p: 0, epoch: 5, gen: 2, base: 1200, pos: 1210, head: 0, paused: false, writeUpTo: 0, answer: 'NoAnswer', retryDueAt: 0,
        win: Array.from({ length: 10 }, (_, i) => ({ st: i < 4 ? OffsetState.Done : OffsetState.Pending, tries: 0 })),
      }],
    },
  }),
  observe: (o: ConsumerObserver) => { observers.push(o); return () => undefined; },
};

describe('htmqc command (subprocess)', function () {
  this.timeout(60000);
  let service: StateService;
  before(async () => { service = await startStateService(fake, { token: 'tok' }); });
  after(async () => { await service.close(); });

  it('--help lists the commands, and every subcommand has --help', async () => {
    const top = await htmqc(['--help']);
    assert.strictEqual(top.code, 0);
    const names = ['run', 'status', 'watch', 'verify', 'conformance', 'bench', 'broker'];
    for (const n of names) assert.match(top.stdout, new RegExp(`^  ${n}\\b`, 'm'), `${n} in\n${top.stdout}`);
    const helps = await Promise.all(names.map((n) => htmqc([n, '--help'])));
    helps.forEach((h, i) => {
      assert.strictEqual(h.code, 0, `${names[i]} --help: ${h.stderr}`);
      assert.match(h.stdout, new RegExp(`^Usage: htmqc ${names[i]}`, 'm'));
    });
  });

  it('--version prints the package version', async () => {
    const r = await htmqc(['--version']);
    assert.strictEqual(r.code, 0);
    assert.strictEqual(r.stdout.trim(), (require(path.join(ROOT, 'package.json')) as { version: string }).version);
  });

  it('rejects a bad flag value with a message naming the flag and the value, before connecting', async () => {
    const cases: [string[], RegExp][] = [
      [['watch', '--partition', 'abc'], /option '-p, --partition <n>' argument 'abc' is invalid\. It must be an integer, got 'abc'/],
      [['watch', '--partition', '-1'], /option '-p, --partition <n>' argument '-1' is invalid\. It must be an integer from 0/],
      [['watch', '--action', 'BOGUS'], /option '--action <ACTION>' argument 'BOGUS' is invalid\. Unknown action 'BOGUS'; one of ASSIGN, .*COMMIT_BROKER/],
      [['watch', '--count', '0'], /option '--count <n>' argument '0' is invalid/],
      [['conformance', '--impl', 'x', '--vector', '1x'], /option '--vector <n\.\.\.>' argument '1x' is invalid/],
      [['conformance', '--impl', 'x', '--timeout', '-5'], /option '--timeout <ms>' argument '-5' is invalid/],
    ];
    for (const [args, message] of cases) {
      const r = await htmqc([...args, '--address', '127.0.0.1:1']);
      assert.notStrictEqual(r.code, 0, `${args.join(' ')} must fail`);
      assert.match(r.stderr, message, `${args.join(' ')}: ${r.stderr}`);
    }
    const ok = await htmqc(['watch', '--address', service.address, '--token', 'tok', '--json', '--count', '1', '--action', 'commit', '--partition', '3'], 3000);
    assert.doesNotMatch(ok.stderr, /is invalid/, 'a lower-case action name and a numeric partition are accepted');
  });

  it('status prints the group and the partition table from a running service', async () => {
    const r = await htmqc(['status', '--address', service.address, '--token', 'tok']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /group g-cli {2}member member-x {2}generation 2/);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[lines.length - 2]!, /^topic\s+part\s+epoch\s+position\s+ledger_next/);
    assert.match(lines[lines.length - 1]!, /^orders\s+3\s+5\s+1210\s+1200\s+-1\s+-1\s+-1\s+6\s+0\s+4\s+0\s+0\s+no/);
    const json = await htmqc(['status', '--address', service.address, '--token', 'tok', '--json']);
    assert.strictEqual(JSON.parse(json.stdout).partitions[0].ledger_next, 1200);
  });

  it('status without the token fails with the gRPC reason and exit code 1', async () => {
    const r = await htmqc(['status', '--address', service.address]);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /bearer token/);
  });

  it('watch prints live transitions', async () => {
    const run = htmqc(['watch', '--address', service.address, '--token', 'tok', '--json', '--count', '1', '--action', 'COMMIT']);
    const deadline = Date.now() + 20000;
    let result: { code: number; stdout: string } | undefined;
    void run.then((r) => { result = r; });
    while (result === undefined && Date.now() < deadline) {
      for (const o of observers) o.transition?.({ seq: 9, action: 'Commit', p: 0, epoch: 5, base: 1201, pos: 1210, from: 1200, upTo: 1201 }, { topic: 'orders', partition: 3 });
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await run;
    assert.strictEqual(r.code, 0);
    const t = JSON.parse(r.stdout.trim().split('\n')[0]!);
    assert.deepStrictEqual([t.action, t.topic, t.partition, t.offset, t.arg], ['COMMIT', 'orders', 3, 1200, 1201]);
  });

  it('an unknown command exits non-zero', async () => {
    const r = await htmqc(['no-such-command']);
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /unknown command/);
  });
});
