import type { BalanceStrategy, SocketIoParser } from '@iocluster/shared';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import * as msgpackParser from 'socket.io-msgpack-parser';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Base URL of the frontend, where `/api/connect` is asked; in a page served by it, `location.origin`. */
  frontendUrl: string;
  /** Strategy the frontend picks a node with. @defaultValue the frontend's own (`FRONTEND_STRATEGY`) */
  strategy?: BalanceStrategy;
  /**
   * Connect through the frontend's Socket.IO reverse proxy (`FRONTEND_PROXY=on`) instead of to the node
   * `/api/connect` names: for io-nodes browsers cannot reach (containers, private networks). The frontend
   * then picks the node itself, so the client cannot tell which one: `nodeId` is {@link PROXY_NODE_ID}
   * and `node-changed` is not raised (the application can tell the client, as the chat example's
   * `welcome` does). The Socket.IO `path` must be the frontend's `FRONTEND_PROXY_PATH`.
   * @defaultValue false
   */
  proxy?: boolean;
  /**
   * socket.io-client options for every connection (`auth`, `path`, `transports`, `query`...).
   * `reconnection`, `forceNew` and `autoConnect` belong to this client and are overridden; `auth` may be a
   * function, asked again on every connection (a good place for state the server should restore).
   * @defaultValue `{ transports: ['websocket'] }`: no sticky sessions needed in front of the io-nodes
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * Socket.IO packet encoding; must be the io-nodes' (`SOCKETIO_PARSER`): a client on the other one cannot
   * connect. `msgpack` uses socket.io-msgpack-parser. @defaultValue 'default'
   */
  parser?: SocketIoParser;
  /**
   * Connection state recovery (docs/recovery.md): the client keeps its session and the last position it
   * saw in each room with history, and after a reconnection — to any io-node, within the cluster's
   * recovery window — gets back its rooms, data and the room messages it missed (then `recovered` is
   * raised). Events sent and not yet answered when the connection dropped are sent again, with their id,
   * and run once if their first run finished. Off: a reconnection starts afresh, and `emitWithAck`s in
   * flight reject with `DISCONNECTED`. @defaultValue true
   */
  recovery?: boolean;
  /** Connection attempts in one cycle before `unavailable` is raised. @defaultValue 8 */
  maxAttempts?: number;
  /** First retry waits a random part of this; later ones double from it. @defaultValue 250 */
  backoffMinMs?: number;
  /** Longest wait between two attempts of a cycle. @defaultValue 5000 */
  backoffMaxMs?: number;
  /** Wait between a failed cycle and the next one. @defaultValue 15000 */
  cyclePauseMs?: number;
  /**
   * Start another cycle after one failed; when off, the client stops (queued emits are rejected with
   * `UNAVAILABLE`) until `connect()` is called. @defaultValue true
   */
  retryForever?: boolean;
  /**
   * A connection that stays up this long resets the attempt count; a node that accepts and then drops
   * clients at once therefore slows the client down instead of making it spin. @defaultValue 5000
   */
  stableAfterMs?: number;
  /** Timeout of a discovery request and of a Socket.IO handshake. @defaultValue 5000 */
  connectTimeoutMs?: number;
  /** `emitWithAck` rejects with `TIMEOUT` after this (queue time included); 0 for no limit. @defaultValue 0 */
  ackTimeoutMs?: number;
  /** Emits kept while (re)connecting; one more throws (or rejects) with `QUEUE_FULL`. @defaultValue 1000 */
  maxQueued?: number;
  /**
   * Supplies the JWT for io-nodes with `AUTH_JWT_*` set: asked before every connection (sent as handshake
   * `auth.token`), whenever the server announces the current one expires (`$token:expiring`; the fresh
   * token goes out on `$token:refresh` without reconnecting, one refresh at a time), and once after a
   * handshake refused for its token (`unauthorized`): the client connects again only with a different
   * token. @defaultValue no token
   */
  getToken?: () => string | Promise<string>;
  /** Connect at once; otherwise call `connect()`. @defaultValue true */
  autoConnect?: boolean;
  /** `fetch` used for discovery (tests, polyfills). @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
}

const DEFAULTS = {
  strategy: undefined,
  proxy: false,
  socketOptions: {},
  parser: 'default',
  recovery: true,
  maxAttempts: 8,
  backoffMinMs: 250,
  backoffMaxMs: 5_000,
  cyclePauseMs: 15_000,
  retryForever: true,
  stableAfterMs: 5_000,
  connectTimeoutMs: 5_000,
  ackTimeoutMs: 0,
  maxQueued: 1_000,
  autoConnect: true,
} as const;

/** Options with every default applied. */
export type ResolvedOptions = Required<Omit<ClientOptions, 'strategy' | 'getToken'>> & {
  strategy: BalanceStrategy | undefined;
  getToken: (() => string | Promise<string>) | undefined;
};

/** Applies the defaults and validates; throws a TypeError naming the option that is wrong. */
export function resolveClientOptions(options: ClientOptions): ResolvedOptions {
  if (typeof options?.frontendUrl !== 'string' || !/^https?:\/\//.test(options.frontendUrl)) {
    throw new TypeError(
      `ClientOptions.frontendUrl must be an http(s) URL, got ${JSON.stringify(options?.frontendUrl)}`,
    );
  }
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  merged.fetch ??= globalThis.fetch?.bind(globalThis);
  const opts = merged as ResolvedOptions;
  for (const name of [
    'maxAttempts',
    'backoffMinMs',
    'backoffMaxMs',
    'cyclePauseMs',
    'connectTimeoutMs',
  ] as const) {
    assertInteger(name, opts[name], 1);
  }
  for (const name of ['stableAfterMs', 'ackTimeoutMs', 'maxQueued'] as const) {
    assertInteger(name, opts[name], 0);
  }
  if (opts.parser !== 'default' && opts.parser !== 'msgpack') {
    throw new TypeError(
      `ClientOptions.parser must be 'default' or 'msgpack', got ${JSON.stringify(opts.parser)}`,
    );
  }
  if (opts.parser === 'msgpack') opts.socketOptions = { parser: msgpackParser, ...opts.socketOptions };
  if (opts.getToken !== undefined && typeof opts.getToken !== 'function') {
    throw new TypeError('ClientOptions.getToken must be a function');
  }
  if (typeof opts.fetch !== 'function') {
    throw new TypeError('ClientOptions.fetch is required where there is no global fetch');
  }
  return opts;
}

function assertInteger(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`ClientOptions.${name} must be an integer of at least ${min}, got ${String(value)}`);
  }
}
