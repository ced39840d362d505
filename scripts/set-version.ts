import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run release:version -- <version>`: gives every public package under packages/ the same version,
 * and every dependency of one of them on another that version too (they are released together). The
 * create-iocluster template follows on its own: it is filled with create-iocluster's version.
 */

const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Sets `version` on the public packages under `root/packages`; returns their names, in directory order. */
export function setVersion(root: string, version: string): string[] {
  if (!VERSION.test(version)) throw new Error(`"${version}" is not a version like 1.2.3 or 1.2.3-rc.1`);
  const files = readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, 'packages', entry.name, 'package.json'));
  const manifests = files.map((file) => ({ file, pkg: JSON.parse(readFileSync(file, 'utf8')) as Manifest }));
  const released = manifests.filter(({ pkg }) => !pkg.private);
  const names = new Set(released.map(({ pkg }) => pkg.name));
  for (const { file, pkg } of released) {
    pkg.version = version;
    for (const deps of [pkg.dependencies, pkg.devDependencies, pkg.peerDependencies]) {
      for (const name of Object.keys(deps ?? {})) if (names.has(name)) deps![name] = version;
    }
    writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  }
  return released.map(({ pkg }) => pkg.name);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const version = process.argv[2];
  if (!version) {
    process.stderr.write('usage: npm run release:version -- <version>\n');
    process.exit(2);
  }
  const root = fileURLToPath(new URL('../', import.meta.url));
  for (const name of setVersion(root, version)) process.stdout.write(`${name}@${version}\n`);
  process.stdout.write(
    'next: npm install (updates the lock file), npm test, commit, tag, npm publish --workspaces\n',
  );
}
