import { closest, distance } from 'fastest-levenshtein';
import type { Env } from './config-env.js';
import { SETTINGS } from './config-table.js';
import type { Logger } from './logger.js';

/*
 * A variable that looks like one of ours but is not (`IO_NODE_PROT`) would be ignored without a word, and
 * the setting it meant left at its default: each process warns about it, naming the closest known name.
 */

const KNOWN: readonly string[] = SETTINGS.map((row) => row.env);
/** Starts of variable names that only this product uses. */
const OUR_PREFIXES = [
  'IOCLUSTER_',
  'IO_NODE_',
  'APP_NODE_',
  'FRONTEND_',
  'REDIS_',
  'AUTH_JWT_',
  'HISTORY_',
  'HEARTBEAT_',
  'EXAMPLE_',
];
/** Edits within which any variable counts as a misspelling of ours (`EVENT_TIMOUT_MS`). */
const TYPO_DISTANCE = 2;

export interface UnknownSetting {
  readonly name: string;
  /** The known variable nearest to it. */
  readonly closest: string;
}

/** Variables of `env` that look like settings of ours but are none, with the closest known name. */
export function unknownSettings(env: Env): UnknownSetting[] {
  const found: UnknownSetting[] = [];
  for (const name of Object.keys(env).sort()) {
    if (KNOWN.includes(name)) continue;
    const nearest = closest(name, KNOWN as string[]);
    const ours = OUR_PREFIXES.some((prefix) => name.startsWith(prefix));
    if (ours || distance(name, nearest) <= TYPO_DISTANCE) found.push({ name, closest: nearest });
  }
  return found;
}

/** Logs one warning line per unknown look-alike variable; returns them. */
export function warnUnknownSettings(env: Env, logger: Logger): UnknownSetting[] {
  const found = unknownSettings(env);
  for (const { name, closest: nearest } of found) {
    logger.warn(
      { variable: name, closest: nearest },
      `unknown setting ${name} is ignored; did you mean ${nearest}?`,
    );
  }
  return found;
}
