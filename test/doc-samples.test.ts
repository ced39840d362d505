import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeErrors, typeCheck } from './support/type-check.js';

/**
 * The ```ts samples of README.md, docs/*.md and the packages' READMEs, each compiled with --strict as a
 * module of its own against the workspace's packages. A sample that is a fragment (it uses an `app` or a
 * `socket` from around it) says so with `<!-- fragment -->` on the line before its fence, and is skipped.
 */

const FRAGMENT = '<!-- fragment -->';

interface Sample {
  /** Where it is: `docs/presence.md:12` (the line of its first line of code). */
  where: string;
  code: string;
  fragment: boolean;
}

function samplesOf(file: string): Sample[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const samples: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue;
    const end = lines.findIndex((line, j) => j > i && line.trim() === '```');
    if (end < 0) throw new Error(`${file}:${i + 1}: a \`\`\`ts block is never closed`);
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    samples.push({
      where: `${file}:${i + 2}`,
      code: lines.slice(i + 1, end).join('\n'),
      fragment: lines[before]?.trim() === FRAGMENT,
    });
    i = end;
  }
  return samples;
}

const files = [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...readdirSync('packages')
    .map((p) => `packages/${p}/README.md`)
    .filter((f) => existsSync(f)),
];

describe('doc samples', () => {
  it('doc samples - every TypeScript sample of the README and docs compiles with --strict', () => {
    const samples = files.flatMap(samplesOf);
    const compiled = samples.filter((s) => !s.fragment);
    expect(compiled.length).toBeGreaterThan(0);
    const modules = new Map(
      compiled.map((s, n) => [
        `test/doc-samples/sample-${n}.ts`,
        // A module of its own (top-level await, no clashes between samples), even without imports.
        { sample: s, text: `${s.code}\nexport {};\n` },
      ]),
    );
    const errors = typeCheck(Object.fromEntries([...modules].map(([name, m]) => [name, m.text])));
    const located = errors.map((e) => {
      const sample = modules.get(e.file)?.sample;
      if (!sample) return e;
      const [file, first] = sample.where.split(':');
      return { ...e, file: file!, line: Number(first) + e.line - 1 };
    });
    expect(located, describeErrors(located)).toEqual([]);
  }, 240_000); // Building the program takes seconds alone, minutes on a loaded 2-core machine.
});
