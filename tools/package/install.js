#!/usr/bin/env node
// htmqc's npm "install" script.  Plain CommonJS: it runs before anything is
// built, in the installed package's root (or the repository's, under npm ci).
//
// 1. The native DCSM core.  node-gyp-build picks a local build
//    (build/Release) or the prebuild the tarball carries for this platform,
//    architecture and libc (prebuilds/linux-x64/htmqc.glibc.node).  Where one
//    loads, nothing is compiled.  Otherwise the addon is built from source
//    (binding.gyp, native/src) with npm's node-gyp.  Where that fails too (no
//    compiler, no Node headers, no network for node-gyp to fetch them), the
//    install still succeeds and says so: the consumer then runs the
//    TypeScript core (src/core/facade.ts falls back, with a warning, unless
//    HTMQC_CORE=native demands the addon).
// 2. better-sqlite3, bundled in the tarball.  Its own install script
//    (prebuild-install) finds its binary in prebuilds/ through
//    .prebuild-installrc (the local-prebuilds option, relative to
//    node_modules/better-sqlite3).  npm 11 runs this script before that one,
//    and an allowScripts policy skips a bundled package's script altogether,
//    so when better-sqlite3 does not load yet, this one runs prebuild-install
//    for it (and a source build if that fails).
//
// Exit status 0 unless the package directory itself is broken; every
// degraded outcome is a warning on stderr naming what failed and the command
// that retries it.

'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const platform = `${process.platform}-${process.arch}`;

function warn(lines) {
  process.stderr.write(lines.map((l) => `htmqc: ${l}\n`).join(''));
}

/** Runs `code` in a fresh node in the package root; returns undefined when it exits 0, else the first stderr line. */
function probe(code) {
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const lines = `${r.stderr || ''}${r.error ? r.error.message : ''}`.split('\n').filter((l) => /^\w*Error\b/.test(l));
  return lines[0] || `exit status ${r.status}`;
}

/** npm's own node-gyp (npm_config_node_gyp), else a node-gyp this package can resolve. */
function nodeGypScript() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return fromNpm;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    return undefined;
  }
}

function nativeCore() {
  const loads = 'require(require("node-gyp-build").path(process.cwd()))';
  const before = probe(loads);
  if (before === undefined) return;
  const gyp = nodeGypScript();
  if (gyp !== undefined) {
    process.stderr.write(`htmqc: no prebuilt native core for ${platform} loads here (${before}); building it from source\n`);
    const r = spawnSync(process.execPath, [gyp, 'rebuild', '--release'], { cwd: root, stdio: 'inherit' });
    if (r.status === 0 && probe(loads) === undefined) return;
  }
  warn([
    `WARNING: the native core is not available on ${platform} (${before}),`,
    gyp === undefined ? '  and node-gyp was not found to build it from source.' : '  and building it from source failed (output above).',
    '  htmqc works without it: consumers run the TypeScript core, the same state machine, slower',
    '  (set HTMQC_CORE=ts to choose it without a warning at run time).',
    '  To retry the build once a compiler and Node headers are there: npm rebuild htmqc',
  ]);
}

function sqlite() {
  const loads = 'new (require("better-sqlite3"))(":memory:").close()';
  const before = probe(loads);
  if (before === undefined) return;
  let dir;
  try {
    dir = path.dirname(require.resolve('better-sqlite3/package.json', { paths: [root] }));
  } catch {
    warn([`WARNING: better-sqlite3 is missing (${before}); openSqliteLedger will fail. npm install better-sqlite3 restores it.`]);
    return;
  }
  // The script npm would have run for it: prebuild-install (local prebuild first), else a source build.
  let installed = false;
  try {
    const prebuildInstall = require.resolve('prebuild-install/bin.js', { paths: [dir] });
    installed = spawnSync(process.execPath, [prebuildInstall], { cwd: dir, stdio: 'inherit' }).status === 0;
  } catch {
    installed = false;
  }
  const gyp = nodeGypScript();
  if (!installed && gyp !== undefined) spawnSync(process.execPath, [gyp, 'rebuild', '--release'], { cwd: dir, stdio: 'inherit' });
  const after = probe(loads);
  if (after === undefined) return;
  warn([
    `WARNING: better-sqlite3 does not load on ${platform} (${after}).`,
    '  The SQLite ledger (openSqliteLedger) will fail; the PostgreSQL ledger works.',
    `  To retry: cd ${dir} && npm run install`,
  ]);
}

if (!fs.existsSync(path.join(root, 'package.json'))) {
  process.stderr.write(`htmqc: install script: no package.json in ${root}\n`);
  process.exit(1);
}
nativeCore();
sqlite();
