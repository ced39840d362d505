import { APP_NODE_SETTINGS } from './config-rows-app-node.js';
import { CLUSTER_SETTINGS } from './config-rows-cluster.js';
import { FRONTEND_SETTINGS } from './config-rows-frontend.js';
import { IO_NODE_SETTINGS } from './config-rows-io-node.js';

export type { BalanceStrategy, JwtAlgorithm, Scope, Setting, SocketIoParser, Tier } from './config-row.js';
export {
  BALANCE_STRATEGIES,
  JWT_ALGORITHMS,
  PORT_PLACEHOLDER,
  SOCKETIO_PARSERS,
  TIERS,
} from './config-row.js';

/**
 * Every setting of every tier, one row each (variable, option, tier, kind with type and bounds, default,
 * doc), written in a file per tier. Environment parsing (`config.ts`), the defaults and bounds of options
 * given in code (`config-options.ts`) and `docs/configuration.md` (`npm run docs:config`) are made from it.
 */
export const SETTINGS = [
  ...CLUSTER_SETTINGS,
  ...IO_NODE_SETTINGS,
  ...APP_NODE_SETTINGS,
  ...FRONTEND_SETTINGS,
] as const;

export type SettingRow = (typeof SETTINGS)[number];
