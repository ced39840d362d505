/** Stable codes of the errors the client raises or rejects with. */
export type ClientErrorCode =
  /** The frontend answered that no io-node is alive (HTTP 503 `NO_IO_NODES`). */
  | 'NO_IO_NODES'
  /** The frontend could not be reached (network error or timeout). */
  | 'FRONTEND_UNREACHABLE'
  /** The frontend answered something other than a node (bad status or body). */
  | 'DISCOVERY_FAILED'
  /** The chosen io-node refused or did not answer the Socket.IO handshake. */
  | 'CONNECT_FAILED'
  /** An attempt cycle ended without a connection (`maxAttempts` reached). */
  | 'UNAVAILABLE'
  /** The connection dropped while an `emitWithAck` was waiting for its answer. */
  | 'DISCONNECTED'
  /** No answer within `ackTimeoutMs`. */
  | 'TIMEOUT'
  /** More than `maxQueued` emits were waiting for a connection. */
  | 'QUEUE_FULL'
  /** `close()` was called. */
  | 'CLOSED'
  /** The server refused a channel request or a token refresh; `serverCode` says why (FORBIDDEN...). */
  | 'REFUSED'
  /** The io-nodes refused the connection's credentials (an invalid token, say); `serverCode` too. */
  | 'UNAUTHORIZED'
  /** The io-nodes refused the connection's token as expired; `serverCode` too. */
  | 'TOKEN_EXPIRED';

/** Server codes of a handshake refused for its credentials: retrying with the same ones cannot help. */
const AUTH_REFUSALS: ReadonlySet<string> = new Set(['UNAUTHORIZED', 'TOKEN_EXPIRED']);

/** An error of the client library: `name`, a stable `code` and an optional `cause`. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** The server's code, when the server refused something (`UNAUTHORIZED`, `SERVER_FULL`, `FORBIDDEN`...). */
  readonly serverCode: string | undefined;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown; serverCode?: string }) {
    super(message, options);
    this.name = 'ClientError';
    this.code = code;
    this.serverCode = options?.serverCode;
  }
}

/** A handshake refused for its credentials, as the error the application gets; undefined for others. */
export function authRefusal(err: unknown): ClientError | undefined {
  if (!(err instanceof ClientError) || err.code !== 'CONNECT_FAILED') return undefined;
  const code = err.serverCode;
  if (code === undefined || !AUTH_REFUSALS.has(code)) return undefined;
  return new ClientError(code as 'UNAUTHORIZED' | 'TOKEN_EXPIRED', err.message, {
    cause: err,
    serverCode: code,
  });
}
