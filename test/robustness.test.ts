import { once } from 'node:events';
import { Writable } from 'node:stream';
import { type RedisServer, startRedisServer } from '@iocluster/devkit';
import { createKeys, createLogger, INGRESS_GROUP } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';
import { failedJobs, INGRESS_TRANSPORTS, injectRawJobs, rawEntry } from './support/ingress.js';
import { until } from './support/poll.js';

/** A logger at `warn` whose lines land in `log`, parsed. */
function recordingLogger(log: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) log.push(JSON.parse(line));
      done();
    },
  });
  return createLogger({ level: 'warn', name: 'app-node', destination: sink });
}

let cluster: Cluster | undefined;
let ownRedis: RedisServer | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  await ownRedis?.stop();
  cluster = undefined;
  ownRedis = undefined;
});

describe('robustness', () => {
  test('commands - malformed messages are dropped and the valid commands around them still apply', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 1, register: registerTestApp });
    const c = cluster;
    const a = await c.connect(0);
    await a.emitWithAck('join', 'r');
    const keys = createKeys(c.prefix);
    const got = collect(a, 'note');
    const inbox = keys.inbox(c.ioNodes[0]!.nodeId);
    const append = (raw: string) => c.redis.xadd(inbox, '*', 'c', raw);
    await append('not json at all');
    await append(JSON.stringify({ v: 7, cmds: [] }));
    await append(JSON.stringify({ v: 1, cmds: 'x' }));
    await c.redis.xadd(inbox, '*', 'unknown-field', 'ignored');
    await append(
      JSON.stringify({
        v: 1,
        cmds: [
          { type: 'emit', event: 'note', args: ['first'], rooms: ['r'] },
          { type: 'emit', event: 42, args: [] },
          { type: 'join', socketId: a.id },
          { type: 'emit', event: 'note', args: ['second'], rooms: ['r'] },
        ],
      }),
    );
    await got.until(2);
    expect(got.items).toEqual(['first', 'second']);
    expect(await a.emitWithAck('echo', 'alive')).toEqual(['alive']);
  });

  test('clients - hostile packets get errors, never crash the node, and others are unaffected', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 1, register: registerTestApp });
    const c = cluster;
    const [evil, bystander] = await Promise.all([c.connect(0), c.connect(0)]);
    const engine = evil.io.engine;
    const evilGone = nextEvent<[string]>(evil, 'disconnect');
    // Raw Socket.IO packets the client library would never produce.
    engine.send('2[123,"numeric event name"]');
    engine.send('2["x",{"unterminated": ');
    engine.send('2[]');
    engine.send('9garbage');
    // Socket.IO answers a packet it cannot parse by closing that client's connection.
    expect((await evilGone)[0]).toBe('transport close');
    expect(await bystander.emitWithAck('echo', 'ok')).toEqual(['ok']);
    expect(await bystander.emitWithAck('connection')).toMatchObject({ error: { code: 'RESERVED_EVENT' } });
    expect(await bystander.emitWithAck('x'.repeat(300))).toMatchObject({ error: { code: 'INVALID_EVENT' } });
    // Deeply nested and large-but-allowed payloads are carried as they are.
    let nested: unknown = 'leaf';
    for (let i = 0; i < 200; i++) nested = [nested];
    expect(await bystander.emitWithAck('echo', nested)).toEqual([nested]);
    const big = 'y'.repeat(60_000);
    expect(await bystander.emitWithAck('echo', big)).toEqual([big]);
    expect(await bystander.emitWithAck('echo', 'y'.repeat(66_000))).toMatchObject({
      error: { code: 'PAYLOAD_TOO_LARGE' },
    });
    // Far over the 64 KB default limit the client is cut off; the node and everyone else go on.
    const fresh = await c.connect(0);
    const gone = nextEvent(fresh, 'disconnect');
    fresh.emit('echo', 'z'.repeat(1_100_000));
    await gone;
    expect(await bystander.emitWithAck('echo', 'still ok')).toEqual(['still ok']);
    expect(c.ioNodes[0]!.connections).toBeGreaterThanOrEqual(1);
  });

  test('timeout - with no app-node running the ack gets TIMEOUT, and the client goes on once one starts', async () => {
    cluster = await setup({ ioNodes: 1, register: registerTestApp, ioNodeOptions: { eventTimeoutMs: 300 } });
    const c = cluster;
    const a = await c.connect(0);
    expect(await a.emitWithAck('echo', 1)).toEqual({
      error: { code: 'TIMEOUT', message: 'no answer within 300 ms' },
    });
    await c.startAppNode();
    // The connect and first event are still queued and now run; their late replies are ignored.
    expect(await a.emitWithAck('echo', 2)).toEqual([2]);
  });

  test.each(INGRESS_TRANSPORTS)(
    'jobs - malformed ingress jobs are failed with code WIRE_INVALID, logged and kept; the worker carries on (%s)',
    async (transport) => {
      const log: Record<string, unknown>[] = [];
      cluster = await setup({
        ioNodes: 1,
        appNodes: 1,
        transport,
        register: registerTestApp,
        appNodeOptions: { logger: recordingLogger(log) },
      });
      const c = cluster;
      // A job of an unknown version; with Streams also an entry that is not JSON (BullMQ keeps only JSON).
      const bad: unknown[] = [{ v: 99, nodeId: 'x', batches: [] }];
      if (transport === 'streams') bad.push(rawEntry('{"v":1,'), rawEntry('not json'));
      const ids = await injectRawJobs(c, bad);
      const failed = await until(
        () => failedJobs(c),
        (list) => list.length === bad.length,
        10_000,
      );
      expect(failed.map((f) => f.id).sort()).toEqual([...ids].sort());
      const versionFailure = failed.find((f) => f.id === ids[0]);
      expect(versionFailure?.reason).toContain('job has version 99, expected 1');
      // One error line per job, with the decoder's stable code.
      const lines = log.filter((line) => /malformed ingress/.test(String(line.msg)));
      expect(lines.map((line) => (line.err as { code?: string }).code)).toEqual(
        bad.map(() => 'WIRE_INVALID'),
      );
      if (transport === 'streams') {
        // Dead letters keep the code too; nothing stays pending in the group.
        expect(failed.map((f) => f.code)).toEqual(bad.map(() => 'WIRE_INVALID'));
        const { stream } = createKeys(c.prefix).ingressPartitions(1)[0]!;
        await until(
          async () => (await c.redis.xpending(stream, INGRESS_GROUP))[0],
          (n) => n === 0,
          5_000,
        );
      }
      const a = await c.connect(0);
      expect(await a.emitWithAck('echo', 'after')).toEqual(['after']);
    },
  );

  test('redis - nodes ride out a Redis restart and an event sent during the outage is answered', async () => {
    ownRedis = await startRedisServer();
    cluster = await setup({ ioNodes: 2, appNodes: 2, register: registerTestApp, redisUrl: ownRedis.url });
    const c = cluster;
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    expect(await a.emitWithAck('echo', 'before')).toEqual(['before']);
    // Listening first: ioredis may notice the outage before stop() returns.
    const noticed = once(c.redis, 'reconnecting');
    await ownRedis.stop();
    const during = a.emitWithAck('echo', 'during');
    await noticed;
    await ownRedis.start();
    expect(await during).toEqual(['during']);
    expect(await b.emitWithAck('join', 'after')).toEqual(['after']);
    const note = nextEvent(b, 'room');
    await a.emitWithAck('to room', 'after', 'hello again');
    expect(await note).toEqual(['hello again']);
  });

  test('shutdown - an app-node closing finishes its running job; an io-node closing delivers disconnects', async () => {
    const disconnects: string[] = [];
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => {
        registerTestApp(app);
        app.on('disconnect', (socket, reason) => {
          disconnects.push(`${socket.id}:${reason}`);
        });
      },
    });
    const c = cluster;
    const a = await c.connect(0);
    const started = nextEvent(a, 'started');
    const slow = a.emitWithAck('slow', 7, 300);
    await started;
    const closing = c.appNodes[0]!.close();
    expect(await slow).toBe(7);
    await closing;
    await c.startAppNode();
    const id = a.id;
    const gone = nextEvent<[string]>(a, 'disconnect');
    await c.ioNodes[0]!.close();
    expect((await gone)[0]).toBe('io server disconnect');
    expect(disconnects).toEqual([`${id}:server namespace disconnect`]);
  });
});

