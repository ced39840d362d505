import { setTimeout as delay } from 'node:timers/promises';
import type { AppNode } from '@iocluster/app-node';
import { ClientError, type ClientLifecycleEvents, type IoclusterClient } from '@iocluster/client';
import { type JWTPayload, SignJWT } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { clientFactory, next } from './support/clients.js';
import { type Cluster, setup } from './support/cluster.js';

const SECRET = 'test-secret-of-at-least-thirty-two-bytes!';
const secretKey = new TextEncoder().encode(SECRET);

let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await cluster?.cleanup();
  cluster = undefined;
});

const client = clientFactory(clients, { backoffMinMs: 50 });

/** A token signed with the test secret, issued now, expiring `expInS` seconds from now (negative: expired). */
function hsToken(claims: JWTPayload, expInS: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + expInS)
    .sign(secretKey);
}

function register(app: AppNode): void {
  registerTestApp(app);
  app.on('whoami', (socket) => (socket.user as JWTPayload | null)?.sub ?? null);
}

/** A cluster whose io-nodes verify tokens, and a frontend; `requests` counts discovery requests. */
async function authCluster(ioNodeOptions: Record<string, unknown> = {}) {
  cluster = await setup({
    ioNodes: 2,
    appNodes: 1,
    register,
    ioNodeOptions: { jwt: { secret: SECRET }, ...ioNodeOptions },
  });
  const frontend = await cluster.startFrontend();
  const requests: string[] = [];
  const counting: typeof fetch = (input, init) => {
    requests.push(String(input));
    return fetch(input, init);
  };
  return { frontendUrl: frontend.url, fetch: counting, requests };
}

/** The next `unauthorized`, or a rejection naming the lifecycle event that came instead (a retry). */
function refusal(a: IoclusterClient): Promise<Parameters<ClientLifecycleEvents['unauthorized']>> {
  const retried = Promise.race([next(a, 'reconnecting'), next(a, 'unavailable')]).then((args) => {
    throw new Error(`the client went on without a new token: ${JSON.stringify(args)}`);
  });
  return Promise.race([next(a, 'unauthorized'), retried]);
}

describe('client auth', () => {
  test('client - a refused token reaches the application at once with its code, pending emits reject with it, and without getToken the client stops', async () => {
    const { requests, ...options } = await authCluster();
    const a = client({ ...options, autoConnect: false, socketOptions: { auth: { token: 'not-a-jwt' } } });
    const pending = expect(a.emitWithAck('echo', 'never')).rejects.toMatchObject({
      name: 'ClientError',
      code: 'UNAUTHORIZED',
    });
    const refused = refusal(a);
    a.connect();
    const [error, retrying] = await refused;
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', serverCode: 'UNAUTHORIZED' });
    expect(retrying).toBe(false);
    await pending;
    expect(a.state).toBe('idle');
    expect(requests).toHaveLength(1);
  });

  test('client - getToken giving the refused token again stops the client; a different one connects with it', async () => {
    const { requests, ...options } = await authCluster();
    const expired = await hsToken({ sub: 'ada' }, -60);
    const tokens: string[] = [];
    let supply = async () => expired;
    const getToken = async () => {
      const token = await supply();
      tokens.push(token);
      return token;
    };
    const a = client({ ...options, getToken, autoConnect: false });
    const pending = expect(a.emitWithAck('whoami')).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    let refused = refusal(a);
    a.connect();
    const [error, retrying] = await refused;
    expect(error).toMatchObject({ code: 'TOKEN_EXPIRED', serverCode: 'TOKEN_EXPIRED' });
    expect(retrying).toBe(false);
    await pending;
    // Asked once for the handshake and once after the refusal: the same token, so no second handshake.
    expect(tokens).toEqual([expired, expired]);
    expect(requests).toHaveLength(1);
    expect(a.state).toBe('idle');

    // Once getToken has a valid one, connect() goes again; an expired one first is refused, then replaced.
    let calls = 0;
    supply = async () => (++calls === 1 ? expired : hsToken({ sub: 'ada' }, 300));
    const queued = expect(a.emitWithAck('whoami')).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    refused = refusal(a);
    const connected = next(a, 'connected');
    a.connect();
    const [again, retryingNow] = await refused;
    expect(again).toMatchObject({ code: 'TOKEN_EXPIRED' });
    expect(retryingNow).toBe(true);
    await queued;
    await connected;
    expect(await a.emitWithAck('whoami')).toBe('ada');
    expect(calls).toBe(2);
  });

  test('client - 4 s tokens for 12 s: a refresh every ~2 s, none counted against the event rate, never dropped', async () => {
    // The default expiry notice (30 s) is longer than the token's lifetime; 5 events/s, 3 refusals drop.
    const { requests: _requests, ...options } = await authCluster({
      clientEventRate: 5,
      clientEventBurst: 5,
      clientRateDisconnectAfter: 3,
    });
    let issued = 0;
    const getToken = () => {
      issued++;
      return hsToken({ sub: 'ada' }, 4);
    };
    const a = client({ ...options, getToken });
    const log: string[] = [];
    for (const name of ['disconnected', 'token-refresh-failed', 'unauthorized', 'unavailable'] as const) {
      a.on(name, ((...args: unknown[]) => log.push(`${name} ${String(args[0])}`)) as never);
    }
    await next(a, 'connected');
    const socketId = a.id;
    const answers: unknown[] = [];
    const started = Date.now();
    // Events at 4/s, just under the rate, for 12 s: three token lifetimes.
    for (let n = 0; Date.now() - started < 12_000; n++) {
      answers.push(await a.emitWithAck('echo', n));
      await delay(250);
    }
    expect(log).toEqual([]);
    expect(a.connected).toBe(true);
    expect(a.id).toBe(socketId);
    expect(answers).toEqual(answers.map((_, n) => [n]));
    expect(answers.length).toBeGreaterThan(20);
    // The handshake's token, then one per 1-2 s (half a lifetime, less the part of a second `iat` drops).
    expect(issued).toBeGreaterThanOrEqual(6);
    expect(issued).toBeLessThanOrEqual(14);
    expect(await a.emitWithAck('whoami')).toBe('ada');
  });
});
