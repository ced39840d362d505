import type { CommandPublisher } from '@iocluster/shared';
import {
  type EmitCommand,
  encodeArgs,
  IoclusterError,
  type Logger,
  PRESENCE_EVENT,
  PRESENCE_REQUEST_EVENT,
  type PresenceChange,
  type PresenceMember,
  type PresenceMeta,
  type PresenceStore,
} from '@iocluster/shared';
import type { AppSocket } from './app-socket.js';
import { type PresenceScope, PresenceWrites } from './presence-writes.js';

/** A `presence` hook: runs once per member joining or leaving a room (again only if its job is rerun). */
export type PresenceHook = (change: PresenceChange) => unknown;

/**
 * What a room's members receive for a change (as the `presence` event's payload), or null/undefined to
 * send nothing.
 */
export type PresenceFormatter = (change: PresenceChange) => unknown;

/** Decides whether a client may read a room's roster with the `$presence` request. */
export type PresenceAuthorizer = (socket: AppSocket, room: string) => boolean | Promise<boolean>;

/** A member as clients see it: its meta with its id (the id wins over a meta field of that name). */
export type PresenceMemberView = PresenceMeta & { id: string };

/** The answer to a `$presence` request. */
export interface PresenceRoster {
  room: string;
  members: PresenceMemberView[];
}

/** The default payload of the `presence` event: `{ room, joined: { ...meta, id } }` or `{ room, left }`. */
export function defaultPresencePayload(change: PresenceChange): unknown {
  const member: PresenceMemberView = { ...change.meta, id: change.memberId };
  return change.type === 'joined'
    ? { room: change.room, joined: member }
    : { room: change.room, left: member };
}

/** The presence side of an app-node: roster reads, the `$presence` request, and running changes. */
export interface AppPresence {
  roster(room: string): Promise<PresenceMember[]>;
  count(room: string): Promise<number>;
  onChange(hook: PresenceHook): () => void;
  format(formatter: PresenceFormatter): void;
  authorize(authorizer: PresenceAuthorizer): void;
  /** Starts recording one job's presence writes: roster reads show them until the job ends. */
  scope(): PresenceScope;
  /** Handler of the `$presence` client request: `(socket, room)` → {@link PresenceRoster}. */
  request(socket: AppSocket, room: unknown): Promise<PresenceRoster>;
  /**
   * Runs the changes of one ingress job: tells each room (through the publisher, so an emit follows the
   * joins published before it) and calls the hooks. Resolves once the emits are in Redis; rejects if they
   * are not (the job is then retried, repeating the changes).
   */
  run(changes: readonly PresenceChange[], context: { jobId: string | undefined }): Promise<void>;
}

export function createAppPresence(
  store: PresenceStore,
  publisher: CommandPublisher,
  logger: Logger,
): AppPresence {
  const hooks = new Set<PresenceHook>();
  const writes = new PresenceWrites();
  const roster = async (room: string) => writes.merge(room, await store.roster(room));
  let formatter: PresenceFormatter = defaultPresencePayload;
  let authorizer: PresenceAuthorizer = (socket, room) => socket.rooms.has(room);

  return {
    roster,
    // HLEN when no running job wrote in the room; else the merged roster's length.
    count: async (room) => (writes.touches(room) ? (await roster(room)).length : store.count(room)),
    scope: () => writes.begin(),
    onChange(hook) {
      hooks.add(hook);
      return () => {
        hooks.delete(hook);
      };
    },
    format(fn) {
      formatter = fn;
    },
    authorize(fn) {
      authorizer = fn;
    },

    async request(socket, room) {
      if (typeof room !== 'string' || room.length === 0) {
        throw new IoclusterError('BAD_REQUEST', `${PRESENCE_REQUEST_EVENT} takes a room name`);
      }
      if (!(await authorizer(socket, room))) {
        throw new IoclusterError('FORBIDDEN', `not allowed to read the members of "${room}"`);
      }
      const members = await roster(room);
      return { room, members: members.map((m): PresenceMemberView => ({ ...m.meta, id: m.id })) };
    },

    async run(changes, context) {
      const since = publisher.position();
      for (const change of changes) {
        let payload: unknown;
        try {
          payload = formatter(change);
        } catch (err) {
          logger.warn(
            { err, jobId: context.jobId, room: change.room },
            'presence formatter failed; nothing sent',
          );
        }
        if (payload !== undefined && payload !== null) {
          // `once`: io-nodes drop the repeat a rerun of this job would publish.
          const emit: EmitCommand = {
            type: 'emit',
            event: PRESENCE_EVENT,
            ...encodeArgs([payload]),
            rooms: [change.room],
            once: change.id,
          };
          publisher.publish(null, emit);
        }
        for (const hook of hooks) {
          try {
            await hook(change);
          } catch (err) {
            logger.warn(
              { err, jobId: context.jobId, room: change.room, member: change.memberId, type: change.type },
              'presence hook failed',
            );
          }
        }
      }
      await publisher.flush(since);
    },
  };
}
