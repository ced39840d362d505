import type { Keys } from './keys.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';
import type { ClientStateStore } from './transport/client-states.js';
import { type ClientInfo, decodeClientInfo } from './wire/client-info.js';

/**
 * Client states in Redis: one string per client (`SET <key> <json> PX <ttl>`), keyed in its ingress
 * partition's hash tag, so the states of one job's clients (one partition) are one `MGET` and one
 * pipeline of `SET`s, on a Redis Cluster too. `partitions` must be the ingress partition count.
 */
export function createClientStateStore(
  redis: RedisConnection,
  keys: Keys,
  partitions: number,
  logger: Logger,
): ClientStateStore & { close(): void } {
  let epoch = 0;
  // A dropped connection may mean a restarted or failed-over Redis that lost what was written.
  const onClose = () => {
    epoch++;
  };
  redis.on('close', onClose);
  const keyOf = (id: string) => keys.clientState(id, partitions);

  /** Ids grouped by key slot (their partition), each group with the ids' positions in `ids`. */
  function bySlot(ids: readonly string[]): Map<string, { keys: string[]; at: number[] }> {
    const groups = new Map<string, { keys: string[]; at: number[] }>();
    ids.forEach((id, at) => {
      const key = keyOf(id);
      const tag = key.slice(0, key.indexOf('}') + 1);
      let group = groups.get(tag);
      if (!group) {
        group = { keys: [], at: [] };
        groups.set(tag, group);
      }
      group.keys.push(key);
      group.at.push(at);
    });
    return groups;
  }

  function decode(id: string, json: string | null): ClientInfo | null {
    if (json === null) return null;
    try {
      const info = decodeClientInfo(JSON.parse(json));
      if (info.v !== undefined && info.id === id) return info;
      logger.warn({ clientId: id }, 'stored client state without its version or id ignored');
    } catch (err) {
      logger.warn({ err, clientId: id }, 'unreadable stored client state ignored');
    }
    return null;
  }

  return {
    get epoch() {
      return epoch;
    },
    async write(states, ttlMs) {
      const groups = bySlot(states.map((s) => s.id));
      await Promise.all(
        [...groups.values()].map(async ({ keys: names, at }) => {
          const pipeline = redis.pipeline();
          names.forEach((key, i) => {
            pipeline.set(key, states[at[i]!]!.json, 'PX', ttlMs);
          });
          const replies = (await pipeline.exec()) ?? [];
          const failed = replies.find(([err]) => err);
          if (failed?.[0]) throw failed[0];
        }),
      );
    },
    async expire(ids, ms) {
      await Promise.all(ids.map((id) => redis.pexpire(keyOf(id), ms)));
    },
    async read(ids) {
      const found: (ClientInfo | null)[] = ids.map(() => null);
      await Promise.all(
        [...bySlot(ids).values()].map(async ({ keys: names, at }) => {
          const values = await redis.mget(...names);
          at.forEach((index, i) => {
            found[index] = decode(ids[index]!, values[i] ?? null);
          });
        }),
      );
      return found;
    },
    close() {
      redis.off('close', onClose);
    },
  };
}
