import type { AppNode, AppSocket } from '@iocluster/app-node';
import {
  closeRedis,
  createKeys,
  createLogger,
  createRedis,
  type Logger,
  loadSettings,
  type RedisTarget,
  silentLogger,
  userIdOf,
  userRoom,
} from '@iocluster/shared';
import {
  type ChatError,
  type ChatErrorCode,
  type ChatMessage,
  type JoinResult,
  LIMITS,
  type Member,
  NICKNAME_RE,
  type Notice,
  type PresenceNotice,
  type PrivateMessage,
  ROOM_RE,
  type Typing,
  type Welcome,
} from './chat-protocol.js';
import { type ChatStore, createChatStore } from './chat-store.js';

/** Options of {@link createChatApp}. */
export interface ChatAppOptions {
  /** Redis holding history and nicknames: the cluster's own. */
  redis: RedisTarget | string;
  /** Key prefix, the cluster's. @defaultValue 'iocluster' */
  prefix?: string;
  /** @defaultValue a silent logger */
  logger?: Logger;
}

/** The chat's handlers plus the Redis connection they keep for history and nicknames. */
export interface ChatApp {
  /** Registers the chat's handlers on an app-node. */
  register(app: AppNode): void;
  /** Closes the Redis connection. Idempotent. */
  close(): Promise<void>;
}

/** Socket.IO rooms carry this prefix, so a room name can never be a socket id (whose room is private). */
const ROOM_PREFIX = 'room:';
/** Socket.IO v4 ids: 20 base64url characters. */
const SOCKET_ID_RE = /^[A-Za-z0-9_-]{20}$/;

const fail = (code: ChatErrorCode, message: string): ChatError => ({ error: { code, message } });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function roomName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.trim();
  return ROOM_RE.test(name) ? name : undefined;
}

function joinedRooms(socket: AppSocket): string[] {
  return [...socket.rooms].filter((r) => r.startsWith(ROOM_PREFIX)).map((r) => r.slice(ROOM_PREFIX.length));
}

/** The nickname the client logged in with (the token's `name`), when io-nodes verify tokens. */
function loginName(socket: AppSocket): string | null {
  const user = socket.user as { name?: unknown } | null;
  return typeof user?.name === 'string' ? user.name : null;
}

function nicknameOf(socket: AppSocket): string | null {
  return typeof socket.data.nickname === 'string' ? socket.data.nickname : null;
}

/** Text, client timestamp and message id, as a message or private message carries them. */
function messageBody(
  value: Record<string, unknown>,
): { text: string; sentAt: number; mid: string } | ChatError {
  const { text, sentAt, mid } = value;
  if (typeof text !== 'string' || text.trim() === '' || text.length > LIMITS.textLength) {
    return fail('BAD_REQUEST', `text must be a non-empty string of at most ${LIMITS.textLength} characters`);
  }
  if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) {
    return fail('BAD_REQUEST', 'sentAt must be a number (ms since epoch)');
  }
  if (typeof mid !== 'string' || mid.length === 0 || mid.length > LIMITS.midLength) {
    return fail('BAD_REQUEST', `mid must be a string of 1-${LIMITS.midLength} characters`);
  }
  return { text, sentAt, mid };
}

/**
 * The chat example: nicknames, rooms with history, messages to a room on every io-node, typing, private
 * messages and join/leave notices. Built on @iocluster/app-node's public API only; history and nicknames
 * live in Redis so any app-node serves any client.
 */
