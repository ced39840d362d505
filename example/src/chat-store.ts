import { isNodeLive, type Keys, type RedisConnection } from '@iocluster/shared';
import { type ChatMessage, LIMITS } from './chat-protocol.js';

/** Who holds a nickname: the socket, its io-node, and the tab session allowed to take it back. */
export interface NicknameOwner {
  id: string;
  nodeId: string;
  session: string | null;
}

/**
 * The chat's shared state in Redis, so any app-node serves any client: the last messages of each room,
 * the names of rooms that have had messages, and who holds which nickname.
 */
export interface ChatStore {
  /** Appends to the room's history and trims it to the last {@link LIMITS.historyLength}. */
  append(message: ChatMessage): Promise<void>;
  /** The room's last messages, oldest first. */
  history(room: string): Promise<ChatMessage[]>;
  /** Rooms that have history, sorted. */
  rooms(): Promise<string[]>;
  /**
   * Claims a nickname: free, already ours, held by the same tab session (a client back after its
   * io-node died), or held by a client of an io-node that left the registry. False when taken.
   */
  claim(nickname: string, owner: NicknameOwner): Promise<boolean>;
  /** Releases a nickname if `socketId` holds it. */
  release(nickname: string, socketId: string): Promise<void>;
  /** The holder of a nickname, if it is held by a client of a live io-node. */
  lookup(nickname: string): Promise<NicknameOwner | undefined>;
}

export function createChatStore(redis: RedisConnection, keys: Keys): ChatStore {
  const roomsKey = keys.app('rooms');
  const nicknamesKey = keys.app('nicknames');
  const historyKey = (room: string) => keys.app('history', room);
  const field = (nickname: string) => nickname.toLowerCase();

  const alive = (nodeId: string) => isNodeLive(redis, keys, nodeId);

  async function holder(nickname: string): Promise<NicknameOwner | undefined> {
    const raw = await redis.hget(nicknamesKey, field(nickname));
    if (raw === null) return undefined;
    try {
      const owner = JSON.parse(raw) as NicknameOwner;
      if (typeof owner.id === 'string' && typeof owner.nodeId === 'string') return owner;
    } catch {
      // A malformed entry is treated as free; the next claim overwrites it.
    }
    return undefined;
  }

  return {
    async append(message) {
      await redis
        .multi()
        .rpush(historyKey(message.room), JSON.stringify(message))
        .ltrim(historyKey(message.room), -LIMITS.historyLength, -1)
        .sadd(roomsKey, message.room)
        .exec();
    },
    async history(room) {
      const items = await redis.lrange(historyKey(room), 0, -1);
      const messages: ChatMessage[] = [];
      for (const item of items) {
        try {
          messages.push(JSON.parse(item) as ChatMessage);
        } catch {
          // Skip an entry someone else wrote under our key; the rest of the history still loads.
        }
      }
      return messages;
    },
    async rooms() {
      return (await redis.smembers(roomsKey)).sort();
    },
    async claim(nickname, owner) {
      const value = JSON.stringify(owner);
      if ((await redis.hsetnx(nicknamesKey, field(nickname), value)) === 1) return true;
      const current = await holder(nickname);
      const mayTake =
        !current ||
        current.id === owner.id ||
        (owner.session !== null && current.session === owner.session) ||
        !(await alive(current.nodeId));
      if (!mayTake) return false;
      await redis.hset(nicknamesKey, field(nickname), value);
      return true;
    },
    async release(nickname, socketId) {
      const current = await holder(nickname);
      if (current?.id === socketId) await redis.hdel(nicknamesKey, field(nickname));
    },
    async lookup(nickname) {
      const current = await holder(nickname);
      return current && (await alive(current.nodeId)) ? current : undefined;
    },
  };
}
