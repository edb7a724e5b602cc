// Parsers for command-line flag values.  Each one rejects a bad value with a
// message that names the flag and the value (commander prints it as
// "error: option '--partition <n>' argument 'abc' is invalid. <reason>") and
// exits non-zero; nothing is coerced silently.

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
