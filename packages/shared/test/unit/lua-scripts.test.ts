import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LuaHeaderError, luaScript, parseLuaHeader } from '../../src/lua-script.js';

const PACKAGES = ['shared', 'io-node'];

function scriptFiles(): { name: string; source: string }[] {
  return PACKAGES.flatMap((pkg) => {
    const dir = new URL(`../../../${pkg}/lua/`, import.meta.url);
    return readdirSync(dir)
      .filter((file) => file.endsWith('.lua'))
      .map((file) => ({
        name: `${pkg}/${file.slice(0, -4)}`,
        source: readFileSync(new URL(file, dir), 'utf8'),
      }));
  });
}

describe('lua scripts', () => {
  it('lua scripts - every script file has a header with KEYS, ARGV and Returns', () => {
    const files = scriptFiles();
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const { name, source } of files) expect(() => parseLuaHeader(name, source), name).not.toThrow();
  });

  it('lua scripts - the header gives the number of keys, and a variadic tail', () => {
    const fixed =
      '--[[\n  Does a thing.\n\n  KEYS[1] a\n  KEYS[2] b\n  ARGV[1] c\n  Returns d\n]]\nreturn 1\n';
    expect(parseLuaHeader('fixed', fixed)).toEqual({ numberOfKeys: 2, variadicKeys: false });
    const tail = '--[[\n  KEYS[1] a\n  KEYS[2...] more\n  ARGV none\n  Returns d\n]]\nreturn 1\n';
    expect(parseLuaHeader('tail', tail)).toEqual({ numberOfKeys: 1, variadicKeys: true });
    const none = '--[[\n  KEYS none\n  ARGV[1] a\n  Returns nothing\n]]\nreturn 1\n';
    expect(parseLuaHeader('none', none)).toEqual({ numberOfKeys: 0, variadicKeys: false });
  });

  it('lua scripts - a missing or disordered header is refused, naming the file and what is missing', () => {
    expect(() => parseLuaHeader('bare', 'return 1\n')).toThrow(/bare\.lua must open with a --\[\[/);
    expect(() => parseLuaHeader('noargv', '--[[\n  KEYS[1] a\n  Returns b\n]]\n')).toThrow(
      'noargv.lua: the header does not say ARGV',
    );
    expect(() => parseLuaHeader('gap', '--[[\n  KEYS[2] a\n  ARGV none\n  Returns b\n]]\n')).toThrow(
      LuaHeaderError,
    );
  });

  it('lua scripts - a call with the wrong number of keys is refused before reaching Redis', async () => {
    const script = luaScript(
      'two',
      '--[[\n  KEYS[1] a\n  KEYS[2] b\n  ARGV none\n  Returns 1\n]]\nreturn 1\n',
    );
    const redis = { evalsha: () => Promise.reject(new Error('must not be called')) };
    await expect(script.run(redis as never, ['a'], [])).rejects.toThrow('two.lua takes 2 keys, was given 1');
  });
});
