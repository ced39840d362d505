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
    [{ METRICS_PORT: '70000' }, /METRICS_PORT must be an integer from 0 to 65535, got "70000"/],
    [{ ADMIN_TOKEN: 'short' }, /ADMIN_TOKEN must be at least 8 characters/],
  ])('config - %o is refused with an error naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('keys - every name carries the prefix and queue keys share one hash tag', () => {
    const keys = createKeys('chat');
    expect(keys.bullPrefix).toBe('{chat}');
    expect(keys.nodeChannel('n1')).toBe('chat:cmd:node:n1');
    expect(keys.broadcastChannel).toBe('chat:cmd:all');
    expect(keys.registryNode('n1').startsWith('{chat}:')).toBe(true);
    // App-node records beside the io-node ones, distinct from them, under the same tag.
    expect(keys.appRegistryIndex).toBe('{chat}:registry:apps');
    expect(keys.appRegistryNode('n1')).toBe('{chat}:registry:app:n1');
    expect(keys.appRegistryNode('n1')).not.toBe(keys.registryNode('n1'));
    expect(keys.app('history', 'lobby')).toBe('chat:app:history:lobby');
    expect(() => createKeys('a:b')).toThrow(/key prefix "a:b"/);
  });
});