test('handlers - a handler that never settles is answered TIMEOUT and the client goes on', async () => {
  cluster = await setup({
    ioNodes: 1,
    appNodes: 1,
    register: (app) => {
      registerTestApp(app);
      app.on('hang', () => new Promise(() => undefined));
    },
    appNodeOptions: { handlerTimeoutMs: 200 },
  });
  const a = await cluster.connect(0);
  expect(await a.emitWithAck('hang')).toEqual({
    error: { code: 'TIMEOUT', message: 'handler for "hang" did not finish within 200 ms' },
  });
  expect(await a.emitWithAck('echo', 'next')).toEqual(['next']);
});

test('health - an io-node answers /healthz and /readyz, and stops listening once closed', async () => {
  cluster = await setup({ ioNodes: 1 });
  const node = cluster.ioNodes[0]!;
  const health = await fetch(`${node.url}/healthz`);
  expect([health.status, await health.json()]).toEqual([200, { status: 'ok', nodeId: node.nodeId }]);
  const ready = await fetch(`${node.url}/readyz`);
  expect([ready.status, await ready.json()]).toEqual([
    200,
    { status: 'ready', nodeId: node.nodeId, connections: 0, reasons: [] },
  ]);
  expect((await fetch(`${node.url}/nope`)).status).toBe(404);
  await node.close();
  await expect(fetch(`${node.url}/readyz`)).rejects.toThrow();
});
