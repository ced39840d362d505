import { WireError } from '../errors.js';
import { array, integer, nonEmptyString, object, string, version } from './check.js';
import { type ClientInfo, type ClientRef, decodeBatchClient } from './client-info.js';
import { decodeOccupancyChange, OCCUPIED_EVENT, type OccupancyChange, VACATED_EVENT } from './occupancy.js';
import { decodePresenceChange, PRESENCE_EVENT, type PresenceChange } from './presence.js';

export const INGRESS_VERSION = 1;

/** Event names the app-node API gives its own meaning to; clients may not emit them. */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  'connection',
  'connect',
  'disconnect',
  'disconnecting',
  'no-client',
  'error',
  PRESENCE_EVENT,
  OCCUPIED_EVENT,
  VACATED_EVENT,
]);

/**
 * One thing that happened to a client, numbered by the io-node (`seq`, increasing per client).
 * Every event is answered by exactly one `reply` command carrying its `seq`, which is what lets the
 * io-node release the client's next events in order.
 */
export type IngressEvent =
  | {
      seq: number;
      kind: 'connect';
      /** Set when the client came back within the recovery window: rooms and data are restored. */
      recovery?: { previousId: string };
    }
  | {
      seq: number;
      kind: 'event';
      /** Event name the client emitted. */
      name: string;
      /** Arguments, without the ack callback; binary encoded when `bin`. */
      args: unknown[];
      /** Whether the client passed an ack callback (the reply's result then reaches it). */
      ack: boolean;
      bin?: true;
      /** Id the client gave the event (`@iocluster/client`), unique within its session. */
      eid?: string;
      /** The client sent it again after a reconnect: answer from the first run if there was one. */
      resent?: true;
    }
  | { seq: number; kind: 'disconnect'; reason: string };

/** A client's state (or its version) and its events, in the order they happened. */
export interface ClientBatch {
  /**
   * The client's state inline (always on a connect, a disconnect, and the first batch after a change;
   * always from io-nodes older than versioned state), or its version when the state was stored for
   * app-nodes to read.
   */
  client: ClientInfo | ClientRef;
  events: IngressEvent[];
  /**
   * When the io-node will stop waiting for these events' replies (ms since epoch, its clock, less
   * {@link deadlineMarginMs}) and send the client's next events: a handler still running then must be
   * answered TIMEOUT and cut off, or it would run beside the next one. Absent: no deadline.
   */
  deadline?: number;
}

/**
 * How much earlier than its event timeout an io-node asks app-nodes to answer: time for the reply to reach
 * it and for the clocks of two hosts to differ. A tenth of the timeout, at most 1 s.
 */
export function deadlineMarginMs(eventTimeoutMs: number): number {
  return Math.min(1_000, Math.floor(eventTimeoutMs / 10));
}

/** Payload of one ingress job: events of one or more clients of one io-node. */
export interface IngressJob {
  v: typeof INGRESS_VERSION;
  nodeId: string;
  batches: ClientBatch[];
  /** Presence changes decided on that io-node (or by it, purging a dead one); no client sequence. */
  presence?: PresenceChange[];
  /** Rooms occupied or vacated, as decided on that io-node (or by it, purging a dead one). */
  occupancy?: OccupancyChange[];
}

function decodeEvent(value: unknown, path: string): IngressEvent {
  const v = object(value, path);
  const seq = integer(v.seq, `${path}.seq`);
  switch (v.kind) {
    case 'connect': {
      const event: IngressEvent = { seq, kind: 'connect' };
      if (v.recovery !== undefined) {
        const recovery = object(v.recovery, `${path}.recovery`);
        event.recovery = { previousId: nonEmptyString(recovery.previousId, `${path}.recovery.previousId`) };
      }
      return event;
    }
    case 'disconnect':
      return { seq, kind: 'disconnect', reason: string(v.reason, `${path}.reason`) };
    case 'event': {
      const event: IngressEvent = {
        seq,
        kind: 'event',
        name: nonEmptyString(v.name, `${path}.name`),
        args: array(v.args, `${path}.args`),
        ack: v.ack === true,
      };
      if (v.bin === true) event.bin = true;
      if (v.eid !== undefined) event.eid = nonEmptyString(v.eid, `${path}.eid`, 128);
      if (v.resent === true) event.resent = true;
      return event;
    }
    default:
      throw new WireError(`${path}.kind must be connect, event or disconnect`);
  }
}

/** Validates an ingress job payload; throws {@link WireError} naming the first bad field. */
export function decodeIngressJob(value: unknown): IngressJob {
  const v = object(value, 'job');
  version(v.v, INGRESS_VERSION, 'job');
  const batches = array(v.batches, 'job.batches').map((batch, i) => {
    const b = object(batch, `job.batches[${i}]`);
    const decoded: ClientBatch = {
      client: decodeBatchClient(b.client, `job.batches[${i}].client`),
      events: array(b.events, `job.batches[${i}].events`).map((e, j) =>
        decodeEvent(e, `job.batches[${i}].events[${j}]`),
      ),
    };
    if (b.deadline !== undefined) decoded.deadline = integer(b.deadline, `job.batches[${i}].deadline`);
    return decoded;
  });
  const job: IngressJob = { v: INGRESS_VERSION, nodeId: nonEmptyString(v.nodeId, 'job.nodeId'), batches };
  if (v.presence !== undefined) {
    job.presence = array(v.presence, 'job.presence').map((c, i) =>
      decodePresenceChange(c, `job.presence[${i}]`),
    );
  }
  if (v.occupancy !== undefined) {
    job.occupancy = array(v.occupancy, 'job.occupancy').map((c, i) =>
      decodeOccupancyChange(c, `job.occupancy[${i}]`),
    );
  }
  return job;
}
