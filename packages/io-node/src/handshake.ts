import { type ClientInfo, IoclusterError, type Logger, refusal } from '@iocluster/shared';
import type { JWTPayload } from 'jose';
import type { Socket } from 'socket.io';
import type { Admission } from './admission.js';
import type { JwtVerifier, VerifiedToken } from './jwt-auth.js';

/** What the `authenticate` hook sees of a connecting client. */
export type Handshake = Socket['handshake'];

/**
 * The application's own handshake check: returns the user (any JSON value; null for anonymous) or throws
 * to refuse. With JWT verification on, it runs after it and gets the token's claims.
 */
export type AuthenticateHook = (handshake: Handshake, claims: JWTPayload | undefined) => unknown;

/** What the io-node records of an admitted client. */
export interface AdmittedClient {
  user: unknown;
  handshake: ClientInfo['handshake'];
  token: VerifiedToken | undefined;
  release: () => void;
}

export interface HandshakeOptions {
  admission: Admission;
  verifier: JwtVerifier | undefined;
  authenticate: AuthenticateHook | undefined;
  /** True while the node takes no clients: until it is started and registered, and once it is closing. */
  closing: () => boolean;
  logger: Logger;
}

type Next = (err?: Error) => void;

/**
 * Socket.IO middleware deciding every handshake, cheapest check first: shutting down (NODE_CLOSING),
 * connection limits (SERVER_FULL, RATE_LIMITED), the JWT in `auth.token` (UNAUTHORIZED, TOKEN_EXPIRED),
 * then the `authenticate` hook. A refusal reaches the client as `connect_error` with `data.code`.
 */
export function createHandshakeMiddleware(
  options: HandshakeOptions,
  admitted: (socket: Socket, client: AdmittedClient) => void | Promise<void>,
): (socket: Socket, next: Next) => Promise<void> {
  return async (socket, next) => {
    if (options.closing()) {
      return next(refusal('NODE_CLOSING', 'this io-node takes no clients now (starting or shutting down)'));
    }
    const { handshake } = socket;
    // `auth` and credential headers are redacted by the logger (REDACTED_PATHS).
    options.logger.debug(
      { address: handshake.address, auth: handshake.auth, headers: handshake.headers },
      'handshake',
    );
    const place = options.admission.admit(handshake.address);
    if (place instanceof Error) return next(place);
    try {
      const auth = isRecord(handshake.auth) ? handshake.auth : {};
      const token = options.verifier ? await options.verifier.verify(auth.token) : undefined;
      const ban =
        token?.claims.sub !== undefined ? options.admission.banned(`sub:${token.claims.sub}`) : undefined;
      if (ban) throw ban;
      const hooked = options.authenticate
        ? await options.authenticate(handshake, token?.claims)
        : (token?.claims ?? null);
      // Neither the token nor the recovery session (a bearer secret too) goes on to app-nodes.
      const publicAuth: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(auth)) {
        if (key !== 'token' && key !== 'iocluster') publicAuth[key] = value;
      }
      await admitted(socket, {
        user: hooked ?? null,
        token,
        release: place.release,
        handshake: {
          address: handshake.address,
          time: handshake.issued,
          query: { ...handshake.query },
          // The token stays on the io-node: app-nodes get its claims as the user, never the token.
          auth: options.verifier ? publicAuth : withoutSession(auth),
        },
      });
      next();
    } catch (err) {
      place.release();
      // A refusal is expected (a bad token, a hook saying no): one line, the stack only when debugging.
      const code = refusalCode(err);
      options.logger.info(
        {
          clientId: socket.id,
          address: handshake.address,
          code,
          reason: err instanceof Error ? err.message : String(err),
          ...(options.logger.isLevelEnabled('debug') ? { err } : {}),
        },
        'handshake refused',
      );
      if (err instanceof IoclusterError && !('data' in err)) return next(refusal(err.code, err.message));
      next(err instanceof Error ? err : new Error(String(err)));
    }
  };
}

/** The stable code a refusal carries (an IoclusterError's, or `data.code` of the hook's error), if any. */
function refusalCode(err: unknown): string | undefined {
  if (err instanceof IoclusterError) return err.code;
  const data = (err as { data?: { code?: unknown } } | null)?.data;
  return typeof data?.code === 'string' ? data.code : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function withoutSession(auth: Record<string, unknown>): Record<string, unknown> {
  const { iocluster: _session, ...rest } = auth;
  return rest;
}
