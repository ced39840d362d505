import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { setVersion } from '../scripts/set-version.js';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(name: string, pkg: Record<string, unknown>): void {
  mkdirSync(join(root, 'packages', name), { recursive: true });
  writeFileSync(join(root, 'packages', name, 'package.json'), JSON.stringify(pkg));
}
const read = (name: string) => JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));

it('release - every public package and its references to the others get the new version', () => {
  root = mkdtempSync(join(tmpdir(), 'release-'));
  write('shared', { name: '@iocluster/shared', version: '0.1.0', dependencies: { pino: '10.4.0' } });
  write('app-node', {
    name: '@iocluster/app-node',
    version: '0.1.0',
    dependencies: { '@iocluster/shared': '0.1.0', bullmq: '6.7.0' },
  });
  write('cli', {
    name: 'iocluster',
    version: '0.1.0',
    dependencies: { '@iocluster/app-node': '0.1.0' },
    devDependencies: { '@iocluster/internal': '0.0.1' },
  });
  write('internal', { name: '@iocluster/internal', version: '0.0.1', private: true });

  expect(setVersion(root, '0.2.0-rc.1')).toEqual(['@iocluster/app-node', 'iocluster', '@iocluster/shared']);
  expect(read('shared')).toEqual({
    name: '@iocluster/shared',
    version: '0.2.0-rc.1',
    dependencies: { pino: '10.4.0' },
  });
  expect(read('app-node').dependencies).toEqual({ '@iocluster/shared': '0.2.0-rc.1', bullmq: '6.7.0' });
  expect(read('cli').dependencies).toEqual({ '@iocluster/app-node': '0.2.0-rc.1' });
  // A private package is not released: neither it nor references to it change.
  expect(read('cli').devDependencies).toEqual({ '@iocluster/internal': '0.0.1' });
  expect(read('internal').version).toBe('0.0.1');
  expect(() => setVersion(root, 'v1')).toThrow(/not a version/);
});
