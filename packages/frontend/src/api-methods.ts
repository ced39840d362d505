import type { Emitter } from '@iocluster/emitter';
import { IoclusterError, isTransientRedisError, type Logger } from '@iocluster/shared';
import type { z } from 'zod';
import {
  BroadcastParams,
  BroadcastResultSchema,
  ChannelsParams,
  ChannelsResultSchema,
  DisconnectParams,
  HistoryParams,
  HistoryResultSchema,
  PresenceResultSchema,
  PresenceStatsResultSchema,
  PublishParams,
  PublishResultSchema,
  RoomParams,
  SelectionResultSchema,
  SubscribeParams,
} from './api-schemas.js';

/** Who asked: logged with every change the server API makes. */
export interface ApiActor {
  /** `api-key`: a caller of `/api/v1`; `admin`: someone in the admin view. */
  kind: 'api-key' | 'admin';
  /** Which credential: a fingerprint of the key or token, never the secret itself. */
  id: string;
  /** The client address the request came from. */
  address: string | undefined;
}

/** What a method answered, and whether an earlier run's answer was given again (idempotency key). */
export interface ApiOutcome {
  result: unknown;
  repeated: boolean;
}

/** One server API method: its parameters, its answer, and how it runs on the emitter. */
interface ApiMethod<S extends z.ZodType> {
  readonly params: S;
  readonly result: z.ZodType;
  /** Changes something in the cluster (logged with its actor) rather than reading. */
  readonly writes: boolean;
  run(emitter: Emitter, params: z.output<S>): Promise<ApiOutcome>;
}

function method<S extends z.ZodType>(m: ApiMethod<S>): ApiMethod<S> {
  return m;
}

const read = (result: unknown): ApiOutcome => ({ result, repeated: false });

/** A user's connections, or one socket (a socket id is a room of one). */
function selected(emitter: Emitter, p: { user?: string; socketId?: string }) {
  return p.user !== undefined ? emitter.toUser(p.user) : emitter.to(p.socketId!);
}

/**
 * The server API's methods by name: `/api/v1/<name>` routes, `/api/v1/batch` entries and the admin
 * view's actions all run through {@link createApiRunner}, so they validate, answer and log alike.
 */
export const API_METHODS = {
  publish: method({
    params: PublishParams,
    result: PublishResultSchema,
    writes: true,
    async run(emitter, p) {
      const { position, repeated } = await emitter.publish(p.room, p.event, p.data, {
        idempotencyKey: p.idempotencyKey,
      });
      return { result: { position }, repeated };
    },
  }),
  broadcast: method({
    params: BroadcastParams,
    result: BroadcastResultSchema,
    writes: true,
    async run(emitter, p) {
      const { recorded, repeated } = await emitter.broadcast(p.rooms, p.event, p.data, {
        idempotencyKey: p.idempotencyKey,
      });
      return { result: { recorded }, repeated };
    },
  }),
  disconnect: method({
    params: DisconnectParams,
    result: SelectionResultSchema,
    writes: true,
    async run(emitter, p) {
      const change =
        p.user !== undefined
          ? await emitter.disconnectUser(p.user, p.reason)
          : await emitter.disconnect(p.socketId!, { close: true, reason: p.reason });
      return { result: change, repeated: false };
    },
  }),
  subscribe: method({
    params: SubscribeParams,
    result: SelectionResultSchema,
    writes: true,
    run: async (emitter, p) => ({ result: await selected(emitter, p).socketsJoin(p.rooms), repeated: false }),
  }),
  unsubscribe: method({
    params: SubscribeParams,
    result: SelectionResultSchema,
    writes: true,
    run: async (emitter, p) => ({
      result: await selected(emitter, p).socketsLeave(p.rooms),
      repeated: false,
    }),
  }),
  presence: method({
    params: RoomParams,
    result: PresenceResultSchema,
    writes: false,
    run: async (emitter, p) => read({ room: p.room, members: await emitter.presence(p.room) }),
  }),
  presenceStats: method({
    params: RoomParams,
    result: PresenceStatsResultSchema,
    writes: false,
    run: async (emitter, p) => read({ room: p.room, ...(await emitter.presenceStats(p.room)) }),
  }),
  history: method({
    params: HistoryParams,
    result: HistoryResultSchema,
    writes: false,
    async run(emitter, p) {
      const since =
        p.epoch !== undefined && p.offset !== undefined ? { epoch: p.epoch, offset: p.offset } : undefined;
      return read(await emitter.history(p.room, { since, limit: p.limit }));
    },
  }),
  channels: method({
    params: ChannelsParams,
    result: ChannelsResultSchema,
    writes: false,
    run: async (emitter, p) => read({ rooms: await emitter.presenceRooms(p.limit) }),
  }),
} as const;

export type ApiMethodName = keyof typeof API_METHODS;

export function isApiMethod(name: unknown): name is ApiMethodName {
  return typeof name === 'string' && Object.hasOwn(API_METHODS, name);
}

/** Stable codes of the server API's errors. */
export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'API_DISABLED'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'IN_PROGRESS'
  | 'REDIS_UNAVAILABLE'
  | 'INTERNAL';

/** An error the server API answers with: an HTTP status and `{ error: { code, message } }`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The first problem zod found, as one sentence naming where. */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'the request is not valid';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
  return `${where}: ${issue.message}`;
}

/** Runs server API methods: validates, runs on the emitter, turns failures into {@link ApiError}s, logs. */
export interface ApiRunner {
  run(name: ApiMethodName, params: unknown, actor: ApiActor): Promise<ApiOutcome>;
}

export function createApiRunner(emitter: () => Emitter | undefined, logger: Logger): ApiRunner {
  const log = logger.child({ component: 'frontend:server-api' });
  return {
    async run(name, raw, actor) {
      const m = API_METHODS[name] as ApiMethod<z.ZodType>;
      const parsed = m.params.safeParse(raw ?? {});
      if (!parsed.success) throw new ApiError(400, 'BAD_REQUEST', describeIssue(parsed.error));
      const current = emitter();
      if (!current) throw new ApiError(503, 'REDIS_UNAVAILABLE', 'the frontend is not started');
      let outcome: ApiOutcome;
      try {
        outcome = await m.run(current, parsed.data);
      } catch (err) {
        const failure = toApiError(err);
        if (failure.status >= 500) log.error({ err, method: name, actor }, 'server API call failed');
        throw failure;
      }
      if (m.writes) {
        // The payload stays out of the log: it may be large, or personal.
        const { data: _data, ...params } = parsed.data as Record<string, unknown>;
        log.info(
          { method: name, actor, params, repeated: outcome.repeated, result: outcome.result },
          `server API ${name}`,
        );
      }
      return outcome;
    },
  };
}

/** What a failure of a method's run answers with. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  // The JSON body parser's refusals.
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.parse.failed') return new ApiError(400, 'BAD_REQUEST', 'the body is not valid JSON');
  if (type === 'entity.too.large') return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'the body is too large');
  if (err instanceof IoclusterError && err.code === 'IN_PROGRESS')
    return new ApiError(409, 'IN_PROGRESS', err.message);
  if (err instanceof IoclusterError && err.code === 'BAD_REQUEST')
    return new ApiError(400, 'BAD_REQUEST', err.message);
  if (err instanceof TypeError) return new ApiError(400, 'BAD_REQUEST', err.message);
  if (isTransientRedisError(err))
    return new ApiError(503, 'REDIS_UNAVAILABLE', 'Redis is unreachable; try again');
  return new ApiError(500, 'INTERNAL', 'the request failed; see the frontend log');
}
