import {
  createHistoryRules,
  HISTORY_EVENT,
  type HistoryOptions,
  type HistoryPage,
  type HistoryPosition,
  type HistoryRules,
  IoclusterError,
  type RoomHistory,
} from '@iocluster/shared';
import type { AppSocket } from './app-socket.js';

/** Decides whether a client may read a room's history; throw or return false to refuse. */
export type HistoryAuthorizer = (socket: AppSocket, room: string) => boolean | Promise<boolean>;

const membersOnly: HistoryAuthorizer = (socket, room) => socket.rooms.has(room);

export interface AppHistory extends HistoryRules {
  /** The `$history` handler: members of the room may read it unless an authorizer says otherwise. */
  handleRequest(socket: AppSocket, room: unknown, options: unknown): Promise<HistoryPage>;
  authorize(fn: HistoryAuthorizer): () => void;
}

export function createAppHistory(store: RoomHistory, options: HistoryOptions): AppHistory {
  const rules = createHistoryRules(store, options);
  let authorizer: HistoryAuthorizer = membersOnly;

  return {
    ...rules,
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
      return rules.read(room, {
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
