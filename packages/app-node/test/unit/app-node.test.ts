import { connect, createServer, type Server, type Socket } from 'node:net';
import { createMemoryCommandPath, createMemoryIngress } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { createAppNode } from '../../src/app-node.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/**
 * A TCP server that counts the connections made to it (and drops them): a Redis nobody may call.
 * `accepted()` first connects to it itself, a few times in a row, and waits until each probe's first
 * byte arrived: a connection anyone opened before is accepted by then.
 */
async function countingServer(): Promise<{ url: string; accepted: () => Promise<number> }> {
  let accepted = 0;
  let onProbe: (() => void) | undefined;
  server = createServer((socket) => {
    accepted++;
    socket.once('data', (chunk) => {
      if (chunk.toString() === PROBE) onProbe?.();
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const probe = async () => {
    const arrived = new Promise<void>((resolve) => {
      onProbe = resolve;
    });
    const socket: Socket = connect(port, '127.0.0.1', () => socket.write(PROBE));
    socket.on('error', () => undefined);
    await arrived;
    socket.destroy();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    async accepted() {
      const probes = 3;
      for (let i = 0; i < probes; i++) await probe();
      return accepted - probes;
    },
  };
}

const PROBE = 'probe';

describe('app-node', () => {
  test.each(['bullmq', 'streams'] as const)(
    'create - every module is built when called and nothing connects before start() (%s ingress)',
    async (ingressTransport) => {
      const redis = await countingServer();
      const app = createAppNode({ redis: redis.url, ingressTransport });
      const remove = app.on('ping', () => 'pong');
      expect(typeof remove).toBe('function');
      expect(() => app.on('ping', () => 'again')).toThrow(/already registered/);
      expect(await redis.accepted()).toBe(0);
      await app.close();
    },
  );

  test('create - injected transports replace the Redis ones: commands go through them, close closes them', async () => {
    const redis = await countingServer();
    const consumer = createMemoryIngress().consumer({ concurrency: 1 });
    let closed = false;
    const ingress = {
      ...consumer,
      close: () => {
        closed = true;
        return consumer.close();
      },
    };
    const path = createMemoryCommandPath();
    const inner = path.transport();
    const asked: string[] = [];
    const commands = {
      ...inner,
      broadcastNodes: () => {
        asked.push('broadcast nodes');
        return inner.broadcastNodes();
      },
    };
    const app = createAppNode({ redis: redis.url, ingress, commands });
    expect(consumer.running()).toBe(false);
    app.emit('to everyone', 1);
    await app.flush();
    expect(asked).toEqual(['broadcast nodes']);
    expect(await redis.accepted()).toBe(0);
    await app.close();
    expect(closed).toBe(true);
  });
});
