import { type Keys, type Logger, loadLuaScript, type RedisConnection } from '@iocluster/shared';

/** What is kept of a client's connection so it can be recovered on another io-node. */
export interface SessionRecord {
  /** The io-node that holds (or last held) it. */
  node: string;
  /** Its socket id there. */
  socket: string;
  /** The socket id of the session's first connection. */
  origin: string;
  user: unknown;
  rooms: string[];
  data: Record<string, unknown>;
  /** Rooms it is in with presence, and its meta there. */
  presence: Record<string, Record<string, unknown>>;
}

/**
 * Recovery sessions in Redis, one hash per session, written by the io-node that holds the client: created
 * when it connects, rewritten (once per turn of the event loop) when its rooms or data change, kept for
 * `recoveryWindowMs` after it goes away without saying goodbye, deleted when it leaves on purpose.
 *
 * While the client is connected the hash has no expiry (a quiet connection can last for days); an index
 * per io-node lets whoever purges a dead io-node start the window of each of its sessions.
 */
export interface SessionStore {
  load(sessionId: string): Promise<SessionRecord | null>;
  /** The client is connected here now as `socketId`; `snapshot` gives its state each time it is written. */
  open(sessionId: string, socketId: string, snapshot: () => SessionRecord): void;
  /** Its rooms or data changed: written at the end of this turn of the event loop. */
  changed(sessionId: string): void;
  /**
   * Socket `socketId` went away: `ended` (it left on purpose) deletes the session, else its window
   * starts — unless the session moved on to a newer connection meanwhile, which then keeps it.
   */
  close(sessionId: string, socketId: string, ended: boolean): void;
  /** Starts the window of every session of a dead io-node (those no other node took over meanwhile). */
  expireNode(nodeId: string): Promise<void>;
  /** Resolves once what was written so far reached Redis (or failed). */
  flushed(): Promise<void>;
}

const CLOSE = loadLuaScript(import.meta.url, 'session-close');

/** Sessions of a dead node whose window is started per round trip. */
const EXPIRE_CHUNK = 500;

const EXPIRE_IF_ON = loadLuaScript(import.meta.url, 'session-expire-if-on');

export function createSessionStore(
  redis: RedisConnection,
  keys: Keys,
  nodeId: string,
  recoveryWindowMs: number,
  logger: Logger,
): SessionStore {
  const open = new Map<string, { socketId: string; snapshot: () => SessionRecord }>();
  const dirty = new Set<string>();
  const writing = new Set<Promise<unknown>>();
  let scheduled = false;

  const track = (promise: Promise<unknown>, what: string) => {
    const settled = promise.catch((err: unknown) => logger.warn({ err }, `session ${what} failed`));
    writing.add(settled);
    void settled.finally(() => writing.delete(settled));
  };

  function fields(record: SessionRecord): string[] {
    return [
      'node',
      record.node,
      'socket',
      record.socket,
      'origin',
      record.origin,
      'user',
      JSON.stringify(record.user ?? null),
      'rooms',
      JSON.stringify(record.rooms),
      'data',
      JSON.stringify(record.data),
      'presence',
      JSON.stringify(record.presence),
    ];
  }

  function write(): void {
    scheduled = false;
    for (const sessionId of dirty) {
      const entry = open.get(sessionId);
      if (entry) track(redis.hset(keys.session(sessionId), ...fields(entry.snapshot())), 'write');
    }
    dirty.clear();
  }

  return {
    async load(sessionId) {
      const hash = await redis.hgetall(keys.session(sessionId));
      if (!hash.node || !hash.socket) return null;
      try {
        return {
          node: hash.node,
          socket: hash.socket,
          origin: hash.origin ?? hash.socket,
          user: JSON.parse(hash.user ?? 'null') as unknown,
          rooms: JSON.parse(hash.rooms ?? '[]') as string[],
          data: JSON.parse(hash.data ?? '{}') as Record<string, unknown>,
          presence: JSON.parse(hash.presence ?? '{}') as SessionRecord['presence'],
        };
      } catch (err) {
        logger.warn({ err }, 'unreadable session ignored');
        return null;
      }
    },
    open(sessionId, socketId, snapshot) {
      open.set(sessionId, { socketId, snapshot });
      const key = keys.session(sessionId);
      track(
        Promise.all([
          redis.hset(key, ...fields(snapshot())),
          redis.persist(key),
          redis.sadd(keys.nodeSessions(nodeId), sessionId),
        ]),
        'open',
      );
    },
    changed(sessionId) {
      if (!open.has(sessionId)) return;
      dirty.add(sessionId);
      if (!scheduled) {
        scheduled = true;
        setImmediate(write);
      }
    },
    close(sessionId, socketId, ended) {
      if (open.get(sessionId)?.socketId !== socketId) return;
      open.delete(sessionId);
      dirty.delete(sessionId);
      track(
        Promise.all([
          CLOSE.run(
            redis,
            [keys.session(sessionId), keys.sessionReplies(sessionId)],
            [socketId, recoveryWindowMs, ended ? '1' : '0'],
          ),
          redis.srem(keys.nodeSessions(nodeId), sessionId),
        ]),
        'close',
      );
    },
    async expireNode(dead) {
      const index = keys.nodeSessions(dead);
      // In chunks: a dead node may have held a great many sessions.
      for (;;) {
        const sessions = await redis.srandmember(index, EXPIRE_CHUNK);
        if (sessions.length === 0) break;
        await Promise.all(
          sessions.map((sessionId) =>
            EXPIRE_IF_ON.run(redis, [keys.session(sessionId)], [dead, recoveryWindowMs]),
          ),
        );
        await redis.srem(index, ...sessions);
      }
    },
    async flushed() {
      if (scheduled) write();
      await Promise.all([...writing]);
    },
  };
}
