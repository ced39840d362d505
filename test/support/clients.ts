import { type ClientLifecycleEvents, createClient, type IoclusterClient } from '@iocluster/client';
import { io as connectPlain, type Socket } from 'socket.io-client';

/** Resolves with the arguments of the client's next lifecycle event `event`. */
export function next<E extends keyof ClientLifecycleEvents>(
  target: IoclusterClient,
  event: E,
): Promise<Parameters<ClientLifecycleEvents[E]>> {
  return new Promise((resolve) => {
    const off = target.on(event, ((...args: Parameters<ClientLifecycleEvents[E]>) => {
      off();
      resolve(args);
    }) as ClientLifecycleEvents[E]);
  });
}

/**
 * A factory of `@iocluster/client` clients with quick retries for tests, remembering each in `created` so
 * the test's cleanup can close them.
 */
export function clientFactory(
  created: IoclusterClient[],
  defaults: Partial<Parameters<typeof createClient>[0]> = { backoffMinMs: 50 },
): (options: Parameters<typeof createClient>[0]) => IoclusterClient {
  return (options) => {
    const client = createClient({ ...defaults, ...options });
    created.push(client);
    return client;
  };
}

/**
 * A socket.io-client speaking the recovery protocol by hand, as any Socket.IO client can; resolves once
 * it has its session. The socket is added to `created` for the test's cleanup.
 */
export async function recoveringClient(
  created: Socket[],
  url: string,
  iocluster: Record<string, unknown>,
): Promise<{ socket: Socket; session: string }> {
  const socket = connectPlain(url, { transports: ['websocket'], reconnection: false, auth: { iocluster } });
  created.push(socket);
  const session = await new Promise<string>((resolve, reject) => {
    socket.once('$session', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, session };
}
