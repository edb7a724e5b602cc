// The README's quickstart as code: its ```ts blocks (test/unit/readme.test.ts
// type-checks them against the build; make package runs the SQLite one from
// the npm tarball) and its ```sh block (the install and the topics it tells
// the reader to create).  Every function reads README.md as written and
// throws, naming what it looked for, when the text no longer has it.

/** The text between `## Quickstart` and the next `## ` heading. */
export function quickstartSection(readme: string): string {
  const start = readme.indexOf('\n## Quickstart\n');
  if (start < 0) throw new Error('README.md has no "## Quickstart" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The ```<lang> blocks of the quickstart section, in order. */
export function quickstartBlocks(readme: string, lang = 'ts'): string[] {
  return [...quickstartSection(readme).matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** The shell commands of the quickstart's ```sh blocks, one per line, comments and blank lines dropped. */
export function quickstartCommands(readme: string): string[] {
  return quickstartBlocks(readme, 'sh').flatMap((b) => b.split('\n'))
    .map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The broker address the quickstart's code and commands use. */
export const README_BROKER = '127.0.0.1:9092';

/** Topics the ```ts block uses (`topics: [...]`, `deadLetterTopic: '...'`) that no `kafka-topics.sh --create` command creates. */
export function uncreatedTopics(readme: string, block: string): string[] {
  const used = new Set<string>();
  for (const m of block.matchAll(/topics: \[([^\]]*)\]/g)) for (const t of m[1]!.matchAll(/'([^']+)'/g)) used.add(t[1]!);
  for (const m of block.matchAll(/deadLetterTopic: '([^']+)'/g)) used.add(m[1]!);
  if (used.size === 0) throw new Error('the quickstart block names no topic (topics: [...]) ');
  const created = new Set<string>();
  for (const c of quickstartCommands(readme)) {
    const m = /^kafka-topics\.sh .*--create .*--topic (\S+)/.exec(c);
    if (m) created.add(m[1]!);
  }
  return [...used].filter((t) => !created.has(t));
}

/** `block` with the README's broker address replaced by `address`; throws unless the block has it exactly once. */
export function withBroker(block: string, address: string, name = 'the block'): string {
  const n = block.split(`'${README_BROKER}'`).length - 1;
  if (n !== 1) throw new Error(`${name}: expected the broker address '${README_BROKER}' once, found it ${n} times`);
  return block.replace(`'${README_BROKER}'`, `'${address}'`);
}
