import { type Logger, TOKEN_EXPIRING_EVENT, toAckError } from '@iocluster/shared';
import type { JWTPayload } from 'jose';
import type { Socket } from 'socket.io';
import type { JwtVerifier, VerifiedToken } from './jwt-auth.js';

/** Ack of `$token:refresh`. */
export type RefreshAck = (
  answer: { ok: true; exp: number | null } | { error: { code: string; message: string } },
) => void;

/** What the sessions need from the io-node. */
export interface TokenSessionsOptions {
  verifier: JwtVerifier;
  /**
   * How long before expiry the client gets `$token:expiring`; for a token that lives less than twice
   * this, half its lifetime (so the notice comes after the token started, never at once).
   */
  expiryNoticeMs: number;
  /** A refreshed token's claims: the node's record of the client's user is replaced by them. */
  onRefreshed: (socket: Socket, claims: JWTPayload) => void;
  /** The token ran out: disconnect the client with TOKEN_EXPIRED (after telling it why). */
  onExpired: (socket: Socket) => void;
  logger: Logger;
}

/**
 * Enforces token expiry during a connection: `$token:expiring` goes out `expiryNoticeMs` (at most half
 * the token's lifetime) before `exp`, once per expiry; a client that answers with `$token:refresh` and a
 * valid token for the same subject carries on (same socket); one that does not is disconnected at `exp`.
 * Refreshes of one connection are verified one after another, in the order they came.
 */
export interface TokenSessions {
  /** Starts watching a connected client's token. */
  track(socket: Socket, token: VerifiedToken): void;
  /** Handles a client's `$token:refresh`. */
  refresh(socket: Socket, token: unknown, ack: RefreshAck | undefined): void;
  /** Stops watching (disconnect). */
  untrack(socket: Socket): void;
  close(): void;
}

interface Session {
  subject: string | undefined;
  notice: NodeJS.Timeout | undefined;
  expiry: NodeJS.Timeout | undefined;
  /** The latest expiry the client was told about: a token that expires no later gets no new notice. */
  noticed: number;
  /** The refreshes of this connection, verified in turn. */
  refreshing: Promise<void>;
}

/**
 * How long before `expiresAt` the notice goes out: `noticeMs`, or half the token's lifetime (from its
 * `iat`, else from now) when that is shorter. A 4 s token refreshed at each notice is asked for a new one
 * every 2 s, not in a loop.
 */
export function noticeLeadMs(
  noticeMs: number,
  expiresAt: number,
  issuedAt: number | undefined,
  now: number,
): number {
  const lifetime = expiresAt - Math.min(issuedAt ?? now, now);
  return Math.max(0, Math.min(noticeMs, lifetime / 2));
}

/** setTimeout holds at most 2^31-1 ms (~24.8 days); a longer wait would fire at once, so it is re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

export function createTokenSessions(options: TokenSessionsOptions): TokenSessions {
  const sessions = new Map<Socket, Session>();
  const logger = options.logger.child({ component: 'io-node:token-sessions' });

  function clear(session: Session): void {
    clearTimeout(session.notice);
    clearTimeout(session.expiry);
    session.notice = undefined;
    session.expiry = undefined;
  }

  function arm(socket: Socket, session: Session, token: VerifiedToken): void {
    clear(session);
    const { expiresAt } = token;
    if (expiresAt === undefined) return;
    const now = Date.now();
    const iat = typeof token.claims.iat === 'number' ? token.claims.iat * 1000 : undefined;
    const noticeIn = Math.max(0, expiresAt - noticeLeadMs(options.expiryNoticeMs, expiresAt, iat, now) - now);
    const expireIn = Math.max(0, expiresAt - now);
    if (expireIn > MAX_TIMER_MS) {
      session.expiry = later(MAX_TIMER_MS, () => arm(socket, session, token));
      return;
    }
    if (expiresAt > session.noticed) {
      session.notice = later(noticeIn, () => {
        session.noticed = expiresAt;
        socket.emit(TOKEN_EXPIRING_EVENT, {
          exp: Math.floor(expiresAt / 1000),
          expiresInMs: Math.max(0, expiresAt - Date.now()),
        });
      });
    }
    session.expiry = later(expireIn, () => {
      logger.info({ socketId: socket.id, subject: session.subject }, 'token expired; disconnecting client');
      sessions.delete(socket);
      options.onExpired(socket);
    });
  }

  return {
    track(socket, token) {
      const session: Session = {
        subject: token.claims.sub,
        notice: undefined,
        expiry: undefined,
        noticed: 0,
        refreshing: Promise.resolve(),
      };
      sessions.set(socket, session);
      arm(socket, session, token);
    },

    refresh(socket, token, ack) {
      const session = sessions.get(socket);
      if (!session) {
        ack?.({ error: { code: 'UNAUTHORIZED', message: 'this connection has no token to refresh' } });
        return;
      }
      const verify = () => options.verifier.verify(token);
      session.refreshing = session.refreshing.then(verify).then(
        (verified) => {
          if (sessions.get(socket) !== session) return;
          if (verified.claims.sub !== session.subject) {
            ack?.({
              error: { code: 'UNAUTHORIZED', message: 'a refreshed token must name the same subject' },
            });
            return;
          }
          arm(socket, session, verified);
          options.onRefreshed(socket, verified.claims);
          ack?.({ ok: true, exp: verified.claims.exp ?? null });
        },
        (err: unknown) => {
          logger.info({ socketId: socket.id, err }, 'token refresh refused');
          ack?.({ error: toAckError(err, 'UNAUTHORIZED') });
        },
      );
    },

    untrack(socket) {
      const session = sessions.get(socket);
      if (session) clear(session);
      sessions.delete(socket);
    },

    close() {
      for (const session of sessions.values()) clear(session);
      sessions.clear();
    },
  };
}

function later(ms: number, fn: () => void): NodeJS.Timeout {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return timer;
}
