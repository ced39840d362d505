import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isRedirectError } from './errors.js';
import { type RedisConnection, readSlots } from './redis.js';

/**
 * A Lua script sent by SHA (EVALSHA) and, the first time a server has not seen it (a new server, a
 * restart, a failover), by source (EVAL, which also caches it there). Keys are declared, so it runs on
 * a Redis Cluster as long as they share a slot.
 */
export interface LuaScript {
  /** The file's name without `.lua`: what logs and errors call it. */
  readonly name: string;
  /** Keys the header declares; with `variadicKeys`, the fewest a call may pass. */
  readonly numberOfKeys: number;
  /** The header ends its key list with `KEYS[n...]`: a call may pass any number from `numberOfKeys` on. */
  readonly variadicKeys: boolean;
  /**
   * EVALSHA, then EVAL of the source when Redis does not hold the script (NOSCRIPT: after a restart or
   * a failover), on `evalOn` when given (a connection that may be blocked behind the EVALSHA's write,
   * such as an app-node's delivery lane, names one that is not).
   */
  run(
    redis: RedisConnection,
    keys: readonly string[],
    args: readonly (string | number)[],
    evalOn?: RedisConnection,
  ): Promise<unknown>;
}

/** A script file whose header does not say what it takes and returns. */
export class LuaHeaderError extends Error {
  override readonly name = 'LuaHeaderError';
  readonly code = 'LUA_HEADER';
}

const KEY_LINE = /^\s*KEYS\[(\d+)(\.\.\.)?\]\s/;
const ARGV_LINE = /^\s*ARGV\[\d+(\.\.\.)?\]\s/;
const RETURNS_LINE = /^\s*Returns?\b/;

interface Header {
  numberOfKeys: number;
  variadicKeys: boolean;
}

/**
 * Reads the header comment every script file opens with (BullMQ's `commands/*.lua` convention):
 *
 * ```lua
 * --[[
 *   What the script does.
 *
 *   KEYS[1] what the first key is
 *   KEYS[2...] any number of keys of one kind (optional, last)
 *   ARGV[1] what the first argument is
 *   Returns what it answers
 * ]]
 * ```
 *
 * Keys must be numbered 1, 2, … in order; a script without keys or arguments says `KEYS none` /
 * `ARGV none`.
 */
export function parseLuaHeader(name: string, source: string): Header {
  const open = source.indexOf('--[[');
  const close = source.indexOf(']]', open);
  if (open !== 0 || close < 0) {
    throw new LuaHeaderError(`${name}.lua must open with a --[[ … ]] header listing KEYS, ARGV and Returns`);
  }
  const lines = source.slice(4, close).split('\n');
  let numberOfKeys = 0;
  let variadicKeys = false;
  let keysSaid = false;
  let argvSaid = false;
  let returnsSaid = false;
  for (const line of lines) {
    const key = KEY_LINE.exec(line);
    if (key) {
      const index = Number(key[1]);
      if (variadicKeys || index !== numberOfKeys + 1) {
        throw new LuaHeaderError(`${name}.lua: KEYS[${index}] is out of order in the header`);
      }
      if (key[2]) variadicKeys = true;
      numberOfKeys = key[2] ? index - 1 : index;
      keysSaid = true;
    } else if (/^\s*KEYS none\b/.test(line)) keysSaid = true;
    else if (ARGV_LINE.test(line) || /^\s*ARGV none\b/.test(line)) argvSaid = true;
    else if (RETURNS_LINE.test(line)) returnsSaid = true;
  }
  const missing = [!keysSaid && 'KEYS', !argvSaid && 'ARGV', !returnsSaid && 'Returns'].filter(Boolean);
  if (missing.length > 0)
    throw new LuaHeaderError(`${name}.lua: the header does not say ${missing.join(', ')}`);
  return { numberOfKeys, variadicKeys };
}

/** A script from its source; `name` is what errors call it. */
export function luaScript(name: string, source: string): LuaScript {
  const { numberOfKeys, variadicKeys } = parseLuaHeader(name, source);
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    name,
    numberOfKeys,
    variadicKeys,
    async run(redis, keys, args, evalOn = redis) {
      if (keys.length !== numberOfKeys && !(variadicKeys && keys.length >= numberOfKeys)) {
        throw new RangeError(
          `${name}.lua takes ${variadicKeys ? 'at least ' : ''}${numberOfKeys} keys, was given ${keys.length}`,
        );
      }
      for (let attempt = 1; ; attempt++) {
        try {
          try {
            return await redis.evalsha(sha, keys.length, ...keys, ...args);
          } catch (err) {
            if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
            return await evalOn.eval(source, keys.length, ...keys, ...args);
          }
        } catch (err) {
          if (attempt >= REDIRECT_ATTEMPTS || !isRedirectError(err) || !('refreshSlotsCache' in redis))
            throw err;
          // A refresh may be under way: wait a little longer each attempt.
          await readSlots(redis).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 50 * (attempt - 1)));
        }
      }
    },
  };
}

/**
 * Times a script is sent when a Redis Cluster answers that its slot is served elsewhere. ioredis follows
 * such a redirection itself, except in a pipeline whose commands were redirected for different slots
 * (after a failover, an auto-pipeline of one turn's commands to one primary): it then hands each command
 * its MOVED. The script did not run, so sending it again is safe; failing would run the whole handler
 * again, duplicating what its other commands had already done.
 */
const REDIRECT_ATTEMPTS = 5;

/**
 * Loads `<name>.lua` from the `lua/` folder of the package whose module passes its `import.meta.url`:
 * scripts sit beside `src/` and `dist/` (`packages/<pkg>/lua/`), so one relative path serves both. Read
 * once, when the module that owns the script loads.
 */
export function loadLuaScript(moduleUrl: string, name: string): LuaScript {
  const path = fileURLToPath(new URL(`../lua/${name}.lua`, moduleUrl));
  return luaScript(name, readFileSync(path, 'utf8'));
}
