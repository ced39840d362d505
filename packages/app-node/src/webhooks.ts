import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type Deferred,
  deferred,
  type Keys,
  type Logger,
  type OccupancyChange,
  type PresenceChange,
  type RedisConnection,
} from '@iocluster/shared';
import { type Job, Queue, Worker } from 'bullmq';

/** Names of the events a webhook can carry (`WEBHOOK_EVENTS`). */
export type WebhookEventName = 'occupied' | 'vacated' | 'joined' | 'left';
export const WEBHOOK_EVENT_NAMES: readonly WebhookEventName[] = ['occupied', 'vacated', 'joined', 'left'];

/** Header with the hex HMAC-SHA256 of the exact request body, keyed with the shared secret. */
export const SIGNATURE_HEADER = 'x-iocluster-signature';
/** Header with the batch's time (ms since epoch, the same as the body's `time`). */
export const TIMESTAMP_HEADER = 'x-iocluster-timestamp';
/** Header with the delivery's id (the BullMQ job id): the same on every attempt of one batch. */
export const DELIVERY_HEADER = 'x-iocluster-delivery';

/** One event of a webhook batch. */
export interface WebhookEvent {
  /**
   * Unique per event, the same if it is sent again (its job was run again, or its batch retried): a
   * receiver that must act once keeps the ids it has seen.
   */
  id: string;
  name: WebhookEventName;
  room: string;
  /** When the event was decided, ms since epoch (occupancy); when the batch was made (presence). */
  time: number;
  /** `joined` / `left`: the presence member and the connection that joined first / left last. */
  member?: { id: string; meta: Record<string, unknown>; socketId: string; nodeId: string };
  /** `occupied`/`vacated`: `members` or `purge`; `joined`/`left`: the presence reason. */
  reason: string;
}

/** A webhook request's body: `JSON.stringify` of this, signed as sent. */
export interface WebhookBody {
  time: number;
  events: WebhookEvent[];
}

/** The HMAC-SHA256 (hex) of a body: what {@link SIGNATURE_HEADER} carries. */
export function signWebhook(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Whether a signature is the body's, compared in constant time. */
export function verifyWebhook(secret: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signWebhook(secret, body), 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The webhook events of occupancy changes. */
export function occupancyEvents(changes: readonly OccupancyChange[]): WebhookEvent[] {
  return changes.map((c) => ({ id: c.id, name: c.type, room: c.room, time: c.time, reason: c.reason }));
}

/** The webhook events of presence changes (a member's first connection joined, its last left). */
export function presenceEvents(changes: readonly PresenceChange[], now: number): WebhookEvent[] {
  return changes.map((c) => ({
    id: c.id,
    name: c.type,
    room: c.room,
    time: now,
    member: { id: c.memberId, meta: c.meta, socketId: c.socketId, nodeId: c.nodeId },
    reason: c.reason,
  }));
}

export interface WebhookOptions {
  url: string;
  secret: string;
  events: readonly WebhookEventName[];
  lingerMs: number;
  attempts: number;
  /** Delay before the first retry; each next one doubles it. @defaultValue 1000 */
  backoffMs?: number;
  keys: Keys;
  /** For the queue (non-blocking commands). */
  connection: RedisConnection;
  /** For the worker's blocking reads (BullMQ duplicates it). */
  blockingConnection: RedisConnection;
  logger: Logger;
}

/** What a webhook job carries: the exact body to POST (so every attempt sends, and signs, the same bytes). */
interface WebhookJob {
  body: string;
  time: number;
}

/** Events past which a batch goes out without waiting for its linger. */
const MAX_BATCH = 100;
/** Completed deliveries kept in the queue (bull-board shows them); failed ones are all kept. */
const KEEP_COMPLETED = 1_000;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Webhooks: room events batched (up to {@link MAX_BATCH}, waiting at most `lingerMs`) into one BullMQ job
 * each, whose worker POSTs the batch as JSON to `url`, signed; a failed POST (network error, timeout, a
 * status other than 2xx) is retried with exponential backoff, and a batch out of attempts stays a failed
 * job, retryable from bull-board. Every app-node with a URL runs a worker; any of them may deliver any batch.
 */
export interface Webhooks {
  /** Adds events (those not in `events` are dropped); resolves once their batch is a job in Redis. */
  record(events: readonly WebhookEvent[]): Promise<void>;
  start(): Promise<void>;
  /** Sends what is batched, stops the worker (letting a request in flight finish). Idempotent. */
  close(): Promise<void>;
}

export function createWebhooks(options: WebhookOptions): Webhooks {
  const { keys, logger } = options;
  const wanted = new Set(options.events);
  let queue: Queue<WebhookJob> | undefined;
  let worker: Worker<WebhookJob> | undefined;
  let batch: { events: WebhookEvent[]; added: Deferred<void>; timer: NodeJS.Timeout } | undefined;
  let closing: Promise<void> | undefined;

  function flush(): void {
    const current = batch;
    if (!current) return;
    batch = undefined;
    clearTimeout(current.timer);
    const time = Date.now();
    const body = JSON.stringify({ time, events: current.events } satisfies WebhookBody);
    if (!queue) {
      current.added.reject(new Error('webhooks not started'));
      return;
    }
    queue.add('batch', { body, time }).then(
      () => current.added.resolve(),
      (err: unknown) => current.added.reject(err),
    );
  }

  async function deliver(job: Job<WebhookJob>): Promise<{ status: number }> {
    const { body, time } = job.data;
    const response = await fetch(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(options.secret, body),
        [TIMESTAMP_HEADER]: String(time),
        [DELIVERY_HEADER]: String(job.id),
      },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    // The answer's body is not needed; reading it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`webhook endpoint answered ${response.status}`);
    return { status: response.status };
  }

  return {
    record(events) {
      const kept = events.filter((e) => wanted.has(e.name));
      if (kept.length === 0) return Promise.resolve();
      if (!batch) {
        const added = deferred<void>();
        // Nobody may await a batch (a caller that does not wait): its failure is logged here.
        added.promise.catch((err: unknown) => logger.error({ err }, 'webhook batch could not be queued'));
        batch = { events: [], added, timer: setTimeout(flush, options.lingerMs) };
      }
      const current = batch;
      current.events.push(...kept);
      if (current.events.length >= MAX_BATCH) flush();
      return current.added.promise;
    },
    async start() {
      queue = new Queue<WebhookJob>(keys.webhookQueue, {
        connection: options.connection,
        prefix: keys.bullPrefix,
        defaultJobOptions: {
          attempts: options.attempts,
          backoff: { type: 'exponential', delay: options.backoffMs ?? 1_000 },
          removeOnComplete: { count: KEEP_COMPLETED },
          removeOnFail: false,
        },
      });
      queue.on('error', (err) => logger.debug({ err }, 'webhook queue error'));
      worker = new Worker<WebhookJob>(keys.webhookQueue, deliver, {
        connection: options.blockingConnection,
        prefix: keys.bullPrefix,
        concurrency: 4,
      });
      worker.on('error', (err) => logger.warn({ err }, 'webhook worker error'));
      worker.on('failed', (job, err) =>
        logger.warn({ err, delivery: job?.id, attempts: job?.attemptsMade }, 'webhook delivery failed'),
      );
      await worker.waitUntilReady();
    },
    close() {
      closing ??= (async () => {
        flush();
        await Promise.allSettled([worker?.close(), queue?.close()]);
      })();
      return closing;
    },
  };
}
