import {
  POSITION_EVENT,
  POSITIONED_EVENT,
  RECOVERED_EVENT,
  type RecoveryHandshake,
  type RecoveryReport,
  SESSION_EVENT,
} from '@iocluster/shared/protocol';

/**
 * The client's half of connection state recovery (docs/recovery.md): the session the io-node gave it,
 * the last position it received in each room with history, and ids for its events. Sent in the handshake
 * of every reconnection, to whichever io-node; the io-node answers with the messages missed meanwhile
 * and a `$recovered` report.
 */

/** Rooms whose positions are kept at most (the oldest is dropped past it). */
const MAX_ROOMS = 10_000;

/** What an incoming event turned out to be. */
export type Incoming =
  | { kind: 'app'; event: string; args: unknown[] }
  | { kind: 'recovered'; report: RecoveryReport }
  | { kind: 'internal' };

export class RecoveryState {
  private session: string | undefined;
  private readonly positions = new Map<string, [epoch: string, offset: number]>();
  private nextEid = 0;

  /** The handshake's `auth.iocluster`. */
  handshake(): RecoveryHandshake {
    return {
      v: 1,
      ...(this.session ? { session: this.session } : {}),
      positions: [...this.positions].map(([room, [epoch, offset]]) => [room, epoch, offset]),
    };
  }

  /** A fresh id for an event. */
  eid(): string {
    return (this.nextEid++).toString(36);
  }

  /** The position last seen in a room, if it keeps history. */
  position(room: string): { epoch: string; offset: number } | undefined {
    const known = this.positions.get(room);
    return known ? { epoch: known[0], offset: known[1] } : undefined;
  }

  /** Sorts an incoming event: the protocol's own are consumed, `$h` is unwrapped for the application. */
  receive(event: string, args: unknown[]): Incoming {
    switch (event) {
      case SESSION_EVENT:
        if (typeof args[0] === 'string') this.session = args[0];
        return { kind: 'internal' };
      case POSITION_EVENT: {
        const [room, epoch, offset] = args;
        if (typeof room === 'string' && typeof epoch === 'string' && typeof offset === 'number') {
          this.advance(room, epoch, offset);
        }
        return { kind: 'internal' };
      }
      case POSITIONED_EVENT: {
        const [room, epoch, offset, name, ...rest] = args;
        if (typeof room !== 'string' || typeof epoch !== 'string' || typeof offset !== 'number') {
          return { kind: 'internal' };
        }
        this.advance(room, epoch, offset);
        return typeof name === 'string' ? { kind: 'app', event: name, args: rest } : { kind: 'internal' };
      }
      case RECOVERED_EVENT:
        return { kind: 'recovered', report: args[0] as RecoveryReport };
      default:
        return { kind: 'app', event, args };
    }
  }

  /**
   * Positions only move forward within an epoch (an io-node delivers a room's messages in order);
   * another epoch replaces them.
   */
  private advance(room: string, epoch: string, offset: number): void {
    const known = this.positions.get(room);
    if (known && known[0] === epoch && known[1] >= offset) return;
    this.positions.delete(room);
    this.positions.set(room, [epoch, offset]);
    if (this.positions.size > MAX_ROOMS) this.positions.delete(this.positions.keys().next().value!);
  }
}
