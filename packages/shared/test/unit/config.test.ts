import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  appNodeWorkerEnv,
  ConfigError,
  checkSettings,
  createKeys,
  ioNodeWorkerEnv,
  loadSettings,
  SETTINGS,
  settingsOf,
  workerPublicUrl,
} from '../../src/index.js';

describe('config', () => {
  test('config - defaults when the environment is empty', () => {
    const io = loadSettings('io-node', {});
    expect(io.redis).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(io).toMatchObject({
      prefix: 'iocluster',
      port: 3001,
      ordering: true,
      eventTimeoutMs: 30_000,
      corsOrigins: '*',
      replicaWait: { replicas: 0, timeoutMs: 1_000 },
      workers: 1,
      parser: 'default',
      workerIndex: undefined,
      jwt: undefined,
    });
    expect(io.nodeId).toMatch(/^.+-[0-9a-f]{6}$/);
    const app = loadSettings('app-node', {});
    expect(app).toMatchObject({
      concurrency: 16,
      lockDurationMs: 5_000,
      stalledIntervalMs: 2_500,
      handlerTimeoutMs: 25_000,
      history: { rooms: [], maxLength: 1_000, ttlMs: 300_000 },
      metricsHost: '0.0.0.0',
    });
    expect(app.nodeId).toMatch(/^app-/);
    expect(Object.isFrozen(app)).toBe(true);
    expect(Object.isFrozen(app.history)).toBe(true);
    // No app-node HTTP server and no admin view unless asked for.
    expect(app.metricsPort).toBeUndefined();
    expect(loadSettings('frontend', {}).adminToken).toBeUndefined();
  });

  test('config - METRICS_PORT (0 = a free port), METRICS_HOST and ADMIN_TOKEN', () => {
    const app = loadSettings('app-node', { METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
    expect([app.metricsPort, app.metricsHost]).toEqual([0, '127.0.0.1']);
    expect(loadSettings('frontend', { ADMIN_TOKEN: ' s3cret-token ' }).adminToken).toBe('s3cret-token');
    expect(loadSettings('app-node', { METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(loadSettings('frontend', { ADMIN_TOKEN: '' }).adminToken).toBeUndefined();
  });

  test('config - parses every kind of value', () => {
    const io = loadSettings('io-node', {
      REDIS_SENTINELS: 'a:26379, b:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      IO_NODE_PORT: '0',
      ORDERING: 'OFF',
      IO_NODE_CORS_ORIGINS: 'http://localhost:3000,https://chat.example.com/',
      LOG_LEVEL: 'debug',
    });
    expect(io.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'a', port: 26379 },
        { host: 'b', port: 26380 },
      ],
      name: 'mymaster',
      password: undefined,
    });
    expect([io.port, io.ordering, io.logLevel]).toEqual([0, false, 'debug']);
    expect(io.corsOrigins).toEqual(['http://localhost:3000', 'https://chat.example.com']);
    const cluster = loadSettings('cluster', {
      REDIS_CLUSTER_NODES: '[::1]:7000,h:7001',
      REDIS_PASSWORD: 'pw',
    });
    expect(cluster.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '::1', port: 7000 },
        { host: 'h', port: 7001 },
      ],
      password: 'pw',
    });
  });

  test.each([
    [{ IO_NODE_PORT: 'eighty' }, /^IO_NODE_PORT must be an integer from 0 to 65535, got "eighty"$/],
    [{ IO_NODE_PORT: '1.5' }, /^IO_NODE_PORT must be an integer from 0 to 65535, got "1.5"$/],
    [{ EVENT_TIMEOUT_MS: '99' }, /^EVENT_TIMEOUT_MS must be an integer from 100 to 3600000, got "99"$/],
    [{ ORDERING: 'maybe' }, /^ORDERING must be on\/off/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error/],
    [{ REDIS_URL: 'http://x' }, /^REDIS_URL must be a URL with redis: or rediss:, got "http:\/\/x"$/],
    [{ REDIS_URL: 'not a url' }, /^REDIS_URL must be a URL/],
    [{ REDIS_SENTINELS: 'a:1' }, /^REDIS_SENTINEL_NAME is required with REDIS_SENTINELS$/],
    [
      { REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'b:2' },
      /^set REDIS_CLUSTER_NODES or/,
    ],
    [
      { REDIS_CLUSTER_NODES: 'a' },
      /^REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "a"$/,
    ],
    [{ IOCLUSTER_PREFIX: 'has space' }, /^IOCLUSTER_PREFIX must be 1-64 letters/],
    [
      { HEARTBEAT_TTL_MS: '1000', HEARTBEAT_INTERVAL_MS: '1000' },
      /^HEARTBEAT_TTL_MS \(1000\) must be larger/,
    ],
    [{ IO_NODE_CORS_ORIGINS: 'nope' }, /^IO_NODE_CORS_ORIGINS must be "\*" or a comma-separated list/],
    [{ IO_NODE_WORKERS: '0' }, /^IO_NODE_WORKERS must be an integer from 1 to 256 or auto, got "0"/],
    [{ IO_NODE_PORT: '65535', IO_NODE_WORKERS: '2' }, /^IO_NODE_PORT \(65535\) \+ IO_NODE_WORKERS \(2\) - 1/],
    [{ SOCKETIO_PARSER: 'json' }, /^SOCKETIO_PARSER must be one of default, msgpack, got "json"$/],
    [{ IOCLUSTER_WORKER_INDEX: '-1' }, /^IOCLUSTER_WORKER_INDEX must be an integer from 0/],
    [{ MAX_PAYLOAD_BYTES: '10' }, /^MAX_PAYLOAD_BYTES must be an integer from 256/],
    [{ AUTH_JWT_SECRET: 'short' }, /^AUTH_JWT_SECRET must be at least 32 bytes \(256 bits\) long$/],
    [{ AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWT_JWKS_URL: 'https://a/jwks' }, /^set one of AUTH_JWT_SECRET/],
    [
      { AUTH_JWT_PUBLIC_KEY_FILE: '/nonexistent/key.pem' },
      /^AUTH_JWT_PUBLIC_KEY_FILE must name a readable file/,
    ],
    [
      { AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWT_ALGORITHMS: 'HS256,none' },
      /^AUTH_JWT_ALGORITHMS must list some/,
    ],
  ])('config - io-node: %o is refused with an error naming the variable', (env, message) => {
    expect(() => loadSettings('io-node', env)).toThrow(ConfigError);
    expect(() => loadSettings('io-node', env)).toThrow(message);
  });

  test.each([
    [{ APP_NODE_CONCURRENCY: '0' }, /^APP_NODE_CONCURRENCY must be an integer from 1/],
    [{ APP_NODE_WORKERS: 'many' }, /^APP_NODE_WORKERS must be an integer from 1 to 256 or auto/],
    [{ METRICS_PORT: '70000' }, /^METRICS_PORT must be an integer from 0 to 65535, got "70000"$/],
    [{ HANDLER_TIMEOUT_MS: '50' }, /^HANDLER_TIMEOUT_MS must be an integer from 100/],
  ])('config - app-node: %o is refused with an error naming the variable', (env, message) => {
    expect(() => loadSettings('app-node', env)).toThrow(message);
  });

  test('config - a secret is never echoed in an error', () => {
    expect(() => loadSettings('frontend', { ADMIN_TOKEN: 'hunter2' })).toThrow(
      /^ADMIN_TOKEN must be at least 8 characters long$/,
    );
  });

  test('config - a public key file is read, and must hold a PEM public key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iocluster-config-'));
    const pem = join(dir, 'key.pem');
    writeFileSync(pem, '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n');
    const other = join(dir, 'other.txt');
    writeFileSync(other, 'hello');
    expect(loadSettings('io-node', { AUTH_JWT_PUBLIC_KEY_FILE: pem }).jwt?.publicKeyPem).toContain('abc');
    expect(() => loadSettings('io-node', { AUTH_JWT_PUBLIC_KEY_FILE: other })).toThrow(
      /^AUTH_JWT_PUBLIC_KEY_FILE must name a readable file holding a PEM public key, got ".*" \(not a PEM public key\)$/,
    );
  });

  test('config - each tier reads only its own rows and the cluster-wide ones', () => {
    // A ConfigMap shared by every tier: the io-node's key file is not on the app-node's or frontend's disk.
    const shared = {
      AUTH_JWT_PUBLIC_KEY_FILE: '/nonexistent/key.pem',
      APP_NODE_CONCURRENCY: '4',
      FRONTEND_STATIC_DIR: '/nonexistent/www',
      EVENT_TIMEOUT_MS: '10000',
      IOCLUSTER_PREFIX: 'chat',
    };
    expect(() => loadSettings('io-node', shared)).toThrow(/^AUTH_JWT_PUBLIC_KEY_FILE /);
    const app = loadSettings('app-node', shared);
    expect([app.concurrency, app.prefix]).toEqual([4, 'chat']);
    expect(app).not.toHaveProperty('eventTimeoutMs');
    expect(app).not.toHaveProperty('jwt');
    expect(() => loadSettings('frontend', shared)).toThrow(/^FRONTEND_STATIC_DIR /);
    expect(loadSettings('cluster', shared).prefix).toBe('chat');
    // Every row belongs to exactly one tier, and a tier's rows are its own plus the cluster's.
    const tiersOf = (tier: 'io-node' | 'app-node' | 'frontend') =>
      new Set(settingsOf([tier]).map((row) => row.tier));
    expect([...tiersOf('app-node')].sort()).toEqual(['app-node', 'cluster']);
    expect(new Set(SETTINGS.map((row) => row.env)).size).toBe(SETTINGS.length);
  });

  test('config - a handler timeout the event timeout never lets a handler reach is refused where both are read', () => {
    const env = { EVENT_TIMEOUT_MS: '10000' };
    // Alone, each tier takes it: the app-node does not read EVENT_TIMEOUT_MS, events carry their deadline.
    expect(loadSettings('app-node', env).handlerTimeoutMs).toBe(25_000);
    expect(loadSettings('io-node', env).eventTimeoutMs).toBe(10_000);
    expect(() => checkSettings(['io-node', 'app-node'], env)).toThrow(
      /^HANDLER_TIMEOUT_MS \(25000\) must be less than EVENT_TIMEOUT_MS \(10000\) minus its 1000 ms margin/,
    );
    expect(() =>
      checkSettings(['io-node', 'app-node'], { ...env, HANDLER_TIMEOUT_MS: '8999' }),
    ).not.toThrow();
    expect(() => checkSettings(['io-node', 'app-node'], { ...env, HANDLER_TIMEOUT_MS: '9000' })).toThrow(
      ConfigError,
    );
    expect(() => checkSettings(['io-node', 'app-node'], {})).not.toThrow();
  });

  test('config - workers, parser and the worker marker', () => {
    const io = loadSettings('io-node', {
      IO_NODE_WORKERS: 'auto',
      SOCKETIO_PARSER: 'msgpack',
      IOCLUSTER_WORKER_INDEX: '1',
      IO_NODE_PUBLIC_URL: 'https://io.example.com:{port}/rt',
    });
    expect(io).toMatchObject({ workers: availableParallelism(), parser: 'msgpack', workerIndex: 1 });
    expect(io.publicUrl).toBe('https://io.example.com:{port}/rt');
    expect(loadSettings('app-node', { APP_NODE_WORKERS: '3' }).workers).toBe(3);
  });

  test('worker env - every worker gets its own id, port and public URL', () => {
    const io = loadSettings('io-node', {
      IO_NODE_ID: 'io-a',
      IO_NODE_PORT: '4000',
      IO_NODE_PUBLIC_URL: 'https://chat.example.com',
    });
    expect(ioNodeWorkerEnv(io, 0, 0)).toEqual({
      IO_NODE_ID: 'io-a-w0',
      IO_NODE_PORT: '4000',
      IO_NODE_PUBLIC_URL: 'https://chat.example.com:{port}',
    });
    expect(ioNodeWorkerEnv(io, 2, 3)).toMatchObject({ IO_NODE_ID: 'io-a-w2-r3', IO_NODE_PORT: '4002' });
    const anyPort = loadSettings('io-node', { IO_NODE_PORT: '0' });
    expect(ioNodeWorkerEnv(anyPort, 1, 0)).not.toHaveProperty('IO_NODE_PUBLIC_URL');
    expect(ioNodeWorkerEnv(anyPort, 1, 0).IO_NODE_PORT).toBe('0');
    const app = loadSettings('app-node', { APP_NODE_ID: 'app-a' });
    expect(appNodeWorkerEnv(app, 1, 0)).toEqual({ APP_NODE_ID: 'app-a-w1' });
    expect(workerPublicUrl('http://10.0.0.5:3001/io/?x=1')).toBe('http://10.0.0.5:{port}/io/?x=1');
    expect(workerPublicUrl('http://[::1]:3001')).toBe('http://[::1]:{port}');
    expect(workerPublicUrl('http://h:{port}/p')).toBe('http://h:{port}/p');
  });

  test('config - auth and limits: off and defaults when unset, parsed when set', () => {
    const plain = loadSettings('io-node', {});
    expect(plain.jwt).toBeUndefined();
    expect(plain).toMatchObject({
      clientEventRate: 200,
      clientEventBurst: 100,
      clientRateDisconnectAfter: 1_000,
      abuseBanMs: 10_000,
      maxPayloadBytes: 65_536,
      maxConnections: 50_000,
      connectionsPerSecondPerIp: 0,
      queueMaxWaiting: 10_000,
      queueCheckIntervalMs: 500,
    });
    const io = loadSettings('io-node', {
      AUTH_JWT_SECRET: 's'.repeat(40),
      AUTH_JWT_ISSUER: 'me',
      AUTH_JWT_AUDIENCE: 'chat, admin',
      AUTH_JWT_ALGORITHMS: 'HS512',
      MAX_CONNECTIONS: '3',
    });
    expect(io.jwt).toEqual({
      secret: 's'.repeat(40),
      publicKeyPem: undefined,
      jwksUrl: undefined,
      issuer: 'me',
      audience: ['chat', 'admin'],
      algorithms: ['HS512'],
      expiryNoticeMs: 30_000,
    });
    expect(io.maxConnections).toBe(3);
  });

  test('keys - every name carries the prefix and queue keys share one hash tag', () => {
    const keys = createKeys('chat');
    expect(keys.bullPrefix).toBe('{chat}');
    expect(keys.inbox('n1')).toBe('chat:node:{n1}:inbox');
    expect(keys.nodeRooms('n1')).toBe('chat:node:{n1}:rooms');
    expect(keys.roomNodes('lobby')).toBe('chat:room:{lobby}:nodes');
    // Every key of one room shares its hash tag, whatever the room's name holds.
    for (const room of ['a}b', '}x', '{', 'x%7Dy']) {
      const tag = (key: string) => key.slice(key.indexOf('{') + 1, key.indexOf('}'));
      const roomKeys = [keys.roomNodes(room), keys.history(room), keys.historyMeta(room)];
      expect(new Set(roomKeys.map(tag)).size).toBe(1);
      expect(tag(roomKeys[0]!).length).toBeGreaterThan(0);
    }
    expect(keys.roomNodes('a}b')).not.toBe(keys.roomNodes('a%7Db'));
    expect(keys.registryNode('n1').startsWith('{chat}:')).toBe(true);
    // App-node records beside the io-node ones, distinct from them, under the same tag.
    expect(keys.appRegistryIndex).toBe('{chat}:registry:apps');
    expect(keys.appRegistryNode('n1')).toBe('{chat}:registry:app:n1');
    expect(keys.appRegistryNode('n1')).not.toBe(keys.registryNode('n1'));
    expect(keys.app('history', 'lobby')).toBe('chat:app:history:lobby');
    expect(() => createKeys('a:b')).toThrow(/key prefix "a:b"/);
  });
});
