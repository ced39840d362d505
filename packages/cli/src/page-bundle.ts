import { dirname } from 'node:path';
import { type BuildContext, context } from 'esbuild';

/** A page script bundled for browsers and rebuilt on every change until closed. */
export interface PageBundle {
  /** Stops watching. Idempotent. */
  close(): Promise<void>;
}

/**
 * Bundles `entry` (TypeScript or JavaScript importing `@iocluster/client` and the project's event maps)
 * into `outfile`, once before resolving, then again on each change. A failed build is reported through
 * `output` and leaves the last good bundle in place.
 */
export async function watchPageBundle(
  entry: string,
  outfile: string,
  output: (line: string) => void,
): Promise<PageBundle> {
  let first = true;
  const ctx: BuildContext = await context({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'silent',
    absWorkingDir: dirname(entry),
    plugins: [
      {
        name: 'report',
        setup(build) {
          build.onEnd((result) => {
            for (const e of result.errors)
              output(`page: ${e.text} (${e.location?.file ?? entry}:${e.location?.line ?? 0})`);
            if (result.errors.length === 0) output(`page bundled: ${outfile}${first ? '' : ' (rebuilt)'}`);
            first = false;
          });
        },
      },
    ],
  });
  await ctx.rebuild().catch(() => undefined); // reported by the plugin
  await ctx.watch();
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= ctx.dispose();
      return closing;
    },
  };
}
