import { createHash } from 'node:crypto';
import type { RedisConnection } from './redis.js';

/**
 * A Lua script sent by SHA (EVALSHA) and, the first time a server has not seen it (a new server, a
 * restart, a failover), by source (EVAL, which also caches it there). Keys are declared, so it runs on
 * a Redis Cluster as long as they share a slot.
 */
export interface LuaScript {
  run(redis: RedisConnection, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

export function luaScript(source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
