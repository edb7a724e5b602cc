// Types of the ES module entry (esm/index.mjs): those of the CommonJS build.
export * from '../dist/src/index.js';
