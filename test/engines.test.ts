import { readFileSync } from 'node:fs';
import { minVersion, satisfies } from 'semver';
import { describe, expect, test } from 'vitest';

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  dev?: boolean;
}

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockedPackage>;
};
const root = lock.packages['']!;
const rootEngine = (root.engines as { node: string }).node;

/** Every locked package's Node engine, as npm reads it when it prints EBADENGINE. */
function lockedEngines(): { name: string; version: string; node: string }[] {
  return Object.entries(lock.packages).flatMap(([path, pkg]) => {
    const node = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
    if (path === '' || !path.includes('node_modules/') || node === undefined) return [];
    return [{ name: path.slice(path.lastIndexOf('node_modules/') + 13), version: pkg.version ?? '', node }];
  });
}

describe('engines', () => {
  test('engines - every locked dependency runs on the oldest Node the project supports and on this one', () => {
    const oldest = minVersion(rootEngine)!.version;
    expect(oldest).toBe('20.19.0');
    const engines = lockedEngines();
    expect(engines.length).toBeGreaterThan(20);
    const refusing = (nodeVersion: string) =>
      engines
        .filter((pkg) => !satisfies(nodeVersion, pkg.node, { includePrerelease: true }))
        .map((pkg) => `${pkg.name}@${pkg.version} wants node ${pkg.node}`);
    expect(refusing(oldest)).toEqual([]);
    expect(refusing(process.versions.node)).toEqual([]);
  });
});
