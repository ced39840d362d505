import type { HistogramSnapshot } from './histogram.js';

/** One client a generator process runs. Every member of a room lives in the same generator. */
export interface ClientPlan {
  url: string;
  /** Socket.IO parser: the server's (`SOCKETIO_PARSER` for iocluster). */
  parser: 'default' | 'msgpack';
  /** Room to join, or null for an idle client (memory probe). */
  room: string | null;
  /** Members of that room, the client included: deliveries expected per message sent to it. */
  roomSize: number;
  /** Position of the client in its room (0..roomSize-1): its slot in the delivery bitmap. */
  pos: number;
  /**
   * Connect with `@iocluster/client` through this frontend instead of socket.io-client to `url`: the
   * client moves to another io-node when its own goes away, recovers its rooms and the messages it
   * missed, and sends unanswered events again (the chaos suite).
   */
  frontendUrl?: string;
}

/** Parent → generator. Every request carries an id its answer repeats. */
export type GeneratorRequest =
  | { type: 'connect'; id: number; clients: ClientPlan[]; concurrency: number; timeoutMs: number }
  | {
      type: 'step';
      id: number;
      /** Tag of this step (0-4095), part of every mid: a delivery from another step is counted as late. */
      tag: number;
      /**
       * Messages this generator sends during the step, round-robin over its clients at even intervals:
       * every client sends at the same rate, phases spread evenly.
       */
      count: number;
      durationMs: number;
      drainMs: number;
      /** Wall-clock time (ms since epoch) at which sending starts, the same for every generator. */
      startAt: number;
      /**
       * `chat`: each send is a room message, counted by its deliveries; `rpc`: each send is an `rpc`
       * event whose ack is the one delivery (latency = ack time − send time).
       */
      mode: 'chat' | 'rpc';
      /** Fraction of one send interval this generator's schedule is shifted by, so generators interleave. */
      phase: number;
      /** A delivery slower than this (ms) sets `lastSlowAt` (the chaos suite's time to recover). */
      slowMs?: number;
    }
  | { type: 'disconnect'; id: number }
  | { type: 'exit'; id: number };

export interface StepResult {
  sent: number;
  acked: number;
  /** Acks that carried an error, by code. */
  ackErrors: Record<string, number>;
  expected: number;
  /** Distinct (message, receiver) pairs that arrived. */
  delivered: number;
  duplicates: number;
  /** Deliveries of messages from an earlier step. */
  late: number;
  /** Deliveries to a client outside the message's room, or of a mid no one sent. */
  misrouted: number;
  latency: HistogramSnapshot;
  /** How late the generator sent messages against their schedule, µs. */
  sendLag: HistogramSnapshot;
  /** Epoch ms of the first and last send and of the last delivery. */
  firstSendAt: number;
  lastSendAt: number;
  lastDeliveryAt: number;
  /** Event-loop utilization of the generator over the step (0..1): near 1 means it could not keep up. */
  eventLoopUtilization: number;
  /** Epoch ms of the last delivery slower than the step's `slowMs` (0: none, or no `slowMs`). */
  lastSlowAt: number;
  /** Times `@iocluster/client` clients lost their io-node during the step, and recovered sessions. */
  reconnects: number;
  recovered: number;
}

export interface ConnectResult {
  connected: number;
  joined: number;
  ms: number;
}

/** Generator → parent. */
export type GeneratorResponse =
  | { type: 'ok'; id: number; result?: ConnectResult | StepResult }
  | { type: 'error'; id: number; message: string };
