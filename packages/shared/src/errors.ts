/** Stable error codes: anything that reaches a client or another node carries one of these. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'WIRE_INVALID'
  | 'HANDLER_ERROR'
  | 'NO_HANDLER'
  | 'TIMEOUT'
  | 'RESERVED_EVENT'
  | 'NODE_CLOSING'
  | 'OVERLOADED'
  | 'INVALID_EVENT'
  | 'REDIS_UNAVAILABLE'
  | 'BAD_REQUEST'
  | 'FORBIDDEN'
  | 'WORKER_FAILED'
  | 'UNAUTHORIZED'
  | 'TOKEN_EXPIRED'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'SERVER_FULL'
  | 'USER_CONNECTION_LIMIT'
  | 'ACK_TIMEOUT'
  | 'DISCONNECTED'
  | 'REPLICATION_TIMEOUT'
  /** An idempotent request whose first run has not finished yet: retry it shortly. */
  | 'IN_PROGRESS';

/** Base of every error iocluster throws on purpose: a `name`, a stable `code` and an optional `cause`. */
export class IoclusterError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IoclusterError';
    this.code = code;
  }
}

/** A configuration value (environment variable or option) is missing or malformed. */
export class ConfigError extends IoclusterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
    this.name = 'ConfigError';
  }
}

/** A message from another node (job payload, command envelope) does not match the wire types. */
export class WireError extends IoclusterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WIRE_INVALID', message, options);
    this.name = 'WireError';
  }
}

/** The error object a client's ack receives when its event failed: `{ error: { code, message } }`. */
export interface AckError {
  code: string;
  message: string;
}

/**
 * An error for Socket.IO's handshake middleware: the client's `connect_error` carries its message and
 * `data: { code }`, which is how clients tell UNAUTHORIZED from SERVER_FULL.
 */
export function refusal(code: ErrorCode, message: string): IoclusterError & { data: { code: ErrorCode } } {
  return Object.assign(new IoclusterError(code, message), { data: { code } });
}

/** Turns anything a handler threw into the `{ code, message }` a client sees. */
export function toAckError(err: unknown, fallbackCode: ErrorCode = 'HANDLER_ERROR'): AckError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' && code.length > 0 ? code : fallbackCode, message: err.message };
  }
  return { code: fallbackCode, message: typeof err === 'string' ? err : 'handler failed' };
}

/** True for the errors ioredis/node report when Redis is briefly unreachable: retried, not a bug. */
/**
 * A Redis Cluster's MOVED or ASK: the command's slot is served by another node (a failover, a reshard),
 * and the command did not run.
 */
export function isRedirectError(err: unknown): boolean {
  return err instanceof Error && /^(MOVED|ASK) /.test(err.message);
}

export function isTransientRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  // Too few replicas had the write in time (replica-wait.ts): a failover may be under way; write again.
  if (err instanceof IoclusterError && code === 'REPLICATION_TIMEOUT') return true;
  if (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND'].includes(code)
  ) {
    return true;
  }
  if (isRedirectError(err)) return true;
  return /Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|LOADING|READONLY|CLUSTERDOWN|TRYAGAIN/.test(
    err.message,
  );
}