export function createChatApp(options: ChatAppOptions): ChatApp {
  const keys = createKeys(options.prefix ?? 'iocluster');
  const logger = (options.logger ?? silentLogger()).child({ component: 'chat' });
  const redis = createRedis(options.redis, 'command', { logger, connectionName: 'chat-store' });
  const store: ChatStore = createChatStore(redis, keys);
  let closing: Promise<void> | undefined;

  function register(app: AppNode): void {
    // Every chat room keeps its messages: the join answers with the last ones, and a client that comes
    // back (to any io-node) gets those it missed.
    app.keepHistory(`${ROOM_PREFIX}*`);

    async function history(room: string): Promise<ChatMessage[]> {
      // The room's history holds its notices and presence events too (typing is volatile): read past them.
      const page = await app.history(ROOM_PREFIX + room, { limit: LIMITS.historyLength * 4 });
      return page.messages
        .filter((m) => m.event === 'chat message')
        .map((m) => m.args[0] as ChatMessage)
        .slice(-LIMITS.historyLength);
    }

    // Rooms are joined with presence (meta: the nickname); their members are told `{ room, joined|left }`.
    app.formatPresence((change) => {
      if (!change.room.startsWith(ROOM_PREFIX)) return null;
      const member: Member = {
        id: change.memberId,
        nick: typeof change.meta.nick === 'string' ? change.meta.nick : null,
      };
      const room = change.room.slice(ROOM_PREFIX.length);
      return change.type === 'joined' ? { room, joined: member } : { room, left: member };
    });

    async function members(room: string): Promise<Member[]> {
      const roster = await app.presence(ROOM_PREFIX + room);
      // A handler sees its own join in the roster (docs/presence.md, "Consistency").
      return roster.map(
        (m): Member => ({ id: m.id, nick: typeof m.meta.nick === 'string' ? m.meta.nick : null }),
      );
    }

    const notice = (socket: AppSocket, room: string, kind: Notice['kind']): Notice => ({
      room,
      kind,
      id: socket.id,
      nickname: nicknameOf(socket),
      at: Date.now(),
    });

    app.on('connection', (socket) => {
      const welcome: Welcome = { id: socket.id, nodeId: socket.nodeId };
      socket.emit('welcome', welcome);
    });

    app.on('set nickname', async (socket, request: unknown) => {
      const raw = isRecord(request) ? request.nickname : request;
      const session = isRecord(request) && typeof request.session === 'string' ? request.session : null;
      if (typeof raw !== 'string' || !NICKNAME_RE.test(raw.trim())) {
        return fail('BAD_NICKNAME', "a nickname is 1-24 letters, digits, '_', '.' or '-'");
      }
      const nickname = raw.trim();
      // Authenticated clients are who their token says: the nickname is the login's, nothing else.
      const login = loginName(socket);
      if (login !== null && login !== nickname) {
        return fail('BAD_NICKNAME', `signed in as "${login}": log in as "${nickname}" to use that nickname`);
      }
      const previous = nicknameOf(socket);
      const user = userIdOf(socket.user);
      const owner = {
        id: socket.id,
        nodeId: socket.nodeId,
        session,
        ...(user === undefined ? {} : { user }),
      };
      if (!(await store.claim(nickname, owner))) {
        return fail('NICKNAME_TAKEN', `"${nickname}" is taken`);
      }
      if (previous !== null && previous.toLowerCase() !== nickname.toLowerCase()) {
        await store.release(previous, socket.id);
      }
      socket.setData({ nickname });
      // Rosters hold the new name from now on (for whoever joins later); members listing this one now are
      // told, as presence changes are.
      for (const room of joinedRooms(socket)) {
        await socket.join(ROOM_PREFIX + room, { presence: { nick: nickname } });
        const renamed: PresenceNotice = { room, renamed: { id: socket.memberId, nick: nickname } };
        app.to(ROOM_PREFIX + room).emit('presence', renamed);
      }
      return { nickname };
    });

    app.on('join', async (socket, request: unknown): Promise<JoinResult | ChatError> => {
      const room = roomName(request);
      if (!room) return fail('BAD_ROOM', "a room name is 1-32 letters, digits, spaces, '_', '.' or '-'");
      const joined = joinedRooms(socket);
      if (!joined.includes(room)) {
        if (joined.length >= LIMITS.roomsPerClient) {
          return fail('TOO_MANY_ROOMS', `at most ${LIMITS.roomsPerClient} rooms at once`);
        }
        // Joined before reading the history: a message sent in between is delivered live (and may also
        // be in the history; clients dedupe by `mid`) rather than lost.
        await socket.join(ROOM_PREFIX + room, { presence: { nick: nicknameOf(socket) } });
        socket.to(ROOM_PREFIX + room).emit('notice', notice(socket, room, 'join'));
      }
      return { room, history: await history(room), members: await members(room) };
    });

    app.on('leave', async (socket, request: unknown) => {
      const room = roomName(request);
      if (!room) return fail('BAD_ROOM', 'not a room name');
      if (joinedRooms(socket).includes(room)) {
        socket.to(ROOM_PREFIX + room).emit('notice', notice(socket, room, 'leave'));
        await socket.leave(ROOM_PREFIX + room);
      }
      return { room };
    });

    app.on('chat message', async (socket, request: unknown) => {
      if (!isRecord(request)) return fail('BAD_REQUEST', 'a message is { room, text, sentAt, mid }');
      const room = roomName(request.room);
      if (!room) return fail('BAD_ROOM', 'not a room name');
      if (!joinedRooms(socket).includes(room)) return fail('NOT_IN_ROOM', `join "${room}" first`);
      const body = messageBody(request);
      if ('error' in body) return body;
      const message: ChatMessage = {
        room,
        ...body,
        from: socket.id,
        nickname: nicknameOf(socket),
        at: Date.now(),
      };
      app.to(ROOM_PREFIX + room).emit('chat message', message);
      await store.noteRoom(room);
      return { ok: true, mid: message.mid, at: message.at };
    });

    app.on('typing', (socket, request: unknown) => {
      if (!isRecord(request) || typeof request.typing !== 'boolean') {
        return fail('BAD_REQUEST', 'typing is { room, typing: boolean }');
      }
      const room = roomName(request.room);
      if (!room || !joinedRooms(socket).includes(room)) return fail('NOT_IN_ROOM', 'not in that room');
      const typing: Typing = { room, id: socket.id, nickname: nicknameOf(socket), typing: request.typing };
      // Volatile: stale a moment later, so never kept in the room's history nor replayed by a recovery.
      socket.to(ROOM_PREFIX + room).volatile.emit('typing', typing);
      return undefined;
    });

    app.on('private message', async (socket, request: unknown) => {
      if (!isRecord(request) || typeof request.to !== 'string' || request.to.trim() === '') {
        return fail('BAD_REQUEST', 'a private message is { to, text, sentAt, mid }');
      }
      const body = messageBody(request);
      if ('error' in body) return body;
      const to = request.to.trim();
      const owner = NICKNAME_RE.test(to) ? await store.lookup(to) : undefined;
      const target = owner?.id ?? (SOCKET_ID_RE.test(to) ? to : undefined);
      if (!target) return fail('USER_NOT_FOUND', `nobody is called "${to}"`);
      const message: PrivateMessage = {
        from: socket.id,
        nickname: nicknameOf(socket),
        to: target,
        toNickname: owner ? to : null,
        ...body,
        at: Date.now(),
      };
      // A signed-in recipient is a user: `toUser` reaches every connection it has, on whichever io-node
      // (a tab that reconnected since it took the name too). The sender's own connections get a copy.
      const recipient = owner?.user !== undefined ? app.toUser(owner.user) : app.to(target);
      const sender = userIdOf(socket.user);
      recipient.to(sender === undefined ? socket.id : userRoom(sender)).emit('private message', message);
      return { ok: true, to: target, mid: message.mid, at: message.at };
    });

    app.on('rooms', async () => ({ rooms: await store.rooms() }));

    app.on('disconnect', async (socket) => {
      // Released first: whoever sees the leave notice may take the nickname at once.
      const nickname = nicknameOf(socket);
      if (nickname !== null) await store.release(nickname, socket.id);
      for (const room of joinedRooms(socket)) {
        app.to(ROOM_PREFIX + room).emit('notice', notice(socket, room, 'leave'));
      }
    });
  }

  return {
    register,
    close() {
      closing ??= closeRedis(redis);
      return closing;
    },
  };
}

let processApp: ChatApp | undefined;

/**
 * The handlers module `node packages/app-node/dist/main.js example/dist/chat-app.js` loads: reads the same
 * environment as the app-node (REDIS_URL, IOCLUSTER_PREFIX...) for its own Redis connection. The process
 * exits on SIGTERM after the app-node closed, which ends that connection too.
 */
export default function register(app: AppNode): void {
  const config = loadSettings('app-node');
  processApp ??= createChatApp({
    redis: config.redis,
    prefix: config.prefix,
    logger: createLogger({ level: config.logLevel, name: 'chat', pretty: config.logPretty }),
  });
  processApp.register(app);
}
