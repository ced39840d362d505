import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import type { AppNode } from '@iocluster/app-node';
import { createLogger, listen } from '@iocluster/shared';
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, nextEvent, setup } from './support/cluster.js';

const SECRET = 'test-secret-of-at-least-thirty-two-bytes!';
const secretKey = new TextEncoder().encode(SECRET);

let cluster: Cluster | undefined;
let jwksServer: Server | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  jwksServer?.close();
  cluster = undefined;
  jwksServer = undefined;
});

function register(app: AppNode, disconnects: string[] = []): void {
  registerTestApp(app);
  app.on('whoami', (socket) => socket.user);
  app.on('disconnect', (_socket, reason) => void disconnects.push(reason));
}

/** A token signed with the test secret; `expInS` seconds from now (negative: already expired). */
function hsToken(claims: JWTPayload, expInS = 300, extra: (jwt: SignJWT) => SignJWT = (jwt) => jwt) {
  return extra(
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expInS),
  ).sign(secretKey);
}

/** The `data.code` of the connect_error a handshake ends with. */
async function refusedCode(c: Cluster, auth: Record<string, unknown>): Promise<unknown> {
  const err = await c.connect(0, { auth }).then(
    () => {
      throw new Error('connected');
    },
    (e: unknown) => e as { data?: { code?: unknown } },
  );
  return err.data?.code;
}

