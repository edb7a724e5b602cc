// The npm package's entries and its native-core selection, without a
// broker: the ES module entry (esm/index.mjs) re-exports every name of the
// CommonJS build, and a consumer whose native addon cannot load runs the
// TypeScript core with one warning unless HTMQC_CORE=native demands it
// (tools/package/install.js leaves such an install in place).  make package
// tests the same entries from an installed tarball.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..', '..', '..');
const cjsEntry = path.join(root, 'dist', 'src', 'index.js');
const facade = path.join(root, 'dist', 'src', 'core', 'facade.js');

/** The export names of the ES module at `file`, read by a fresh node. */
function esmNames(file: string): string[] {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const m = await import(${JSON.stringify(file)}); console.log(JSON.stringify(Object.keys(m).sort()))`], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

/** Names of the CommonJS entry that the ES module entry at `file` lacks. */
function missingFromEsm(file: string): string[] {
  const esm = new Set(esmNames(file));
  return Object.keys(require(cjsEntry) as object).filter((k) => k !== '__esModule' && !esm.has(k));
}

/** Creates a core in a fresh node with `env`; returns its kind (or the error) and stderr. */
function coreIn(env: Record<string, string>): { out: string; err: string } {
  const script = `try { const c = require(${JSON.stringify(facade)}).createCore({ maxInFlightPerPartition: 4, maxRetries: 1, retryBackoffMs: 0 });
    console.log(c.kind); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const base = { ...process.env };
  delete base['HTMQC_CORE'];
  delete base['HTMQC_NATIVE_ADDON'];
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...base, ...env } });
  return { out: r.stdout.trim(), err: r.stderr };
}

describe('package entries: ESM and CommonJS', function () {
  this.timeout(20000);

  it('the ES module entry exports every name of the CommonJS entry, the same objects', function () {
    assert.deepStrictEqual(missingFromEsm(path.join(root, 'esm', 'index.mjs')), []);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { createRequire } from 'node:module';
      import { ConfigError, createConsumer } from ${JSON.stringify(path.join(root, 'esm', 'index.mjs'))};
      const cjs = createRequire(import.meta.url)(${JSON.stringify(cjsEntry)});
      console.log(cjs.ConfigError === ConfigError && cjs.createConsumer === createConsumer)`], { encoding: 'utf8' });
    assert.strictEqual(r.stdout.trim(), 'true', r.stderr);
  });

  it('names what an ES module entry lacks (the check has teeth)', function () {
    const dir = path.join(root, '.cache', 'esm-entry-check');
    fs.mkdirSync(dir, { recursive: true });
    const mutant = path.join(dir, 'index.mjs');
    const text = fs.readFileSync(path.join(root, 'esm', 'index.mjs'), 'utf8')
      .replace("'../dist/src/index.js'", JSON.stringify(cjsEntry)).replace(' openPostgresLedger,', '');
    fs.writeFileSync(mutant, text);
    try {
      assert.deepStrictEqual(missingFromEsm(mutant), ['openPostgresLedger']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('native core selection where the addon cannot load', function () {
  this.timeout(20000);

  it('uses the native core where it loads', function () {
    assert.strictEqual(coreIn({}).out, 'native');
  });

  it('falls back to the TypeScript core with one warning naming the addon and HTMQC_CORE', function () {
    const r = coreIn({ HTMQC_NATIVE_ADDON: '/nonexistent/htmqc.node' });
    assert.strictEqual(r.out, 'ts');
    assert.match(r.err, /\[HTMQC_NO_NATIVE_CORE\].*cannot load the native core from \/nonexistent\/htmqc\.node.*HTMQC_CORE=ts/);
  });

  it('never falls back when HTMQC_CORE=native asks for the addon', function () {
    const r = coreIn({ HTMQC_NATIVE_ADDON: '/nonexistent/htmqc.node', HTMQC_CORE: 'native' });
    assert.match(r.out, /^NativeCoreError: cannot load the native core from \/nonexistent\/htmqc\.node/);
    assert.doesNotMatch(r.err, /HTMQC_NO_NATIVE_CORE/);
  });

  it('uses ts without a warning when HTMQC_CORE=ts, and rejects another value naming it', function () {
    const ts = coreIn({ HTMQC_NATIVE_ADDON: '/nonexistent/htmqc.node', HTMQC_CORE: 'ts' });
    assert.deepStrictEqual([ts.out, /HTMQC_NO_NATIVE_CORE/.test(ts.err)], ['ts', false]);
    assert.match(coreIn({ HTMQC_CORE: 'nativ' }).out, /HTMQC_CORE must be 'ts' or 'native', got nativ/);
  });
});
