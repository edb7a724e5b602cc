// Reads the TLA+ values TLC prints in a state (the labels of a `-dump dot`
// graph) into plain JSON values:
//
//   TLC prints                     JSON value
//   TRUE, FALSE                    true, false
//   42, -1                         42, -1
//   "Commit"                       "Commit"
//   c1, NoConsumer (model values)  "c1", "NoConsumer"
//   <<a, b>>                       [a, b]
//   [next |-> 0, epoch |-> 1]      { epoch: 1, next: 0 }      (keys sorted)
//   (p1 :> 0 @@ p2 :> 1)           { p1: 0, p2: 1 }           (domain of model values)
//   {a, b}                         [a, b]                     (as printed)
//
// Model values and strings both become JSON strings; DCSM never compares the
// two, so no information is lost.

export type TlaValue = boolean | number | string | TlaValue[] | { [key: string]: TlaValue };

export class TlaParseError extends Error {}

/** Parses one TLA+ value as TLC prints it. */
export function parseTlaValue(text: string): TlaValue {
  const p = new ValueParser(text);
  const v = p.value();
  p.skipSpace();
  if (!p.atEnd()) throw p.error('trailing text');
  return v;
}

/**
 * Parses a state as TLC prints it, `/\ x = v` per variable, into an object of
 * variables (keys sorted).
 */
export function parseTlaState(text: string): { [name: string]: TlaValue } {
  const p = new ValueParser(text);
  const vars: { [name: string]: TlaValue } = {};
  p.skipSpace();
  while (!p.atEnd()) {
    p.expect('/\\');
    const name = p.identifier();
    p.expect('=');
    if (name in vars) throw p.error(`variable ${name} twice`);
    vars[name] = p.value();
    p.skipSpace();
  }
  return sortKeys(vars) as { [name: string]: TlaValue };
}

/** JSON text with object keys sorted at every level: equal values, equal text. */
export function canonicalJson(v: TlaValue): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: TlaValue): TlaValue {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: { [key: string]: TlaValue } = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]!);
    return out;
  }
  return v;
}

class ValueParser {
  private i = 0;

  constructor(private readonly s: string) {}

  atEnd(): boolean { return this.i >= this.s.length; }

  error(what: string): TlaParseError {
    return new TlaParseError(`${what} at offset ${this.i}: ${JSON.stringify(this.s.slice(this.i, this.i + 40))}`);
  }

  skipSpace(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private peek(token: string): boolean {
    this.skipSpace();
    return this.s.startsWith(token, this.i);
  }

  private accept(token: string): boolean {
    if (!this.peek(token)) return false;
    this.i += token.length;
    return true;
  }

  expect(token: string): void {
    if (!this.accept(token)) throw this.error(`expected ${token}`);
  }

  identifier(): string {
    this.skipSpace();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i, this.i + 200));
    if (m === null) throw this.error('expected an identifier');
    this.i += m[0].length;
    return m[0];
  }

  value(): TlaValue {
    this.skipSpace();
    const c = this.s[this.i];
    if (c === undefined) throw this.error('expected a value');
    if (this.accept('<<')) return this.list('>>');
    if (c === '{') { this.i++; return this.list('}'); }
    if (c === '[') return this.record();
    if (c === '(') return this.func();
    if (c === '"') return this.string();
    const num = /^-?[0-9]+/.exec(this.s.slice(this.i, this.i + 40));
    if (num !== null) {
      this.i += num[0].length;
      return Number(num[0]);
    }
    const id = this.identifier();
    if (id === 'TRUE') return true;
    if (id === 'FALSE') return false;
    return id;
  }

  private list(close: string): TlaValue[] {
    const out: TlaValue[] = [];
    if (this.accept(close)) return out;
    do out.push(this.value()); while (this.accept(','));
    this.expect(close);
    return out;
  }

  private record(): TlaValue {
    this.expect('[');
    const out: { [key: string]: TlaValue } = {};
    if (this.accept(']')) return out;
    do {
      const k = this.identifier();
      this.expect('|->');
      out[k] = this.value();
    } while (this.accept(','));
    this.expect(']');
    return out;
  }

  /** (a :> x @@ b :> y): a function whose domain TLC prints element by element. */
  private func(): TlaValue {
    this.expect('(');
    const out: { [key: string]: TlaValue } = {};
    do {
      const k = this.value();
      if (typeof k !== 'string' && typeof k !== 'number') throw this.error('function domain element must be a model value or an integer');
      this.expect(':>');
      out[String(k)] = this.value();
    } while (this.accept('@@'));
    this.expect(')');
    return out;
  }

  private string(): string {
    this.expect('"');
    let out = '';
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      if (this.s[this.i] === '\\') this.i++;
      out += this.s[this.i++];
    }
    this.expect('"');
    return out;
  }
}
