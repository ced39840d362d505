import { type AppNode, createAppNode } from '@iocluster/app-node';
import { startRedisServer } from '@iocluster/devkit';
import { createFrontend } from '@iocluster/frontend';
import { createIoNode } from '@iocluster/io-node';
import { createRedis } from '@iocluster/shared';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import { type Cluster, deleteKeys, setup } from './support/cluster.js';
import { failedJobs, INGRESS_TRANSPORTS, injectRawJobs } from './support/ingress.js';
import { scrape, total, value } from './support/metrics.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await cluster?.cleanup();
  cluster = undefined;
});

const metricsOf = (url: string) => scrape(`${url}/metrics`);

describe('metrics', () => {
  test.each(INGRESS_TRANSPORTS)(
    'metrics - io-nodes, app-node and frontend count known traffic exactly (%s)',
    async (transport) => {
      const register = (app: AppNode) => {
        app.on('connection', (socket) => socket.join('lobby'));
        app.on('chat', (_socket, n: number) => {
          app.to('lobby').emit('chat', n);
          return n;
        });
      };
      const c = await setup({ ioNodes: 2, register, transport });
      cluster = c;
      const app = await c.startAppNode({ metricsPort: 0, metricsHost: '127.0.0.1' });
      const frontend = await c.startFrontend();
      expect(app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

      // M = 3 clients (2 on io-node 0, 1 on io-node 1); N = 12 chat events with acks, 2 with no handler.
      const clients = [await c.connect(0), await c.connect(1), await c.connect(0)];
      for (let round = 0; round < 4; round++) {
        const acks = await Promise.all(clients.map((s, i) => s.emitWithAck('chat', round * 10 + i)));
        expect(acks).toEqual([round * 10, round * 10 + 1, round * 10 + 2]);
      }
      const refused = await Promise.all([clients[0]!.emitWithAck('nope'), clients[1]!.emitWithAck('nope')]);
      expect(refused).toEqual([
        { error: { code: 'NO_HANDLER', message: 'no handler for event "nope"' } },
        { error: { code: 'NO_HANDLER', message: 'no handler for event "nope"' } },
      ]);

      // A malformed job fails on the app-node and is kept (a failed job, or a dead letter).
      await injectRawJobs(c, [{ v: 999 }]);
      await until(
        () => failedJobs(c),
        (failed) => failed.length === 1,
        10_000,
      );

      const io = await Promise.all(c.ioNodes.map((node) => metricsOf(node.url)));
      expect(io.map((s) => value(s, 'iocluster_io_connections'))).toEqual([2, 1]);
      expect(total(io, 'iocluster_io_events_total', { kind: 'connect' })).toBe(3);
      expect(total(io, 'iocluster_io_events_total', { kind: 'event' })).toBe(14);
      expect(total(io, 'iocluster_io_events_total', { kind: 'disconnect' })).toBe(0);
      // Every event is answered: 3 connects + 14 events, each timed from enqueue to reply.
      expect(total(io, 'iocluster_io_event_roundtrip_seconds_count')).toBe(17);
      expect(total(io, 'iocluster_io_event_roundtrip_seconds_bucket', { le: '+Inf' })).toBe(17);
      expect(total(io, 'iocluster_io_commands_total', { type: 'reply' })).toBe(17);
      expect(total(io, 'iocluster_io_commands_total', { type: 'join' })).toBe(3);
      // Each io-node holds members of the lobby, so each applies every one of the 12 room emits.
      expect(io.map((s) => value(s, 'iocluster_io_commands_total', { type: 'emit' }))).toEqual([12, 12]);
      expect(total(io, 'iocluster_io_ack_timeouts_total')).toBe(0);
      expect(value(io[0]!, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(value(io[0]!, 'iocluster_redis_reconnects_total', { role: 'command' })).toBe(0);

      const appMetrics = await until(
        () => scrape(app.metricsUrl),
        // The gauge reads the queue at most once a second: wait for a read after the jobs settled.
        (s) => value(s, 'iocluster_queue_jobs', { state: 'failed' }) === 1,
        5_000,
      );
      expect(value(appMetrics, 'iocluster_app_handler_seconds_count', { event: 'chat' })).toBe(12);
      expect(value(appMetrics, 'iocluster_app_handler_seconds_count', { event: 'connection' })).toBe(3);
      // Events with no handler are not timed, so their names never become label values.
      expect(value(appMetrics, 'iocluster_app_handler_seconds_count', { event: 'nope' })).toBeUndefined();
      expect(value(appMetrics, 'iocluster_app_jobs_total', { result: 'failed' })).toBe(1);
      // Events share jobs (batching), so the job count is between 1 and one per event.
      const completed = value(appMetrics, 'iocluster_app_jobs_total', { result: 'completed' })!;
      expect(completed).toBeGreaterThanOrEqual(1);
      expect(completed).toBeLessThanOrEqual(17);
      for (const [state, count] of Object.entries({ waiting: 0, active: 0, delayed: 0, failed: 1 })) {
        expect(value(appMetrics, 'iocluster_queue_jobs', { state }), state).toBe(count);
      }

      const front = await until(
        () => metricsOf(frontend.url),
        (s) => value(s, 'iocluster_queue_jobs', { state: 'failed' }) === 1,
        5_000,
      );
      expect(value(front, 'iocluster_frontend_io_nodes')).toBe(2);
      expect(value(front, 'iocluster_queue_jobs', { state: 'delayed' })).toBe(0);
      expect(value(front, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

      // An io-node whose events no app-node answers (none serves its prefix) gives up on them itself; a
      // handler that is merely slow is answered TIMEOUT by its app-node, at the deadline the event carries.
      const lonely = `${c.prefix}-lonely`;
      const impatient = createIoNode({
        redis: c.redisUrl,
        prefix: lonely,
        host: '127.0.0.1',
        port: 0,
        eventTimeoutMs: 300,
      });
      closers.push(() => deleteKeys(c.redis, lonely));
      closers.push(() => impatient.close());
      await impatient.start();
      const socket = await c.connectTo(impatient.url);
      expect(await socket.emitWithAck('anything')).toEqual({
        error: { code: 'TIMEOUT', message: 'no answer within 300 ms' },
      });
      const late = await metricsOf(impatient.url);
      // Its connect, then the event sent once the connect was given up on.
      expect(value(late, 'iocluster_io_ack_timeouts_total')).toBe(2);
      expect(value(late, 'iocluster_io_events_total', { kind: 'event' })).toBe(1);

      for (const path of ['/healthz', '/readyz']) {
        const res = await fetch(app.metricsUrl.replace('/metrics', path));
        expect(res.status, path).toBe(200);
        expect(await res.json()).toMatchObject({ nodeId: app.nodeId });
      }
    },
  );

  test('metrics - every process counts its Redis reconnects after Redis restarts', async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    const prefix = `t${Date.now().toString(36)}`;
    const node = createIoNode({ redis: redis.url, prefix, host: '127.0.0.1', port: 0 });
    const app = createAppNode({ redis: redis.url, prefix, metricsPort: 0, metricsHost: '127.0.0.1' });
    const frontend = createFrontend({ redis: redis.url, prefix, host: '127.0.0.1', port: 0 });
    closers.push(
      () => node.close(),
      () => app.close(),
      () => frontend.close(),
    );
    await node.start();
    await app.start();
    await frontend.start();
    const urls = [`${node.url}/metrics`, app.metricsUrl, `${frontend.url}/metrics`];
    for (const url of urls) {
      expect(value(await scrape(url), 'iocluster_redis_reconnects_total'), url).toBe(0);
    }

    await redis.stop();
    await redis.start();
    for (const url of urls) {
      const samples = await until(
        () => scrape(url),
        (s) => (value(s, 'iocluster_redis_reconnects_total') ?? 0) >= 1,
        10_000,
      );
      // Every role the process watches reconnected at least once.
      const roles = samples.filter((s) => s.name === 'iocluster_redis_reconnects_total');
      expect(roles.length, url).toBeGreaterThanOrEqual(2);
      for (const sample of roles)
        expect(sample.value, `${url} ${sample.labels.role}`).toBeGreaterThanOrEqual(1);
    }
    // And the nodes are ready again.
    await until(
      () => fetch(`${node.url}/readyz`).then((r) => r.status),
      (status) => status === 200,
      10_000,
    );
    await until(
      () => fetch(app.metricsUrl.replace('/metrics', '/readyz')).then((r) => r.status),
      (status) => status === 200,
      10_000,
    );
    const cleanup = createRedis(redis.url, 'command');
    await cleanup.flushall();
    await cleanup.quit();
  });

  test('metrics - iocluster_presence_members counts the roster entries each io-node holds', async () => {
    const register = (app: AppNode) => {
      app.on('pjoin', async (socket, room: string) => {
        await socket.join(room, { presence: { n: 1 } });
        return true;
      });
      app.on('pleave', async (socket, room: string) => {
        await socket.leave(room);
        return true;
      });
    };
    const c = await setup({ ioNodes: 2, appNodes: 1, register });
    cluster = c;
    const [a, b, d] = [await c.connect(0), await c.connect(0), await c.connect(1)];
    for (const [socket, room] of [
      [a, 'r1'],
      [a, 'r2'],
      [b, 'r1'],
      [d, 'r1'],
    ] as const) {
      expect(await socket.emitWithAck('pjoin', room)).toBe(true);
    }
    const entries = async () =>
      Promise.all(c.ioNodes.map(async (n) => value(await metricsOf(n.url), 'iocluster_presence_members')));
    expect(await until(entries, (v) => v[0] === 3 && v[1] === 1, 5_000)).toEqual([3, 1]);
    await a.emitWithAck('pleave', 'r2');
    expect(await until(entries, (v) => v[0] === 2, 5_000)).toEqual([2, 1]);
  });

  test('metrics - refusals by code (handshakes, rate-limited and oversized events) and inbox lag', async () => {
    const secret = 'metrics-test-secret-0123456789abcdefghij';
    const c = await setup({
      ioNodes: 0,
      register: (app: AppNode) => {
        app.on('connection', (socket) => socket.join('lobby'));
        app.on('ping', (_socket, n: number) => n);
      },
    });
    cluster = c;
    await c.startAppNode();
    const node = await c.startIoNode({
      jwt: { secret },
      clientEventRate: 1,
      clientEventBurst: 2,
      maxPayloadBytes: 1_000,
    });
    const sign = (expInS: number) =>
      new SignJWT({ sub: 'u1' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + expInS)
        .sign(new TextEncoder().encode(secret));
    const refusedWith = async (auth: Record<string, unknown>) => {
      const err = await c.connect(0, { auth }).then(
        () => undefined,
        (e: { data?: { code?: string } }) => e.data?.code,
      );
      return err;
    };
    // Two handshakes with no token, one with an expired one.
    expect(await refusedWith({})).toBe('UNAUTHORIZED');
    expect(await refusedWith({ token: 'not-a-jwt' })).toBe('UNAUTHORIZED');
    expect(await refusedWith({ token: await sign(-60) })).toBe('TOKEN_EXPIRED');
    const client = await c.connect(0, { auth: { token: await sign(300) } });
    // One oversized event, then a burst past the rate: 2 pass (the burst), the third is refused.
    expect(await client.emitWithAck('ping', 'x'.repeat(2_000))).toMatchObject({
      error: { code: 'PAYLOAD_TOO_LARGE' },
    });
    const answers = await Promise.all([1, 2, 3].map((n) => client.emitWithAck('ping', n)));
    expect(answers.slice(0, 2)).toEqual([1, 2]);
    expect(answers[2]).toMatchObject({ error: { code: 'RATE_LIMITED' } });

    const samples = await metricsOf(node.url);
    expect(value(samples, 'iocluster_io_handshakes_refused_total', { code: 'UNAUTHORIZED' })).toBe(2);
    expect(value(samples, 'iocluster_io_handshakes_refused_total', { code: 'TOKEN_EXPIRED' })).toBe(1);
    expect(value(samples, 'iocluster_io_handshakes_refused_total', { code: 'SERVER_FULL' })).toBe(0);
    expect(value(samples, 'iocluster_io_events_refused_total', { code: 'PAYLOAD_TOO_LARGE' })).toBe(1);
    expect(value(samples, 'iocluster_io_events_refused_total', { code: 'RATE_LIMITED' })).toBe(1);
    expect(value(samples, 'iocluster_io_events_total', { kind: 'event' })).toBe(2);
    // Every inbox entry the node read was timed (an entry carries one or more commands).
    const read = value(samples, 'iocluster_io_inbox_lag_seconds_count')!;
    expect(read).toBeGreaterThanOrEqual(1);
    expect(read).toBeLessThanOrEqual(value(samples, 'iocluster_io_commands_total')!);
    expect(value(samples, 'iocluster_io_inbox_lag_seconds_bucket', { le: '60' })).toBe(read);
    // Event-loop lag comes with prom-client's process metrics.
    expect(value(samples, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
  });
});
