import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as protocol from '../../src/protocol.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('client protocol', () => {
  it('client protocol - every reserved name is a distinct constant starting with the reserved prefix', () => {
    const names = Object.entries(protocol as Record<string, unknown>).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[0] !== 'RESERVED_PREFIX',
    );
    expect(names.length).toBeGreaterThanOrEqual(17);
    for (const [, value] of names) expect(value.startsWith(protocol.RESERVED_PREFIX)).toBe(true);
    expect(new Set(names.map(([, value]) => value)).size).toBe(names.length);
  });

  it('client protocol - no reserved name is written as a literal outside the protocol module', () => {
    const dirs = [
      'packages/shared/src',
      'packages/io-node/src',
      'packages/app-node/src',
      'packages/frontend/src',
      'packages/client/src',
      'example/src',
    ];
    const offenders: string[] = [];
    for (const file of dirs.flatMap((dir) => sources(join(root, dir)))) {
      if (file.endsWith(join('shared', 'src', 'protocol.ts'))) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // Comments may name them; code goes through the constants.
          if (/^\s*(\*|\/\/|\/\*)/.test(line)) return;
          if (/['"`]\$[A-Za-z]/.test(line))
            offenders.push(`${file.slice(root.length)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
