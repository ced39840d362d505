import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScaffoldError, scaffold } from '../../src/scaffold.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaffold-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function refusal(fn: () => unknown): ScaffoldError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScaffoldError) return err;
    throw err;
  }
  throw new Error('expected a ScaffoldError');
}

describe('scaffold', () => {
  it('scaffold - writes the project named after its directory, on the given version of the packages', () => {
    const target = scaffold({ directory: join(dir, 'Chat-App'), version: '1.2.3' });
    expect(target).toBe(join(dir, 'Chat-App'));
    const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('chat-app');
    expect(pkg.dependencies).toEqual({
      '@iocluster/app-node': '1.2.3',
      '@iocluster/client': '1.2.3',
      iocluster: '1.2.3',
    });
    expect(pkg.devDependencies['@iocluster/devkit']).toBe('1.2.3');
    expect(readFileSync(join(target, '.gitignore'), 'utf8')).toContain('node_modules');
    expect(existsSync(join(target, '_gitignore'))).toBe(false);
    expect(readFileSync(join(target, 'src/handlers.ts'), 'utf8')).toContain(
      'export default function register',
    );
  });

  it("scaffold - by default the packages' version is create-iocluster's own", () => {
    const own = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
    const target = scaffold({ directory: join(dir, 'app'), name: 'my-app' });
    const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
    expect([pkg.name, pkg.dependencies.iocluster]).toEqual(['my-app', own]);
  });

  it('scaffold - an empty directory is filled; one with files, or a bad package name, is refused', () => {
    mkdirSync(join(dir, 'empty'));
    expect(existsSync(join(scaffold({ directory: join(dir, 'empty') }), 'Dockerfile'))).toBe(true);
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'notes.txt'), 'mine');
    expect(refusal(() => scaffold({ directory: join(dir, 'taken') })).code).toBe('NOT_EMPTY');
    expect(readFileSync(join(dir, 'taken', 'notes.txt'), 'utf8')).toBe('mine');
    expect(refusal(() => scaffold({ directory: join(dir, 'x'), name: 'no spaces' })).code).toBe('BAD_NAME');
  });
});
