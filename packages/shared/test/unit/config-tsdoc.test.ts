import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type Setting, settingsOf } from '../../src/index.js';

/** `@defaultValue` of every documented optional property in an options file, by property name. */
function documentedDefaults(path: string): Map<string, string> {
  const source = readFileSync(new URL(`../../../../${path}`, import.meta.url), 'utf8');
  const found = new Map<string, string>();
  for (const match of source.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*?)\*\/\s*(\w+)\?:/g)) {
    const value = /@defaultValue\s+(.+?)(?:\n|$)/.exec(match[1]!)?.[1]?.trim();
    if (value !== undefined) found.set(match[2]!, value);
  }
  return found;
}

function shown(row: Setting): string {
  if (typeof row.default === 'function') return row.shownDefault!;
  return typeof row.default === 'string' ? `'${row.default}'` : String(row.default);
}

describe('settings table and options TSDoc', () => {
  test.each([
    ['io-node', 'packages/io-node/src/io-node-options.ts'],
    ['app-node', 'packages/app-node/src/app-node-options.ts'],
    ['frontend', 'packages/frontend/src/frontend.ts'],
  ] as const)('tsdoc - every %s option with a variable documents the default of its row', (tier, path) => {
    const documented = documentedDefaults(path);
    const rows = settingsOf([tier]).filter((row) => row.scope === 'option' && row.default !== undefined);
    for (const row of rows) {
      // Cluster-wide rows the frontend has no option for (heartbeats, retention) are not its business.
      if (tier === 'frontend' && row.tier === 'cluster' && !documented.has(row.option)) continue;
      expect(documented.get(row.option), `${path}: ${row.option} (${row.env})`).toBe(shown(row));
    }
  });
});
