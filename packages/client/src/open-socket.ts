import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { ClientError } from './errors.js';
import type { NodeTarget } from './events.js';

/** How to open one connection. */
export interface OpenSocketOptions {
  readonly target: NodeTarget;
  readonly connectTimeoutMs: number;
  readonly socketOptions: Partial<ManagerOptions & SocketOptions>;
  /** Handshake `auth` of this connection (the token included), when there is one. */
  readonly auth: Record<string, unknown> | undefined;
  readonly signal: AbortSignal;
  /** Every event the server sends, from the very first (listened to before connecting). */
  readonly onEvent: (socket: Socket, event: string, args: unknown[]) => void;
}

/**
 * Opens one socket.io-client connection to one node, without its own reconnection; resolves with the
 * connected socket, rejects with `CONNECT_FAILED` (and the server's `data.code` as `serverCode`:
 * UNAUTHORIZED, SERVER_FULL...) or `CLOSED` when `signal` aborts first.
 */
export function openSocket(options: OpenSocketOptions): Promise<Socket> {
  const { target, signal, auth } = options;
  // The origin only: socket.io-client would read a path in the URL as a namespace.
  const socket = io(new URL(target.url).origin, {
    transports: ['websocket'],
    timeout: options.connectTimeoutMs,
    ...options.socketOptions,
    ...(auth ? { auth } : {}),
    reconnection: false,
    forceNew: true,
    autoConnect: false,
  });
  // Before connecting: an event the server sends right in its `connection` handler is not missed.
  socket.onAny((event: string, ...args: unknown[]) => options.onEvent(socket, event, args));
  return new Promise<Socket>((resolve, reject) => {
    const settle = () => {
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = () => {
      settle();
      resolve(socket);
    };
    const onError = (err: Error & { data?: { code?: unknown } }) => {
      settle();
      socket.disconnect();
      const code = err.data?.code;
      reject(
        new ClientError('CONNECT_FAILED', `${target.url} (${target.nodeId}): ${err.message}`, {
          cause: err,
          serverCode: typeof code === 'string' ? code : undefined,
        }),
      );
    };
    const onAbort = () => {
      settle();
      socket.disconnect();
      reject(new ClientError('CLOSED', 'the client was closed while connecting'));
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
    signal.addEventListener('abort', onAbort);
    socket.connect();
  });
}
