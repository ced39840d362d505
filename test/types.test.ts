import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CompileError, describeErrors, typeCheck } from './support/type-check.js';

const FIXTURE = 'test/types/typed-app.ts';

const typo = (maps: string) => `
  import type { AppNode } from '@iocluster/app-node';
  interface ClientEvents { connect: (room: string) => void }
  export function register(app: AppNode${maps}): void {
    app.on('connection', (socket) => socket.emit('hi'));
    app.on('conection', () => {});
  }
`;

describe('types', () => {
  // One program for every case: building it is what takes the time.
  let errors: CompileError[] = [];
  const of = (file: string) => errors.filter((e) => e.file === file);

  it('types - typed event maps compile, and every @ts-expect-error line is an error', () => {
    errors = typeCheck({
      [FIXTURE]: readFileSync(FIXTURE, 'utf8'),
      'test/types/typo-typed.ts': typo('<ClientEvents>'),
      'test/types/typo-loose.ts': typo(''),
    });
    expect(of(FIXTURE), describeErrors(of(FIXTURE))).toEqual([]);
  }, 240_000); // Building the program takes seconds alone, minutes on a loaded 2-core machine.

  it('types - with maps given, an unknown event name does not compile; without them it does', () => {
    const typed = of('test/types/typo-typed.ts');
    expect(typed.map((e) => [e.line, e.code])).toEqual([[6, 2769]]);
    expect(typed[0]!.message).toMatch(/No overload matches this call/);
    expect(of('test/types/typo-loose.ts')).toEqual([]);
    expect(errors).toHaveLength(1);
  });
});
