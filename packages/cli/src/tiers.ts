import { fileURLToPath } from 'node:url';

/** The tiers a process can run. */
export const TIERS = ['io-node', 'app-node', 'frontend'] as const;
export type Tier = (typeof TIERS)[number];

/** Is `name` a tier? */
export function isTier(name: string | undefined): name is Tier {
  return (TIERS as readonly string[]).includes(name ?? '');
}

/** The file of a tier's entry point (`main`): the one module that reads the environment and starts it. */
export function tierMain(tier: Tier): string {
  return fileURLToPath(import.meta.resolve(`@iocluster/${tier}/main`));
}

/** The URL of tsx's loader, for `node --import`: TypeScript handlers run without a build. */
export function tsxLoader(): string {
  return import.meta.resolve('tsx');
}

/** Does this module need tsx (TypeScript)? */
export function isTypeScript(path: string): boolean {
  return /\.[mc]?tsx?$/.test(path);
}