describe('auth', () => {
  test('auth - HS256: claims become socket.user; missing, forged, expired, wrong issuer or audience refused with codes', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app),
      ioNodeOptions: { jwt: { secret: SECRET, issuer: 'iocluster-test', audience: ['chat'] } },
    });
    const good = await hsToken({ sub: 'ada', name: 'Ada' }, 300, (j) =>
      j.setIssuer('iocluster-test').setAudience('chat'),
    );
    const a = await cluster.connect(0, { auth: { token: good } });
    expect(await a.emitWithAck('whoami')).toMatchObject({
      sub: 'ada',
      name: 'Ada',
      iss: 'iocluster-test',
      aud: 'chat',
    });
    // The token itself never reaches app-nodes.
    expect(((await a.emitWithAck('get')) as { data: unknown }).data).toEqual({});

    expect(await refusedCode(cluster, {})).toBe('UNAUTHORIZED');
    expect(await refusedCode(cluster, { token: 42 })).toBe('UNAUTHORIZED');
    expect(await refusedCode(cluster, { token: `${good.slice(0, -4)}AAAA` })).toBe('UNAUTHORIZED');
    const expired = await hsToken({ sub: 'ada' }, -60, (j) =>
      j.setIssuer('iocluster-test').setAudience('chat'),
    );
    expect(await refusedCode(cluster, { token: expired })).toBe('TOKEN_EXPIRED');
    const wrongIssuer = await hsToken({ sub: 'ada' }, 300, (j) =>
      j.setIssuer('elsewhere').setAudience('chat'),
    );
    expect(await refusedCode(cluster, { token: wrongIssuer })).toBe('UNAUTHORIZED');
    const wrongAudience = await hsToken({ sub: 'ada' }, 300, (j) =>
      j.setIssuer('iocluster-test').setAudience('admin'),
    );
    expect(await refusedCode(cluster, { token: wrongAudience })).toBe('UNAUTHORIZED');
    const otherSecret = await new SignJWT({ sub: 'ada' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('iocluster-test')
      .setAudience('chat')
      .sign(new TextEncoder().encode('another-secret-of-at-least-thirty-two-bytes'));
    expect(await refusedCode(cluster, { token: otherSecret })).toBe('UNAUTHORIZED');
    // `alg: none` is never accepted.
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"ada"}').toString('base64url')}.`;
    expect(await refusedCode(cluster, { token: unsigned })).toBe('UNAUTHORIZED');
  });

  test('auth - PEM public keys (ES256, RS256, EdDSA) verify their own tokens only', async () => {
    const es = await generateKeyPair('ES256', { extractable: true });
    const rs = await generateKeyPair('RS256', { extractable: true });
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    cluster = await setup({ ioNodes: 0, appNodes: 1, register: (app) => register(app) });
    await cluster.startIoNode({ jwt: { publicKeyPem: await exportSPKI(es.publicKey) } });
    await cluster.startIoNode({ jwt: { publicKeyPem: await exportSPKI(rs.publicKey) } });
    await cluster.startIoNode({ jwt: { publicKeyPem: await exportSPKI(ed.publicKey) } });
    const sign = (alg: string, key: CryptoKey, sub: string) =>
      new SignJWT({ sub }).setProtectedHeader({ alg }).setExpirationTime('5m').sign(key);
    const esToken = await sign('ES256', es.privateKey, 'es-user');
    const rsToken = await sign('RS256', rs.privateKey, 'rs-user');
    const edToken = await sign('EdDSA', ed.privateKey, 'ed-user');
    const c = cluster;
    const codeAt = (index: number, token: string) =>
      c.connect(index, { auth: { token } }).then(
        (s) => {
          s.disconnect();
          return 'connected';
        },
        (e: { data?: { code?: string } }) => e.data?.code,
      );
    expect(await (await c.connect(0, { auth: { token: esToken } })).emitWithAck('whoami')).toMatchObject({
      sub: 'es-user',
    });
    expect(await (await c.connect(1, { auth: { token: rsToken } })).emitWithAck('whoami')).toMatchObject({
      sub: 'rs-user',
    });
    expect(await (await c.connect(2, { auth: { token: edToken } })).emitWithAck('whoami')).toMatchObject({
      sub: 'ed-user',
    });
    expect([await codeAt(0, rsToken), await codeAt(1, esToken), await codeAt(2, esToken)]).toEqual([
      'UNAUTHORIZED',
      'UNAUTHORIZED',
      'UNAUTHORIZED',
    ]);
  });

  test('auth - JWKS over http picks the key by kid; unknown kid refused', async () => {
    const first = await generateKeyPair('RS256', { extractable: true });
    const second = await generateKeyPair('ES256', { extractable: true });
    const jwks = {
      keys: [
        { ...(await exportJWK(first.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(second.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' },
      ],
    };
    let fetches = 0;
    jwksServer = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    const port = await listen(jwksServer, 0, '127.0.0.1');
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app),
      ioNodeOptions: { jwt: { jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json` } },
    });
    const k1 = await new SignJWT({ sub: 'one' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(first.privateKey);
    const k2 = await new SignJWT({ sub: 'two' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k2' })
      .setExpirationTime('5m')
      .sign(second.privateKey);
    const unknown = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k9' })
      .setExpirationTime('5m')
      .sign(second.privateKey);
    expect(await (await cluster.connect(0, { auth: { token: k1 } })).emitWithAck('whoami')).toMatchObject({
      sub: 'one',
    });
    expect(await (await cluster.connect(0, { auth: { token: k2 } })).emitWithAck('whoami')).toMatchObject({
      sub: 'two',
    });
    expect(await refusedCode(cluster, { token: unknown })).toBe('UNAUTHORIZED');
    expect(fetches).toBeGreaterThanOrEqual(1);
  });

  test('auth - expiry: $token:expiring before exp, a refresh keeps the same socket; no refresh disconnects with TOKEN_EXPIRED', async () => {
    const disconnects: string[] = [];
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app, disconnects),
      ioNodeOptions: { jwt: { secret: SECRET, expiryNoticeMs: 1_500 } },
    });
    // exp has a resolution of a second: 3 s from now is 2-3 s away, so the notice comes 0.5 s or more after connecting.
    const refresher = await cluster.connect(0, { auth: { token: await hsToken({ sub: 'ada' }, 3) } });
    const idle = await cluster.connect(0, { auth: { token: await hsToken({ sub: 'bob' }, 3) } });
    const idleReasons: unknown[] = [];
    idle.on('$error', (e: unknown) => idleReasons.push(e));
    const idleGone = nextEvent<[string]>(idle, 'disconnect');
    const id = refresher.id;

    const [notice] = await nextEvent<[{ exp: number; expiresInMs: number }]>(refresher, '$token:expiring');
    // A Node timer may fire up to a millisecond early (its clock counts whole milliseconds).
    expect(notice.expiresInMs).toBeLessThanOrEqual(1_501);
    // Another subject's token is refused, and the session goes on with the old one meanwhile.
    expect(await refresher.emitWithAck('$token:refresh', await hsToken({ sub: 'mallory' }, 300))).toEqual({
      error: { code: 'UNAUTHORIZED', message: 'a refreshed token must name the same subject' },
    });
    const fresh = await hsToken({ sub: 'ada', role: 'refreshed' }, 300);
    expect(await refresher.emitWithAck('$token:refresh', fresh)).toMatchObject({ ok: true });

    const [reason] = await idleGone;
    expect(idleReasons).toEqual([{ code: 'TOKEN_EXPIRED', message: 'token expired and was not refreshed' }]);
    expect(reason).toBe('io server disconnect');
    // Past the first token's exp: still connected, same socket, the new claims on app-nodes.
    expect(refresher.connected).toBe(true);
    expect(refresher.id).toBe(id);
    expect(await refresher.emitWithAck('whoami')).toMatchObject({ sub: 'ada', role: 'refreshed' });
    await expect.poll(() => disconnects).toEqual(['TOKEN_EXPIRED']);
  });

  test('auth - tokens and handshake auth never reach the logs', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'debug', destination });
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app),
      ioNodeOptions: { jwt: { secret: SECRET }, logger },
      appNodeOptions: { logger },
    });
    const token = await hsToken({ sub: 'ada' });
    const a: ClientSocket = await cluster.connect(0, {
      auth: { token },
      extraHeaders: { authorization: `Bearer ${token}` },
    });
    expect(await a.emitWithAck('$token:refresh', 'not-a-valid-token-value')).toMatchObject({
      error: { code: 'UNAUTHORIZED' },
    });
    await refusedCode(cluster, { token: 'forged-token-value' });
    logger.info({ secret: SECRET, jwt: { secret: SECRET } }, 'config');
    const text = lines.join('');
    expect(text).toContain('"msg":"handshake"');
    expect(text).toContain('[redacted]');
    for (const secret of [
      token,
      token.split('.')[2]!,
      SECRET,
      'forged-token-value',
      'not-a-valid-token-value',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});
