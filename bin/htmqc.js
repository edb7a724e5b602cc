#!/usr/bin/env node
// The htmqc command: src/cli/main.ts, compiled to dist/ by `make build`.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write(`htmqc: ${main} is missing; run \`make build\` first\n`);
  process.exit(2);
}
require(main).main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`htmqc: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
