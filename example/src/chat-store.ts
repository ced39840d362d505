import { isNodeLive, type Keys, type RedisConnection } from '@iocluster/shared';

/**
 * Who holds a nickname: the socket, its io-node, the tab session allowed to take it back, and the
 * signed-in user behind it (its token's `sub`), whose every connection a private message reaches.
 */
export interface NicknameOwner {
  id: string;
  nodeId: string;
  session: string | null;
  user?: string;
}

/**
 * The chat's own shared state in Redis, so any app-node serves any client: the names of rooms that have
 * had messages, and who holds which nickname. (The messages themselves are the rooms' history, kept by
 * iocluster: `app.history`.)
 */
export interface ChatStore {
  /** Remembers that a room has had messages. */
  noteRoom(room: string): Promise<void>;
  /** Rooms that have had messages, sorted. */
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
    async noteRoom(room) {
      await redis.sadd(roomsKey, room);
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
