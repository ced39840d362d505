import { createServer, type Server, type Socket } from 'node:net';
import type { IoNodeRecord } from '@iocluster/shared';
import { silentLogger } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { createNodeReachability, type NodeReachability } from '../../src/node-reachability.js';

const servers: Server[] = [];
let reachability: NodeReachability | undefined;
afterEach(async () => {
  reachability?.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A TCP server on 127.0.0.1 (port 0 picks one), with the sockets it accepted. */
async function server(port = 0): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const s = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
  return { server: s, port: (s.address() as { port: number }).port, sockets };
}

function record(nodeId: string, port: number): IoNodeRecord {
  return {
    nodeId,
    url: `http://127.0.0.1:${port}`,
    connections: 0,
    startedAt: 1,
    version: '0.0.0',
    lastSeen: 1,
    eventsPerSecond: 0,
  };
}

/** Kills a server as SIGKILL would: no more listening, every connection reset. */
async function kill(target: { server: Server; sockets: Set<Socket> }): Promise<void> {
  const closed = new Promise((resolve) => target.server.close(resolve));
  for (const socket of target.sockets) socket.resetAndDestroy();
  await closed;
}

describe('node reachability', () => {
  test('reachability - a node whose process dies is unusable at once, usable again once it listens; an unreachable one is never marked', async () => {
    const changes: string[] = [];
    let notify = () => {};
    reachability = createNodeReachability({
      retryMs: 100,
      logger: silentLogger(),
      onChange: (nodeId, usable) => {
        changes.push(`${nodeId} ${usable ? 'usable' : 'unusable'}`);
        notify();
      },
    });
    const changed = (count: number) =>
      new Promise<void>((resolve) => {
        notify = () => {
          if (changes.length >= count) resolve();
        };
        notify();
      });
    const up = await server();
    // Nothing listens on `refusing`'s port: the frontend never reached it, so it is never marked.
    const refusing = await server();
    await kill(refusing);
    reachability.update([record('up', up.port), record('refusing', refusing.port)]);
    await changed(1);
    expect(reachability.unusable('up')).toBe(false);

    const died = Date.now();
    await kill(up);
    await changed(2);
    expect(Date.now() - died).toBeLessThan(100);
    expect(reachability.unusable('up')).toBe(true);

    const back = await server(up.port);
    await changed(3);
    expect(back.sockets.size).toBe(1);
    expect(reachability.unusable('up')).toBe(false);
    expect(reachability.unusable('refusing')).toBe(false);
    expect(changes).toEqual(['up usable', 'up unusable', 'up usable']);

    // No longer listed: its connection goes and nothing more is reported of it.
    const gone = new Promise((resolve) => [...back.sockets][0]!.once('close', resolve));
    reachability.update([]);
    await gone;
    expect(reachability.unusable('up')).toBe(false);
  });
});
