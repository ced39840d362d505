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

/**
 * What a client sent: an event (held to the client's event rate) or a token refresh (`$token:refresh`,
 * held to its own bound, so renewing a short-lived token never costs the client its events).
 */
export type GuardedKind = 'event' | 'refresh';

/** The limits of one connected client. */
export interface ClientGuard {
  /**
   * Checks the event Socket.IO just dispatched: its size on the wire and its nesting, then the client's
   * rate for its kind. Returns the refusal for the ack, or undefined to let it through.
   */
  check(args: readonly unknown[], kind?: GuardedKind): AckError | undefined;
}

/** Refusals are counted per window of this length for the disconnect decision. */
export const ABUSE_WINDOW_MS = 10_000;

/**
 * Deepest nesting of an event's arguments. JSON.stringify recurses, and V8 runs out of stack near 5000
 * levels: an event nested that deep could be parsed but never enqueued.
 */
export const MAX_PAYLOAD_DEPTH = 256;

/**
 * How long the io-node stops reading a WebSocket client that ran out of tokens. Refusing costs a parse
 * and an ack per event; not reading costs nothing, and TCP pushes back on the sender. A resumed reader
 * takes one socket chunk (64 KB, some hundreds of small events) before it pauses again.
 */
export const RATE_PAUSE_MS = 250;

/**
 * Token refreshes a client may send: this many at once, then one per second. A client renewing a token
 * at half its lifetime sends one every few seconds at most; each refresh costs the node a signature check.
 */
export const REFRESH_BURST = 5;
export const REFRESH_RATE_PER_S = 1;

/** Event sizes kept waiting for their dispatch; a bound against a client that desynchronises the meter. */
const MAX_METERED = 1_024;

/** The `ws` WebSocket under Engine.IO's websocket transport. */
interface Pausable {
  pause?: () => void;
  resume?: () => void;
}

interface EnginePacket {
  type: string;
  data?: unknown;
}

/**
 * Meters the Engine.IO packets of a client. Socket.IO dispatches events on a later tick than their
 * packets arrive, so several packets may be counted before the first event is checked: sizes are queued
 * per event packet of namespace `/` (`2...`, or `5<n>-...` followed by its binary attachments) and
 * taken in order by `check()`, which sees events in the same order. Packets for other namespaces are
 * dropped by Socket.IO without a dispatch, so they are not queued. Counting costs one byte-length per
 * packet, no re-encoding.
 */
export function attachClientLimits(socket: Socket, options: ClientLimitsOptions): ClientGuard {
  const sizes: number[] = [];
  let attachments = false;
  socket.conn.on('packet', (packet: EnginePacket) => {
    if (packet.type !== 'message') return;
    const { data } = packet;
    if (typeof data === 'string') {
      attachments = false;
      const type = data[0];
      const nsp = type === '5' ? data[data.indexOf('-') + 1] : data[1];
      if ((type === '2' || type === '5') && nsp !== '/') {
        sizes.push(Buffer.byteLength(data));
        attachments = type === '5';
        // Never reached by a well-behaved client: at most a few events wait for their tick.
        if (sizes.length > MAX_METERED) sizes.splice(0, sizes.length - MAX_METERED);
      }
    } else if (attachments && sizes.length > 0 && (data instanceof ArrayBuffer || ArrayBuffer.isView(data))) {
      sizes[sizes.length - 1]! += data.byteLength;
    }
  });
  let paused: NodeJS.Timeout | undefined;
  let resumeNow: (() => void) | undefined;
  // Reading again at once: the WebSocket closing handshake needs the client's close frame.
  socket.once('disconnect', () => {
    clearTimeout(paused);
    resumeNow?.();
  });
  /** Stops reading the client's WebSocket for a while (polling clients are refused, not paused). */
  function pauseReading(): void {
    const ws = (socket.conn as unknown as { transport?: { socket?: Pausable } }).transport?.socket;
    const resume = ws?.resume?.bind(ws);
    if (paused || typeof ws?.pause !== 'function' || !resume) return;
    ws.pause();
    resumeNow = resume;
    paused = setTimeout(() => {
      paused = undefined;
      resumeNow = undefined;
      resume();
    }, RATE_PAUSE_MS);
    paused.unref();
  }
  const bucket = options.eventRate > 0 ? new TokenBucket(options.eventRate, options.eventBurst) : undefined;
  const refreshes = new TokenBucket(REFRESH_RATE_PER_S, REFRESH_BURST);
  let windowStart = 0;
  let refused = 0;
  let abused = false;

  return {
    check(args, kind = 'event') {
      const size = sizes.shift() ?? 0;
      if (size > options.maxPayloadBytes) {
        return {
          code: 'PAYLOAD_TOO_LARGE',
          message: `event of ${size} bytes is over the limit of ${options.maxPayloadBytes}`,
        };
      }
      if (deeperThan(args, MAX_PAYLOAD_DEPTH)) {
        return {
          code: 'PAYLOAD_TOO_LARGE',
          message: `event nested more than ${MAX_PAYLOAD_DEPTH} levels deep`,
        };
      }
      const limit = kind === 'refresh' ? refreshes : bucket;
      if (!limit) return undefined;
      const now = performance.now();
      if (limit.take(now)) return undefined;
      if (now - windowStart > ABUSE_WINDOW_MS) {
        windowStart = now;
        refused = 0;
      }
      refused++;
      pauseReading();
      if (options.disconnectAfter > 0 && refused >= options.disconnectAfter && !abused) {
        abused = true;
        options.onAbuse(socket);
      }
      return {
        code: 'RATE_LIMITED',
        message:
          kind === 'refresh'
            ? `more than ${REFRESH_RATE_PER_S} token refresh per second (burst ${REFRESH_BURST})`
            : `more than ${options.eventRate} events per second (burst ${options.eventBurst})`,
      };
    },
  };
}

/** Whether `root` nests objects or arrays more than `max` levels deep; iterative, so any depth is safe. */
function deeperThan(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}
