export type { DevStack, DevStackOptions } from './dev-stack.js';
export { startDevStack } from './dev-stack.js';
export { startTier } from './start.js';
export type { Tier } from './tiers.js';
export { isTier, TIERS } from './tiers.js';
