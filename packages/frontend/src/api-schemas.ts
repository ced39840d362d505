import { HISTORY_READ_MAX, RESERVED_PREFIX, SERVER_ERROR_EVENT, userRoom } from '@iocluster/shared';
import { z } from 'zod';

/*
 * The server API's bodies and answers as zod schemas: requests are validated with them, and the OpenAPI
 * document (api-openapi.ts) is generated from them, so the two cannot disagree. `meta({ id })` names a
 * schema in the document's components.
 */

const room = z
  .string()
  .min(1)
  .max(512)
  .meta({ description: `A room name (any string; \`${userRoom('<id>')}\` is a user's connections)` });
const event = z
  .string()
  .min(1)
  .max(256)
  .refine((name) => !name.startsWith(RESERVED_PREFIX), {
    message: `event names starting with "${RESERVED_PREFIX}" are reserved`,
  })
  .meta({
    description: `The event clients receive; names starting with \`${RESERVED_PREFIX}\` are reserved`,
  });
const idempotencyKey = z.string().min(1).max(256).meta({
  description:
    'Names this request: the same key again within the idempotency window delivers nothing and gets the first answer',
});

export const HistoryPositionSchema = z
  .object({ epoch: z.string(), offset: z.number().int().nonnegative() })
  .meta({ id: 'HistoryPosition', description: "A message's place in a room's history" });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable: what a program checks', example: 'BAD_REQUEST' }),
      message: z.string().meta({ description: 'For people' }),
    }),
  })
  .meta({ id: 'Error' });

export const PublishParams = z
  .object({
    room,
    event,
    data: z.unknown().optional().meta({ description: 'The event argument (any JSON)' }),
    idempotencyKey: idempotencyKey.optional(),
  })
  .strict()
  .meta({ id: 'PublishRequest' });
export const PublishResultSchema = z
  .object({
    position: HistoryPositionSchema.nullable().meta({
      description: "The message's place in the room's history; null when the room keeps no history",
    }),
  })
  .meta({ id: 'PublishResult' });

export const BroadcastParams = z
  .object({
    rooms: z.array(room).min(1).max(100),
    event,
    data: z.unknown().optional(),
    idempotencyKey: idempotencyKey.optional(),
  })
  .strict()
  .meta({ id: 'BroadcastRequest' });
export const BroadcastResultSchema = z
  .object({
    recorded: z.array(z.object({ room: z.string(), position: HistoryPositionSchema })).meta({
      description: 'One entry per room that keeps history',
    }),
  })
  .meta({ id: 'BroadcastResult' });

/** Whose connections: a user's (all of them, on every io-node) or one socket's. */
const target = {
  user: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .meta({ description: 'A user id: every connection of the user' }),
  socketId: z.string().min(1).max(256).optional().meta({ description: 'One connection' }),
};
const oneTarget = {
  check: (p: { user?: string; socketId?: string }) => (p.user === undefined) !== (p.socketId === undefined),
  message: { message: 'give either user or socketId' },
};

export const DisconnectParams = z
  .object({
    ...target,
    reason: z
      .string()
      .max(256)
      .optional()
      .meta({ description: `Told to the client (\`${SERVER_ERROR_EVENT}\` DISCONNECTED) and logged` }),
  })
  .strict()
  .refine(oneTarget.check, oneTarget.message)
  .meta({ id: 'DisconnectRequest' });

export const SubscribeParams = z
  .object({ ...target, rooms: z.array(room).min(1).max(100) })
  .strict()
  .refine(oneTarget.check, oneTarget.message)
  .meta({ id: 'SubscribeRequest' });

export const SelectionResultSchema = z
  .object({
    count: z.number().int().meta({ description: 'Connections it applied to' }),
    missingNodes: z.array(z.string()).meta({ description: 'io-nodes that did not answer in time' }),
  })
  .meta({ id: 'SelectionResult' });

export const RoomParams = z.object({ room }).strict();

export const PresenceResultSchema = z
  .object({
    room: z.string(),
    members: z.array(
      z.object({
        id: z.string(),
        meta: z.record(z.string(), z.unknown()),
        connections: z.array(
          z.object({
            socketId: z.string(),
            nodeId: z.string(),
            meta: z.record(z.string(), z.unknown()),
            joinedAt: z.number().int(),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'PresenceResult' });

export const PresenceStatsResultSchema = z
  .object({ room: z.string(), members: z.number().int(), connections: z.number().int() })
  .meta({ id: 'PresenceStatsResult' });

/** What a history read takes besides the room (in the query of `GET /history/{room}`). */
export const HistoryQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(HISTORY_READ_MAX).optional(),
    epoch: z.string().min(1).max(64).optional().meta({ description: 'With `offset`: read what came after' }),
    offset: z.coerce.number().int().nonnegative().optional(),
  })
  .strict();
export const HistoryParams = HistoryQuery.extend({ room })
  .strict()
  .refine((p) => (p.epoch === undefined) === (p.offset === undefined), {
    message: 'epoch and offset go together',
  });
export const HistoryResultSchema = z
  .object({
    position: HistoryPositionSchema.nullable(),
    messages: z.array(
      z.object({
        offset: z.number().int(),
        event: z.string(),
        args: z.array(z.unknown()),
        time: z.number().int(),
      }),
    ),
    complete: z.boolean(),
  })
  .meta({ id: 'HistoryResult' });

export const ChannelsParams = z
  .object({ limit: z.coerce.number().int().min(1).max(1_000).optional() })
  .strict();
export const ChannelsResultSchema = z
  .object({ rooms: z.array(z.object({ room: z.string(), members: z.number().int() })) })
  .meta({ id: 'ChannelsResult' });
