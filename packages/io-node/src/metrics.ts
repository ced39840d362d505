import type { ServerResponse } from 'node:http';
import { type Command, createProcessMetrics, createRateMeter, type RedisConnection } from '@iocluster/shared';
import { Counter, Gauge, Histogram } from 'prom-client';

/** Kinds of client events an io-node counts. */
export type ClientEventKind = 'connect' | 'event' | 'disconnect';

/**
 * An io-node's Prometheus metrics (see docs/operations.md for names and labels), on a registry of the
 * node's own. The composition root reports what happens; nothing here reaches into the node.
 */
export interface IoNodeMetrics {
  /** A client event was accepted into the node's queue. */
  event(kind: ClientEventKind): void;
  /** Client events accepted per second over the last few seconds (for the registry record). */
  eventsPerSecond(): number;
  /** An event's reply arrived `ms` after its batch was handed to the ingress queue. */
  answered(ms: number): void;
  /** `events` events were answered with TIMEOUT. */
  timedOut(events: number): void;
  /** A handshake was refused with `code` (the `connect_error`'s `data.code`; another error counts as `ERROR`). */
  handshakeRefused(code: unknown): void;
  /** A client event was refused at the door with `code` (RATE_LIMITED, PAYLOAD_TOO_LARGE...). */
  eventRefused(code: string): void;
  /** A command was read from the node's inbox `ms` after an app-node appended it. */
  inboxLag(ms: number): void;
  /** Counts a command applied, by `type`. */
  commandApplied(cmd: Command): void;
  /** Counts the connection's reconnects; returns the remover. */
  watchRedis(connection: RedisConnection, role: string): () => void;
  /** Answers `GET /metrics`. */
  serve(res: ServerResponse): Promise<void>;
}

/** Round trips from a few ms (idle) to the default 30 s event timeout. */
const ROUNDTRIP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Inbox lag from a fraction of a millisecond (idle) to a node that fell a minute behind. */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Refusal codes present from the start (zero), so alerts see a series before the first refusal. */
const HANDSHAKE_CODES = ['UNAUTHORIZED', 'TOKEN_EXPIRED', 'SERVER_FULL', 'RATE_LIMITED', 'NODE_CLOSING'];
const EVENT_CODES = ['RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'INVALID_EVENT', 'RESERVED_EVENT', 'OVERLOADED'];
/** Longest code kept as a label value: an `authenticate` hook's own codes are the application's. */
const MAX_CODE_LENGTH = 64;

/**
 * Command types counted by name; a custom command counts as `custom`. A record, so that a command type
 * added to the wire fails to compile until it is counted here.
 */
const COUNTED_COMMANDS: Record<Command['type'], true> = {
  emit: true,
  join: true,
  leave: true,
  'set-data': true,
  disconnect: true,
  reply: true,
  'sockets-join': true,
  'sockets-leave': true,
  'sockets-disconnect': true,
  'fetch-sockets': true,
  'emit-ack': true,
  custom: true,
};
const COMMAND_TYPES = Object.keys(COUNTED_COMMANDS) as Command['type'][];

/**
 * Creates the metrics of one io-node; `connections` and `presenceEntries` are read at each scrape.
 */
export function createIoNodeMetrics(connections: () => number, presenceEntries: () => number): IoNodeMetrics {
  const base = createProcessMetrics();
  const registers = [base.registry];
  new Gauge({
    name: 'iocluster_presence_members',
    help: 'Presence roster entries this io-node holds: one per connection per room joined with presence',
    registers,
    collect() {
      this.set(presenceEntries());
    },
  });
  new Gauge({
    name: 'iocluster_io_connections',
    help: 'Socket.IO clients connected to this io-node',
    registers,
    collect() {
      this.set(connections());
    },
  });
  const events = new Counter({
    name: 'iocluster_io_events_total',
    help: 'Client events accepted into the ingress queue, by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const roundtrip = new Histogram({
    name: 'iocluster_io_event_roundtrip_seconds',
    help: 'From handing an event to the ingress queue to its reply from an app-node',
    buckets: ROUNDTRIP_BUCKETS,
    registers,
  });
  const timeouts = new Counter({
    name: 'iocluster_io_ack_timeouts_total',
    help: 'Events answered with TIMEOUT because no app-node replied in time',
    registers,
  });
  const commands = new Counter({
    name: 'iocluster_io_commands_total',
    help: 'Commands from app-nodes applied by this io-node, by type',
    labelNames: ['type'] as const,
    registers,
  });
  const byCode = (name: string, help: string, codes: readonly string[]) => {
    const counter = new Counter({ name, help, labelNames: ['code'] as const, registers });
    for (const code of codes) counter.inc({ code }, 0);
    return counter;
  };
  const handshakesRefused = byCode(
    'iocluster_io_handshakes_refused_total',
    'Handshakes this io-node refused, by the code the client was told',
    HANDSHAKE_CODES,
  );
  const eventsRefused = byCode(
    'iocluster_io_events_refused_total',
    'Client events refused before the ingress queue (rate limit, size, bad name, overload), by code',
    EVENT_CODES,
  );
  const inboxLag = new Histogram({
    name: 'iocluster_io_inbox_lag_seconds',
    help: 'From an app-node appending a command to this io-node reading it from its inbox',
    buckets: LAG_BUCKETS,
    registers,
  });
  // Every label value present from the start: a rate() over a series that appears late misses its first step.
  // Their children are kept: each event and command counted without prom-client's label lookup.
  const eventsByKind = new Map(
    (['connect', 'event', 'disconnect'] as const).map((kind) => [kind, events.labels({ kind })] as const),
  );
  const commandsByType = new Map(COMMAND_TYPES.map((type) => [type, commands.labels({ type })] as const));
  for (const child of [...eventsByKind.values(), ...commandsByType.values()]) child.inc(0);

  const rate = createRateMeter();

  return {
    event(kind) {
      eventsByKind.get(kind)!.inc();
      rate.mark();
    },
    eventsPerSecond: () => rate.perSecond(),
    answered: (ms) => roundtrip.observe(ms / 1000),
    timedOut: (n) => timeouts.inc(n),
    handshakeRefused(code) {
      const label = typeof code === 'string' && code !== '' ? code.slice(0, MAX_CODE_LENGTH) : 'ERROR';
      handshakesRefused.inc({ code: label });
    },
    eventRefused: (code) => eventsRefused.inc({ code: code.slice(0, MAX_CODE_LENGTH) }),
    inboxLag: (ms) => inboxLag.observe(ms / 1000),
    commandApplied: (cmd) => commandsByType.get(cmd.type)!.inc(),
    watchRedis: base.watchRedis,
    serve: base.serve,
  };
}
