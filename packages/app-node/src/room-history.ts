import {
  decodeArgs,
  HISTORY_EVENT,
  type HistoryLimits,
  type HistoryPosition,
  IoclusterError,
  matchRooms,
  type RoomHistory,
} from '@iocluster/shared';
import type { AppSocket } from './app-socket.js';

/** Which rooms keep history, and how much (`AppNodeOptions.history`). */
export interface HistoryOptions {
  /**
   * Rooms whose messages are kept: globs (`chat:*`), RegExps, or a predicate. Every app-node must use
   * the same rule. @defaultValue none
   */
  rooms?: readonly (string | RegExp)[] | ((room: string) => boolean);
  /** Messages kept per room (approximately). @defaultValue 1000 */
  maxLength?: number;
  /** Messages older than this are dropped; a quiet room's history expires this long after its last one. @defaultValue 300000 */
  ttlMs?: number;
}

/** One message of a room's history as applications see it. */
export interface HistoryMessage {
  offset: number;
  event: string;
  args: unknown[];
  /** When it was emitted, ms since epoch. */
  time: number;
}

/** What `app.history()` returns. */
export interface HistoryPage {
  /** Where the room stands now (null: no history). Give it back as `since` to read on from here. */
  position: HistoryPosition | null;
  messages: HistoryMessage[];
  /** With `since`: false when messages after it were lost (trimmed, expired, or another epoch). */
  complete: boolean;
}

/** Decides whether a client may read a room's history; throw or return false to refuse. */
export type HistoryAuthorizer = (socket: AppSocket, room: string) => boolean | Promise<boolean>;

const membersOnly: HistoryAuthorizer = (socket, room) => socket.rooms.has(room);

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1_000;

export interface AppHistory {
  readonly keeps: (room: string) => boolean;
  /** Adds rooms that keep history (globs or RegExps), besides `HistoryOptions.rooms`. */
  keep(patterns: readonly (string | RegExp)[]): void;
  readonly limits: HistoryLimits;
  read(room: string, options?: { since?: HistoryPosition; limit?: number }): Promise<HistoryPage>;
  /** The `$history` handler: members of the room may read it unless an authorizer says otherwise. */
  handleRequest(socket: AppSocket, room: unknown, options: unknown): Promise<HistoryPage>;
  authorize(fn: HistoryAuthorizer): () => void;
}

export function createAppHistory(store: RoomHistory, options: HistoryOptions): AppHistory {
  const { rooms = [] } = options;
  const configured = typeof rooms === 'function' ? rooms : matchRooms(rooms);
  let added: (room: string) => boolean = () => false;
  const keeps = (room: string) => configured(room) || added(room);
  const addedPatterns: (string | RegExp)[] = [];
  const limits: HistoryLimits = { maxLength: options.maxLength ?? 1_000, ttlMs: options.ttlMs ?? 300_000 };
  let authorizer: HistoryAuthorizer = membersOnly;

  async function read(
    room: string,
    opts: { since?: HistoryPosition; limit?: number } = {},
  ): Promise<HistoryPage> {
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? DEFAULT_LIMIT)), MAX_LIMIT);
    const found = await store.read(room, { since: opts.since, limit });
    return {
      position: found.position,
      complete: found.complete,
      messages: found.entries.map((e) => ({
        offset: e.offset,
        event: e.event,
        args: decodeArgs(e.args, e.bin),
        time: e.time,
      })),
    };
  }

  return {
    keeps,
    keep(patterns) {
      addedPatterns.push(...patterns);
      added = matchRooms(addedPatterns);
    },
    limits,
    read,
    async handleRequest(socket, room, raw) {
      if (typeof room !== 'string' || room.length === 0) {
        throw new IoclusterError('BAD_REQUEST', `${HISTORY_EVENT} needs a room name`);
      }
      const request = (raw ?? {}) as { since?: unknown; limit?: unknown };
      const since = request.since as Partial<HistoryPosition> | undefined;
      if (
        since !== undefined &&
        (typeof since?.epoch !== 'string' || !Number.isInteger(since.offset) || (since.offset as number) < 0)
      ) {
        throw new IoclusterError('BAD_REQUEST', 'since must be { epoch, offset }');
      }
      if (!(await authorizer(socket, room))) {
        throw new IoclusterError('FORBIDDEN', `not allowed to read the history of "${room}"`);
      }
      return read(room, {
        since: since as HistoryPosition | undefined,
        limit: typeof request.limit === 'number' ? request.limit : undefined,
      });
    },
    authorize(fn) {
      authorizer = fn;
      return () => {
        if (authorizer === fn) authorizer = membersOnly;
      };
    },
  };
}
