// Parsers for command-line flag values.  Each one rejects a bad value with a
// message that names the flag and the value (commander prints it as
// "error: option '--partition <n>' argument 'abc' is invalid. <reason>") and
// exits non-zero; nothing is coerced silently.

import * as fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { packageDefinition } from '../../service/proto';

/** A parser for an integer flag in [min, max]. */
export function integerFlag(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`It must be an integer, got '${value}'.`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`It must be an integer from ${min} to ${max}, got ${value}.`);
    }
    return n;
  };
}

/** A repeatable integer flag: each value parsed as integerFlag(min, max), collected in order. */
export function repeatableIntegerFlag(min: number, max?: number): (value: string, previous: number[]) => number[] {
  const one = integerFlag(min, max);
  return (value: string, previous: number[]): number[] => [...previous, one(value)];
}

/** The names of htmqc.v1.Action other than ACTION_UNSPECIFIED, as the proto declares them. */
export function actionNames(): string[] {
  const e = packageDefinition()['htmqc.v1.Action'] as unknown as { type: { value: { name: string }[] } };
  return e.type.value.map((v) => v.name).filter((n) => n !== 'ACTION_UNSPECIFIED');
}

/** A repeatable flag naming spec actions as the proto spells them (case-insensitive); unknown names are an error. */
export function repeatableActionFlag(): (value: string, previous: string[]) => string[] {
  return (value: string, previous: string[]): string[] => {
    const names = actionNames();
    const name = value.trim().toUpperCase();
    if (!names.includes(name)) throw new InvalidArgumentError(`Unknown action '${value}'; one of ${names.join(', ')}.`);
    return [...previous, name];
  };
}

/** A parser for a flag whose value must not be empty (a topic, a token, a command). */
export function nonEmptyFlag(what: string): (value: string) => string {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`It must be ${what}, got an empty string.`);
    return value;
  };
}

/**
 * Checks `host:port` (an IPv6 host in brackets: `[::1]:9470`); the port is
 * 1..65535.  Returns what is wrong ("must be host:port ..."), or undefined
 * when it is well formed.  Shared by the --address flag and the config file's brokers.
 */
export function hostPortProblem(value: string): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):(\d+)$/.exec(value);
  if (m === null) return `must be host:port (e.g. 127.0.0.1:9470), got '${value}'`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `must have a port from 1 to 65535, got ${m[2]}`;
  return undefined;
}

/** A parser for a host:port flag. */
export function hostPortFlag(value: string): string {
  const problem = hostPortProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(`It ${problem}.`);
  return value;
}

/** A parser for a flag naming a file that must exist and be readable now (so the error names the flag, not a later read). */
export function readableFileFlag(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('It must be the path of a file, got an empty string.');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(value);
    fs.accessSync(value, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(code === 'ENOENT' ? `No such file '${value}'.` : `Cannot read '${value}' (${code ?? String(e)}).`);
  }
  if (!stat.isFile()) throw new InvalidArgumentError(`'${value}' is not a file.`);
  return value;
}
