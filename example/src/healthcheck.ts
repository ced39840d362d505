import { createConnection } from 'node:net';
import { redisReachable } from '@iocluster/devkit';
import { loadSettings } from '@iocluster/shared';

/**
 * Container health check, one script for every service of docker-compose.yml:
 * - `healthcheck.js http://127.0.0.1:3000/healthz`: the URL answers 2xx (frontend);
 * - `healthcheck.js http://127.0.0.1:3001/readyz`: the io-node is listening and reaches Redis;
 * - `healthcheck.js tcp://host:port`: the port accepts connections;
 * - `healthcheck.js redis`: the Redis of REDIS_URL answers PING (an app-node run without METRICS_PORT).
 * Exits 0 when healthy, 1 otherwise, within 3 s.
 */
const target = process.argv[2] ?? '';
const timeoutMs = 3_000;

function tcp(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port) });
    socket.setTimeout(timeoutMs, () => resolve(false));
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function check(): Promise<boolean> {
  if (target === 'redis') {
    const { redis } = loadSettings('cluster');
    return redis.kind === 'standalone' ? redisReachable(redis.url, timeoutMs) : true;
  }
  const url = new URL(target);
  if (url.protocol === 'tcp:') return tcp(url);
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return response.ok;
}

check().then(
  (ok) => process.exit(ok ? 0 : 1),
  () => process.exit(1),
);
