import type { AppNodeRecord, IoNodeRecord } from '@iocluster/shared';
import type { IngressView } from './ingress-view.js';

/** One room as the admin view shows it. */
export interface RoomPresence {
  readonly room: string;
  /** Distinct members (users; one user with three tabs counts once). */
  readonly members: number;
  /** Member names or ids, as many as the source chooses to list. */
  readonly users: readonly string[];
}

/**
 * Where the admin view's rooms panel gets its rooms. The frontend has no view of rooms of its own (room
 * membership lives on the io-nodes); cluster-wide presence provides one. Implementations should bound
 * what they return (the view shows the first 200 rooms).
 */
export interface AdminRoomsSource {
  rooms(): Promise<readonly RoomPresence[]>;
}

/** What `GET /admin/api/state` answers. */
export interface AdminState {
  /** The frontend's clock (ms since epoch), to show ages and uptimes. */
  readonly now: number;
  readonly ioNodes: readonly IoNodeRecord[];
  readonly appNodes: readonly AppNodeRecord[];
  /**
   * The ingress: totals (Streams: lag as `waiting`, pending entries as `active`, dead letters as `failed`;
   * BullMQ: job counts), each partition, and with Streams each consumer's pending entries (a consumer is
   * named by its app-node's id). Null when it could not be read.
   */
  readonly queue: IngressView | null;
  /** Null when no rooms source is configured (presence not enabled). */
  readonly rooms: readonly RoomPresence[] | null;
  /** What could not be read this time, for the view to say so. */
  readonly errors: readonly string[];
}

export interface AdminStateOptions {
  ioNodes(): readonly IoNodeRecord[];
  appNodes(): Promise<readonly AppNodeRecord[]>;
  ingress(): Promise<IngressView>;
  rooms?: AdminRoomsSource | undefined;
}

/** Most rooms one state carries. */
const MAX_ROOMS = 200;

/** Gathers the admin view's state; a part that cannot be read is reported in `errors`, not thrown. */
export async function readAdminState(options: AdminStateOptions): Promise<AdminState> {
  const errors: string[] = [];
  const settle = <T>(what: string, promise: Promise<T>, fallback: T): Promise<T> =>
    promise.catch((err: unknown) => {
      errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      return fallback;
    });
  const [appNodes, queue, rooms] = await Promise.all([
    settle('app-nodes', options.appNodes(), []),
    settle<IngressView | null>('queue', options.ingress(), null),
    options.rooms
      ? settle<readonly RoomPresence[] | null>('rooms', options.rooms.rooms(), [])
      : Promise.resolve(null),
  ]);
  return {
    now: Date.now(),
    ioNodes: options.ioNodes(),
    appNodes,
    queue,
    rooms: rooms === null ? null : rooms.slice(0, MAX_ROOMS),
    errors,
  };
}
