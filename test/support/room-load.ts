import type { Socket as ClientSocket } from 'socket.io-client';
import { until } from './poll.js';

/** A steady chat load: clients in rooms, each message a `room only` event with a unique id. */
export interface RoomLoadOptions {
  /** The clients, already connected; client i is in room `i % rooms` (it joins in {@link startRoomLoad}). */
  sockets: readonly ClientSocket[];
  rooms: number;
  /** Room names are `${roomPrefix}${r}`. */
  roomPrefix: string;
  /** Messages per second over all clients, sent round-robin in ticks of 10 ms. */
  rate: number;
  /** Stops sending after this many messages even if not stopped. */
  maxMessages: number;
  /** How long an ack may take before it counts as unanswered. */
  ackTimeoutMs: number;
}

/** What a load run sent and what reached whom. */
export interface RoomLoadFigures {
  sent: number;
  /** Acks answering `true` (the handler ran and its emit was published). */
  acked: number;
  /** Acks answering TIMEOUT: the io-node heard no answer within its `eventTimeoutMs`. */
  timedOut: number;
  /** Acks answering another error. */
  refused: number;
  /** Acks that did not come within `ackTimeoutMs`. */
  unanswered: number;
  /** Deliveries due: every member of the message's room, sender included. */
  expected: number;
  /** Distinct (message, member) deliveries. */
  delivered: number;
  /** Deliveries due that never came. */
  lost: number;
  /** Of those, deliveries of messages whose ack said `true`. */
  lostAcked: number;
  /** Deliveries beyond the first of a (message, member). */
  duplicated: number;
  /** Slowest ack, ms: how long the pipeline stood still at worst. */
  maxAckMs: number;
}

export interface RoomLoad {
  /** Stops sending; resolves once every ack settled and deliveries are complete (or `drainMs` passed). */
  stop(drainMs: number): Promise<RoomLoadFigures>;
  /** Messages sent so far. */
  sent(): number;
}

type Outcome = 'acked' | 'timedOut' | 'refused' | 'unanswered';

const isTimeout = (answer: unknown) =>
  (answer as { error?: { code?: unknown } } | null)?.error?.code === 'TIMEOUT';

/** Joins every client to its room, then sends at `rate` until stopped. */
export async function startRoomLoad(options: RoomLoadOptions): Promise<RoomLoad> {
  const { sockets, rooms, roomPrefix } = options;
  const roomOf = (i: number) => `${roomPrefix}${i % rooms}`;
  await Promise.all(sockets.map((socket, i) => socket.emitWithAck('join', roomOf(i))));
  const members = Array.from({ length: rooms }, (_, r) => sockets.filter((_, i) => i % rooms === r).length);
  /** Per receiver: message id → times received. */
  const received = sockets.map(() => new Map<string, number>());
  sockets.forEach((socket, i) => {
    socket.on('room', (id: string) => received[i]!.set(id, (received[i]!.get(id) ?? 0) + 1));
  });
  const messages: { id: string; room: number; ack: Promise<Outcome> }[] = [];
  let maxAckMs = 0;
  let next = 0;
  let due = 0;
  const perTick = options.rate / 100;
  const timer = setInterval(() => {
    due += perTick;
    while (due >= 1 && messages.length < options.maxMessages) {
      due -= 1;
      const i = next++ % sockets.length;
      const id = `${i}:${messages.length}`;
      const sentAt = Date.now();
      const ack = sockets[i]!.timeout(options.ackTimeoutMs)
        .emitWithAck('room only', roomOf(i), id)
        .then(
          (answer: unknown) =>
            answer === true ? 'acked' : isTimeout(answer) ? 'timedOut' : ('refused' as const),
          () => 'unanswered' as const,
        )
        .finally(() => {
          maxAckMs = Math.max(maxAckMs, Date.now() - sentAt);
        });
      messages.push({ id, room: i % rooms, ack });
    }
  }, 10);

  return {
    sent: () => messages.length,
    async stop(drainMs) {
      clearInterval(timer);
      const acks = await Promise.all(messages.map((m) => m.ack));
      const missing = () => {
        let lost = 0;
        for (const m of messages) {
          sockets.forEach((_, i) => {
            if (i % rooms === m.room && !received[i]!.has(m.id)) lost++;
          });
        }
        return lost;
      };
      await until(
        async () => missing(),
        (lost) => lost === 0,
        drainMs,
      ).catch(() => undefined);
      let lostAcked = 0;
      messages.forEach((m, k) => {
        if (acks[k] !== 'acked') return;
        sockets.forEach((_, i) => {
          if (i % rooms === m.room && !received[i]!.has(m.id)) lostAcked++;
        });
      });
      const expected = messages.reduce((n, m) => n + members[m.room]!, 0);
      let delivered = 0;
      let duplicated = 0;
      for (const map of received) {
        for (const count of map.values()) {
          delivered++;
          duplicated += count - 1;
        }
      }
      return {
        sent: messages.length,
        acked: acks.filter((a) => a === 'acked').length,
        timedOut: acks.filter((a) => a === 'timedOut').length,
        refused: acks.filter((a) => a === 'refused').length,
        unanswered: acks.filter((a) => a === 'unanswered').length,
        expected,
        delivered,
        lost: missing(),
        lostAcked,
        duplicated,
        maxAckMs,
      };
    },
  };
}
