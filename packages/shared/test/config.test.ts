import { availableParallelism } from 'node:os';
import { describe, expect, test } from 'vitest';
import {
  appNodeWorkerEnv,
  ConfigError,
  createKeys,
  ioNodeWorkerEnv,
  loadConfig,
  workerPublicUrl,
} from '../src/index.js';

describe('config', () => {
  test('config - defaults when the environment is empty', () => {
    const config = loadConfig({});
    expect(config.redis).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(config.prefix).toBe('iocluster');
    expect(config.ioNode).toMatchObject({
      port: 3001,
      ordering: true,
      eventTimeoutMs: 30_000,
      corsOrigins: '*',
    });
    expect(config.appNode).toMatchObject({
      concurrency: 16,
      lockDurationMs: 5_000,
      stalledIntervalMs: 2_500,
    });
    expect(Object.isFrozen(config.ioNode)).toBe(true);
    // No app-node HTTP server and no admin view unless asked for.
    expect(config.appNode.metricsPort).toBeUndefined();
    expect(config.appNode.metricsHost).toBe('0.0.0.0');
    expect(config.frontend.adminToken).toBeUndefined();
  });

  test('config - METRICS_PORT (0 = a free port), METRICS_HOST and ADMIN_TOKEN', () => {
    const config = loadConfig({
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      ADMIN_TOKEN: ' s3cret-token ',
    });
    expect(config.appNode.metricsPort).toBe(0);
    expect(config.appNode.metricsHost).toBe('127.0.0.1');
    expect(config.frontend.adminToken).toBe('s3cret-token');
    expect(loadConfig({ METRICS_PORT: '9464', ADMIN_TOKEN: '' }).appNode.metricsPort).toBe(9464);
    expect(loadConfig({ ADMIN_TOKEN: '' }).frontend.adminToken).toBeUndefined();
  });

  test('config - parses every kind of value', () => {
    const config = loadConfig({
      REDIS_SENTINELS: 'a:26379, b:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      IO_NODE_PORT: '0',
      ORDERING: 'off',
      IO_NODE_CORS_ORIGINS: 'http://localhost:3000,https://chat.example.com/',
      LOG_LEVEL: 'debug',
    });
    expect(config.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'a', port: 26379 },
        { host: 'b', port: 26380 },
      ],
      name: 'mymaster',
      password: undefined,
    });
    expect(config.ioNode.port).toBe(0);
    expect(config.ioNode.ordering).toBe(false);
    expect(config.ioNode.corsOrigins).toEqual(['http://localhost:3000', 'https://chat.example.com']);
    expect(config.logLevel).toBe('debug');
  });

  test.each([
    [{ IO_NODE_PORT: 'eighty' }, /IO_NODE_PORT must be an integer from 0 to 65535, got "eighty"/],
    [{ APP_NODE_CONCURRENCY: '0' }, /APP_NODE_CONCURRENCY must be an integer from 1/],
    [{ ORDERING: 'maybe' }, /ORDERING must be on\/off/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of fatal, error/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL must use redis: or rediss:/],
    [{ REDIS_URL: 'not a url' }, /REDIS_URL must be a URL/],
    [{ REDIS_SENTINELS: 'a:1' }, /REDIS_SENTINEL_NAME is required/],
    [
      { REDIS_CLUSTER_NODES: 'a' },
      /REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "a"/,
    ],
    [{ IOCLUSTER_PREFIX: 'has space' }, /IOCLUSTER_PREFIX must be/],
    [{ HEARTBEAT_TTL_MS: '1000', HEARTBEAT_INTERVAL_MS: '1000' }, /HEARTBEAT_TTL_MS \(1000\) must be larger/],
    [{ IO_NODE_CORS_ORIGINS: 'nope' }, /IO_NODE_CORS_ORIGINS must be "\*" or a comma-separated list/],
    [{ IO_NODE_WORKERS: '0' }, /IO_NODE_WORKERS must be an integer from 1 to 256, got "0"/],
    [{ APP_NODE_WORKERS: 'many' }, /APP_NODE_WORKERS must be an integer from 1 to 256/],
    [{ IO_NODE_PORT: '65535', IO_NODE_WORKERS: '2' }, /IO_NODE_PORT \(65535\) \+ IO_NODE_WORKERS \(2\) - 1/],
    [{ SOCKETIO_PARSER: 'json' }, /SOCKETIO_PARSER must be one of default, msgpack, got "json"/],
    [{ IOCLUSTER_WORKER_INDEX: '-1' }, /IOCLUSTER_WORKER_INDEX must be an integer from 0/],
    [{ METRICS_PORT: '70000' }, /METRICS_PORT must be an integer from 0 to 65535, got "70000"/],
    [{ ADMIN_TOKEN: 'short' }, /ADMIN_TOKEN must be at least 8 characters/],
    [{ AUTH_JWT_SECRET: 'short' }, /AUTH_JWT_SECRET must be at least 32 bytes/],
    [{ AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWT_JWKS_URL: 'https://a/jwks' }, /set one of AUTH_JWT_SECRET/],
    [
      { AUTH_JWT_PUBLIC_KEY_FILE: '/nonexistent/key.pem' },
      /AUTH_JWT_PUBLIC_KEY_FILE must name a readable file/,
    ],
    [{ AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWT_ALGORITHMS: 'HS256,none' }, /AUTH_JWT_ALGORITHMS must list/],
    [{ MAX_PAYLOAD_BYTES: '10' }, /MAX_PAYLOAD_BYTES must be an integer from 256/],
  ])('config - %o is refused with an error naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('config - workers, parser and the worker marker', () => {
    expect(loadConfig({})).toMatchObject({
      workerIndex: undefined,
      ioNode: { workers: 1, parser: 'default' },
    });
    expect(loadConfig({}).appNode.workers).toBe(1);
    const config = loadConfig({
      IO_NODE_WORKERS: 'auto',
      APP_NODE_WORKERS: '3',
      SOCKETIO_PARSER: 'msgpack',
      IOCLUSTER_WORKER_INDEX: '1',
      IO_NODE_PUBLIC_URL: 'https://io.example.com:{port}/rt',
    });
    expect(config.ioNode).toMatchObject({ workers: availableParallelism(), parser: 'msgpack' });
    expect(config.ioNode.publicUrl).toBe('https://io.example.com:{port}/rt');
    expect(config.appNode.workers).toBe(3);
    expect(config.workerIndex).toBe(1);
  });

  test('worker env - every worker gets its own id, port and public URL', () => {
    const { ioNode, appNode } = loadConfig({
      IO_NODE_ID: 'io-a',
      IO_NODE_PORT: '4000',
      IO_NODE_PUBLIC_URL: 'https://chat.example.com',
      APP_NODE_ID: 'app-a',
    });
    expect(ioNodeWorkerEnv(ioNode, 0, 0)).toEqual({
      IO_NODE_ID: 'io-a-w0',
      IO_NODE_PORT: '4000',
      IO_NODE_PUBLIC_URL: 'https://chat.example.com:{port}',
    });
    expect(ioNodeWorkerEnv(ioNode, 2, 3)).toMatchObject({ IO_NODE_ID: 'io-a-w2-r3', IO_NODE_PORT: '4002' });
    expect(ioNodeWorkerEnv(loadConfig({ IO_NODE_PORT: '0' }).ioNode, 1, 0)).not.toHaveProperty(
      'IO_NODE_PUBLIC_URL',
    );
    expect(ioNodeWorkerEnv(loadConfig({ IO_NODE_PORT: '0' }).ioNode, 1, 0).IO_NODE_PORT).toBe('0');
    expect(appNodeWorkerEnv(appNode, 1, 0)).toEqual({ APP_NODE_ID: 'app-a-w1' });
    expect(workerPublicUrl('http://10.0.0.5:3001/io/?x=1')).toBe('http://10.0.0.5:{port}/io/?x=1');
    expect(workerPublicUrl('http://[::1]:3001')).toBe('http://[::1]:{port}');
    expect(workerPublicUrl('http://h:{port}/p')).toBe('http://h:{port}/p');
  });

  test('config - auth and limits: off and defaults when unset, parsed when set', () => {
    const plain = loadConfig({});
    expect(plain.auth).toBeUndefined();
    expect(plain.limits).toEqual({
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
    const config = loadConfig({
      AUTH_JWT_SECRET: 's'.repeat(40),
      AUTH_JWT_ISSUER: 'me',
      AUTH_JWT_AUDIENCE: 'chat, admin',
      AUTH_JWT_ALGORITHMS: 'HS512',
      MAX_CONNECTIONS: '3',
    });
    expect(config.auth).toEqual({
      secret: 's'.repeat(40),
      publicKeyPem: undefined,
      jwksUrl: undefined,
      issuer: 'me',
      audience: ['chat', 'admin'],
      algorithms: ['HS512'],
      expiryNoticeMs: 30_000,
    });
    expect(config.limits.maxConnections).toBe(3);
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
