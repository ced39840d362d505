import { describe, expect, test } from 'vitest';
import { ConfigError, createKeys, loadConfig } from '../src/index.js';

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

  test('config - auth and limits: off and defaults when unset, parsed when set', () => {
    const plain = loadConfig({});
    expect(plain.auth).toBeUndefined();
    expect(plain.limits).toEqual({
      clientEventRate: 200,
      clientEventBurst: 1_000,
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
    expect(keys.nodeChannel('n1')).toBe('chat:cmd:node:n1');
    expect(keys.broadcastChannel).toBe('chat:cmd:all');
    expect(keys.registryNode('n1').startsWith('{chat}:')).toBe(true);
    expect(keys.app('history', 'lobby')).toBe('chat:app:history:lobby');
    expect(() => createKeys('a:b')).toThrow(/key prefix "a:b"/);
  });
});
