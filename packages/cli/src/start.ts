import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTypeScript, type Tier, tierMain, tsxLoader } from './tiers.js';

/**
 * `iocluster start <tier> [handlers]`: runs one tier in this process, configured from the environment,
 * exactly as `node node_modules/@iocluster/<tier>/dist/main.js` would. A TypeScript handlers module
 * (argument or `APP_MODULE`) is loaded through tsx, in this process and in the workers it supervises.
 */
export async function startTier(tier: Tier, args: readonly string[]): Promise<void> {
  const main = tierMain(tier);
  const handlers = tier === 'app-node' ? (args[0] ?? process.env.APP_MODULE) : undefined;
  if (handlers !== undefined && isTypeScript(handlers)) {
    // What `node --import tsx` does, from here on; workers (`APP_NODE_WORKERS` > 1) are forked with
    // this process's Node options, so they get the option itself.
    await import(tsxLoader());
    process.execArgv.push('--import', tsxLoader());
  }
  // The entry point reads its arguments, and forks its workers, as if it had been run itself.
  process.argv = [
    process.argv[0]!,
    main,
    ...(handlers === undefined ? args : [resolve(handlers), ...args.slice(1)]),
  ];
  await import(pathToFileURL(main).href);
}
