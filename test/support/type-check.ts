import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A compiler error, as `file:line message`. */
export interface CompileError {
  file: string;
  line: number;
  code: number;
  message: string;
}

/**
 * Type-checks TypeScript modules against the workspace's packages as users get them: their built
 * declarations (`dist/*.d.ts`, so `tsc -b` runs first, as `npm test` does), with `--strict`. `files` maps a virtual file name (inside
 * the repository, so `@iocluster/*` resolve) to its text; real files may be listed with their text.
 */
export function typeCheck(files: Record<string, string>): CompileError[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    types: ['node'],
  };
  const virtual = new Map(Object.entries(files).map(([name, text]) => [resolve(ROOT, name), text]));
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (name) => virtual.get(resolve(name)) ?? readFile(name);
  host.fileExists = (name) => virtual.has(resolve(name)) || fileExists(name);
  host.getCurrentDirectory = () => ROOT;
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });
  // Only the modules under test: the packages' own sources are checked by their build.
  const diagnostics = [...virtual.keys()].flatMap((name) => {
    const source = program.getSourceFile(name);
    return source
      ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
      : [];
  });
  return [...program.getGlobalDiagnostics(), ...program.getOptionsDiagnostics(), ...diagnostics].map((d) => {
    const position =
      d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    return {
      file: d.file ? d.file.fileName.slice(ROOT.length + 1) : '',
      line: (position?.line ?? -1) + 1,
      code: d.code,
      message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    };
  });
}

/** Errors as readable lines, for assertion messages. */
export function describeErrors(errors: readonly CompileError[]): string {
  return errors.map((e) => `${e.file}:${e.line} TS${e.code} ${e.message}`).join('\n');
}
