import type { AckError } from '@iocluster/shared';
import type { Socket } from 'socket.io';
import { TokenBucket } from './token-bucket.js';

/** Per-client bounds on what one connection may send. */
export interface ClientLimitsOptions {
  /** Events per second, sustained; 0: no limit. */
  eventRate: number;
  /** Events at once above the rate (bucket size). */
  eventBurst: number;
  /** Refused events within {@link ABUSE_WINDOW_MS} after which `onAbuse` is called; 0: never. */
  disconnectAfter: number;
  /** Largest event on the wire, binary attachments included. */
  maxPayloadBytes: number;
  /** The client kept sending past its rate: disconnect it. Called once per client. */
  onAbuse: (socket: Socket) => void;
}

/** The limits of one connected client. */
export interface ClientGuard {
  /**
   * Checks the event Socket.IO just dispatched: its size on the wire, then the client's rate. Returns
   * the refusal for the ack, or undefined to let it through.
   */
  check(): AckError | undefined;
}

/** Refusals are counted per window of this length for the disconnect decision. */
export const ABUSE_WINDOW_MS = 10_000;

interface EnginePacket {
  type: string;
  data?: unknown;
}

/**
 * Meters the Engine.IO packets of a client: Socket.IO dispatches an event synchronously once its last
 * packet (the last binary attachment, if any) arrived, so the bytes counted since the previous event are
 * exactly this event's, attachments included. Counting costs one addition per packet, no re-encoding.
 */
export function attachClientLimits(socket: Socket, options: ClientLimitsOptions): ClientGuard {
  let bytes = 0;
  socket.conn.on('packet', (packet: EnginePacket) => {
    if (packet.type !== 'message') return;
    const { data } = packet;
    if (typeof data === 'string') bytes += Buffer.byteLength(data);
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes += data.byteLength;
  });
  const bucket = options.eventRate > 0 ? new TokenBucket(options.eventRate, options.eventBurst) : undefined;
  let windowStart = 0;
  let refused = 0;
  let abused = false;

  return {
    check() {
      const size = bytes;
      bytes = 0;
      if (size > options.maxPayloadBytes) {
        return {
          code: 'PAYLOAD_TOO_LARGE',
          message: `event of ${size} bytes is over the limit of ${options.maxPayloadBytes}`,
        };
      }
      if (!bucket) return undefined;
      const now = performance.now();
      if (bucket.take(now)) return undefined;
      if (now - windowStart > ABUSE_WINDOW_MS) {
        windowStart = now;
        refused = 0;
      }
      refused++;
      if (options.disconnectAfter > 0 && refused >= options.disconnectAfter && !abused) {
        abused = true;
        options.onAbuse(socket);
      }
      return {
        code: 'RATE_LIMITED',
        message: `more than ${options.eventRate} events per second (burst ${options.eventBurst})`,
      };
    },
  };
}
