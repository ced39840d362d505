import {
  type AckError,
  CLIENT_REQUEST_EVENTS,
  encodeBinary,
  hasBinary,
  IDENTIFIED_EVENT,
  RESERVED_EVENTS,
  RESERVED_PREFIX,
  TOKEN_REFRESH_EVENT,
} from '@iocluster/shared';
import type { Socket } from 'socket.io';
import type { ClientGuard } from './client-limits.js';
import type { AckFn, EventSequencer } from './event-sequencer.js';
import type { QueueGuard } from './queue-guard.js';
import type { RefreshAck, TokenSessions } from './token-sessions.js';

const MAX_EVENT_NAME_LENGTH = 256;

/** What the gateway hands a client's events to. */
export interface GatewayDeps {
  sequencer: EventSequencer;
  guard: ClientGuard;
  queue: QueueGuard;
  tokens: TokenSessions | undefined;
  /** Unwraps `$e` (an event with an id); null when its arguments are malformed. */
  unwrap: (args: unknown[]) => { eid: string; resent: boolean; name: unknown; args: unknown[] } | null;
  /** Called for each event handed to the sequencer. */
  accepted: () => void;
  /** Called for each event refused here, with the code the client is answered. */
  refused: (code: string) => void;
}

/**
 * The io-node's door for a connected client's events, in this order: the client's limits
 * (PAYLOAD_TOO_LARGE, RATE_LIMITED), `$e` unwrapped (the event inside carries its id), a well-formed
 * name (INVALID_EVENT), reserved names (`$token:refresh` handled here; channel events, `$history` and
 * `$presence` go on like events; other `$` names and lifecycle names are RESERVED_EVENT), the queue
 * bound (OVERLOADED), then the sequencer, which takes it to the ingress queue in order.
 */
export function attachGateway(socket: Socket, deps: GatewayDeps): void {
  const { sequencer, guard, queue, tokens } = deps;
  socket.onAny((rawName: unknown, ...rawArgs: unknown[]) => {
    let name = rawName;
    let args = rawArgs;
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
    const refuse = (error: AckError) => {
      deps.refused(error.code);
      ack?.({ error });
    };
    // First, for every event: the guard's size meter takes one entry per event dispatched.
    const limited = guard.check(args, rawName === TOKEN_REFRESH_EVENT ? 'refresh' : 'event');
    if (limited) return refuse(limited);
    let identity: { eid: string; resent: boolean } | undefined;
    if (name === IDENTIFIED_EVENT) {
      const unwrapped = deps.unwrap(args);
      if (!unwrapped) {
        return refuse({
          code: 'INVALID_EVENT',
          message: `${IDENTIFIED_EVENT} takes (eid, resent, event, ...args)`,
        });
      }
      ({ name, args } = unwrapped);
      identity = unwrapped;
    }
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_EVENT_NAME_LENGTH) {
      return refuse({ code: 'INVALID_EVENT', message: 'event name must be a string of 1-256 characters' });
    }
    if (name === TOKEN_REFRESH_EVENT && tokens) return tokens.refresh(socket, args[0], ack as RefreshAck);
    if (RESERVED_EVENTS.has(name) || (name.startsWith(RESERVED_PREFIX) && !CLIENT_REQUEST_EVENTS.has(name))) {
      return refuse({ code: 'RESERVED_EVENT', message: `"${name}" is reserved and cannot be emitted` });
    }
    if (queue.overloaded) {
      return refuse({ code: 'OVERLOADED', message: 'the cluster is overloaded; try again shortly' });
    }
    const bin = hasBinary(args);
    if (
      sequencer.event(socket.id, name, bin ? (encodeBinary(args) as unknown[]) : args, bin, ack, identity)
    ) {
      deps.accepted();
    }
  });
}
