import { TOKEN_REFRESH_EVENT } from '@iocluster/shared/protocol';
import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client';
import { ClientError } from './errors.js';

type AuthOption = Partial<ManagerOptions & SocketOptions>['auth'];

/**
 * The handshake `auth` of the next connection: the configured `auth` (object, or function asked anew)
 * plus `token`: `token` when given (a fresh one already asked for), else one from `getToken` when there
 * is one.
 */
export async function handshakeAuth(
  auth: AuthOption,
  getToken: (() => string | Promise<string>) | undefined,
  token?: string,
): Promise<Record<string, unknown> | undefined> {
  const base: Record<string, unknown> | undefined =
    typeof auth === 'function'
      ? await new Promise<Record<string, unknown>>((resolve) => auth((data: object) => resolve({ ...data })))
      : auth && { ...auth };
  if (token !== undefined) return { ...base, token };
  if (!getToken) return base;
  return { ...base, token: await getToken() };
}

/**
 * A token for another handshake after `refused` was refused: one from `getToken` that differs from it,
 * or undefined when there is no `getToken`, it throws, or it gives the refused token again.
 */
export async function freshToken(
  getToken: (() => string | Promise<string>) | undefined,
  refused: unknown,
): Promise<string | undefined> {
  if (!getToken) return undefined;
  try {
    const token = await getToken();
    return token === refused ? undefined : token;
  } catch {
    return undefined;
  }
}

/**
 * Answers the server's `$token:expiring` (or `refreshToken()`): a fresh token from `getToken` sent with
 * `$token:refresh`. At most one refresh is in flight: asking again meanwhile joins it.
 */
export class TokenRefresher {
  private inflight: { socket: Socket; done: Promise<void> } | undefined;

  constructor(private readonly getToken: () => string | Promise<string>) {}

  /** Rejects with a {@link ClientError} `REFUSED` when the token could not be had or was refused. */
  refresh(socket: Socket): Promise<void> {
    if (this.inflight?.socket === socket) return this.inflight.done;
    const done = this.send(socket).finally(() => {
      if (this.inflight?.done === done) this.inflight = undefined;
    });
    this.inflight = { socket, done };
    return done;
  }

  private async send(socket: Socket): Promise<void> {
    let token: string;
    try {
      token = await this.getToken();
    } catch (cause) {
      throw new ClientError('REFUSED', 'getToken() failed; the token was not refreshed', { cause });
    }
    const answer = (await socket.emitWithAck(TOKEN_REFRESH_EVENT, token)) as {
      error?: { code?: string; message?: string };
    } | null;
    const error = answer?.error;
    if (error) {
      throw new ClientError('REFUSED', `token refresh refused: ${error.code} ${error.message ?? ''}`.trim(), {
        serverCode: error.code,
      });
    }
  }
}
