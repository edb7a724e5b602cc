// Strict option objects: a key nobody reads is a typo until proven otherwise
// (`maxRetrys: 3` silently keeping the default of 3 retries is the failure
// this exists for).  Shared by createConsumer, the ledgers and the CLI's
// config files; a leaf module, so any layer may import it.

/** The known key nearest to `key` when it is a plausible typo of it, else undefined. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const k = key.toLowerCase();
  for (const candidate of known) {
    const d = editDistance(k, candidate.toLowerCase());
    if (d < bestDistance) { best = candidate; bestDistance = d; }
  }
  // A near miss: at most a third of the longer name differs (maxRetrys, maxretries, maxRetry).
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.max(key.length, best.length) / 3)) ? best : undefined;
}

/**
 * The keys of `obj` that are not in `known`, each with its message:
 * `is not an option (did you mean maxRetries?)`.  Empty when all are known.
 */
export function unknownKeys(obj: object, known: readonly string[]): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    out.push({ key, message: `is not an option${near === undefined ? ` (known: ${known.join(', ')})` : ` (did you mean ${near}?)`}` });
  }
  return out;
}

/** A value as an error message shows it: strings quoted, so `"3"` is not mistaken for 3. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `${JSON.stringify(v)} (a string)`;
  if (typeof v === 'bigint') return `${v}n (a bigint)`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

/** Levenshtein distance, two rows. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
