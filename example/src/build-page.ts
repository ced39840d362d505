import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/** example/public: the page, its stylesheet and (after {@link buildPage}) its bundle. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

const ENTRY = fileURLToPath(new URL('../src/page/main.ts', import.meta.url));

/**
 * Bundles the page script with @iocluster/client and socket.io-client into public/chat.bundle.js
 * (gitignored). Reads the TypeScript sources (`source` export condition), so it needs no prior tsc run.
 */
export async function buildPage(options: { minify?: boolean } = {}): Promise<string> {
  const outfile = `${PUBLIC_DIR}chat.bundle.js`;
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    conditions: ['source'],
    sourcemap: true,
    minify: options.minify ?? true,
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outfile = await buildPage();
  process.stdout.write(`bundled ${outfile}\n`);
}
