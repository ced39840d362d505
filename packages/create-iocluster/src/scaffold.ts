import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE = fileURLToPath(new URL('../template', import.meta.url));
const OWN_PACKAGE = new URL('../package.json', import.meta.url);

/** Options of {@link scaffold}. */
export interface ScaffoldOptions {
  /** Directory to create (or an empty one to fill). */
  directory: string;
  /** The project's package name. @defaultValue the directory's name */
  name?: string;
  /** Version of the iocluster packages it depends on. @defaultValue this package's version */
  version?: string;
}

/** Thrown when the project cannot be created where asked; `code` says why. */
export class ScaffoldError extends Error {
  override readonly name = 'ScaffoldError';
  constructor(
    readonly code: 'NOT_EMPTY' | 'BAD_NAME',
    message: string,
  ) {
    super(message);
  }
}

/** npm's rules for a package name, in short: lower case, URL-safe, at most 214 characters. */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/**
 * Writes a new project: typed handlers, a page using `@iocluster/client`, a test on a whole cluster
 * (devkit), a Dockerfile and a compose file. Returns the project's absolute path.
 */
export function scaffold(options: ScaffoldOptions): string {
  const target = resolve(options.directory);
  const name = options.name ?? basename(target).toLowerCase();
  if (!PACKAGE_NAME.test(name) || name.length > 214) {
    throw new ScaffoldError('BAD_NAME', `"${name}" is not a valid package name: pick another directory name`);
  }
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new ScaffoldError('NOT_EMPTY', `${target} exists and is not empty`);
  }
  const version =
    options.version ?? (JSON.parse(readFileSync(OWN_PACKAGE, 'utf8')) as { version: string }).version;
  cpSync(TEMPLATE, target, { recursive: true });
  // npm never packs a file named .gitignore: the template keeps it under another name.
  renameSync(join(target, '_gitignore'), join(target, '.gitignore'));
  const manifest = join(target, 'package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8').replaceAll('{{version}}', version)) as Record<
    string,
    unknown
  >;
  writeFileSync(manifest, `${JSON.stringify({ ...pkg, name }, null, 2)}\n`);
  return target;
}
