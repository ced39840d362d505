import { TOKEN_REFRESH_EVENT } from '@iocluster/shared/protocol';
import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client';
import { ClientError } from './errors.js';

type AuthOption = Partial<ManagerOptions & SocketOptions>['auth'];

/**
 * The handshake `auth` of the next connection: the configured `auth` (object, or function asked anew)
 * plus `token` from `getToken` when there is one.
 */
export async function handshakeAuth(
  auth: AuthOption,
  getToken: (() => string | Promise<string>) | undefined,
): Promise<Record<string, unknown> | undefined> {
  const base: Record<string, unknown> | undefined =
    typeof auth === 'function'
      ? await new Promise<Record<string, unknown>>((resolve) => auth((data: object) => resolve({ ...data })))
      : auth && { ...auth };
  if (!getToken) return base;
  return { ...base, token: await getToken() };
}

/**
 * Answers the server's `$token:expiring` on `socket`: a fresh token from `getToken` sent with
 * `$token:refresh`. Rejects with a {@link ClientError} when the token could not be had or was refused.
 */
export async function refreshToken(socket: Socket, getToken: () => string | Promise<string>): Promise<void> {
  let token: string;
  try {
    token = await getToken();
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
