import type { IoclusterClient, RecoveryReport } from '@iocluster/client';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterEach, describe, expect, test } from 'vitest';
import { authenticateByAuthUser } from './fixtures/authenticate.js';
import registerTestApp from './fixtures/test-app.js';
import { clientFactory, next } from './support/clients.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await cluster?.cleanup();
  cluster = undefined;
});

const KEY = 'test-api-key-0123456789';
const HISTORY = { rooms: ['news:*'] };
const client = clientFactory(clients, { backoffMinMs: 50, backoffMaxMs: 200 });

type Position = { epoch: string; offset: number };

/** One request to the server API; answers its status, JSON body and headers. */
async function api(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; key?: string | null; raw?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const key = init.key === undefined ? KEY : init.key;
  const res = await fetch(`${base}/api/v1${path}`, {
    method: init.method ?? (init.body === undefined && init.raw === undefined ? 'GET' : 'POST'),
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(init.body === undefined && init.raw === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.raw !== undefined
      ? { body: init.raw }
      : init.body === undefined
        ? {}
        : { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe('emitter and server API', () => {
  test('emitter - from another process: a room emit reaches its members on both io-nodes once; a publish to a history room answers its position, recorded like an app-node emit', async () => {
    const c = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: registerTestApp,
      appNodeOptions: { history: HISTORY },
    });
    cluster = c;
    const [a, b, stranger] = await Promise.all([c.connect(0), c.connect(1), c.connect(1)]);
    for (const s of [a, b]) {
      await s.emitWithAck('join', 'lobby');
      await s.emitWithAck('join', 'news:1');
    }
    const got = [a, b, stranger].map((s) => ({
      hello: collect(s, 'hello'),
      headline: collect(s, 'headline'),
    }));
    const done = [a, b, stranger].map((s) => collect(s, 'done'));

    const ready = await c.runScript(
      'test/fixtures/emitter-script.ts',
      [
        JSON.stringify([
          { op: 'emit', rooms: ['lobby', 'news:1'], event: 'hello', args: ['both rooms', 1] },
          { op: 'publish', room: 'news:1', event: 'headline', data: { n: 1 } },
          { op: 'publish', room: 'news:1', event: 'headline', data: { n: 2 } },
          { op: 'emit', rooms: [], event: 'done', args: [] },
        ]),
      ],
      { HISTORY_ROOMS: 'news:*' },
    );
    const [hello, first, second] = ready.results as [
      { recorded: { room: string; position: Position }[] },
      { position: Position },
      { position: Position },
    ];
    await Promise.all(done.map((d) => d.until(1)));
    for (const { hello: h, headline } of got.slice(0, 2)) {
      expect(h.items).toEqual(['both rooms']);
      expect(headline.items).toEqual([{ n: 1 }, { n: 2 }]);
    }
    expect(got[2]!.hello.items).toEqual([]);
    expect(got[2]!.headline.items).toEqual([]);
    // The emit to two rooms was recorded once, in the one that keeps history; the publishes follow it.
    expect(hello.recorded).toEqual([{ room: 'news:1', position: { epoch: expect.any(String), offset: 1 } }]);
    expect(first.position).toEqual({ epoch: hello.recorded[0]!.position.epoch, offset: 2 });
    expect(second.position).toEqual({ epoch: hello.recorded[0]!.position.epoch, offset: 3 });
    const page = await c.appNodes[0]!.history('news:1');
    expect(page.messages.map((m) => [m.offset, m.event, m.args])).toEqual([
      [1, 'hello', ['both rooms', 1]],
      [2, 'headline', [{ n: 1 }]],
      [3, 'headline', [{ n: 2 }]],
    ]);
  });

  test('server API - a publish while a client is away is recovered by @iocluster/client when it comes back', async () => {
    const c = await setup({
      appNodes: 1,
      register: registerTestApp,
      appNodeOptions: { history: HISTORY },
      ioNodeOptions: { heartbeatIntervalMs: 200, heartbeatTtlMs: 600 },
    });
    cluster = c;
    const frontend = await c.startChildFrontend({
      API_KEY: KEY,
      HISTORY_ROOMS: 'news:*',
      FRONTEND_REGISTRY_REFRESH_MS: '100',
    });
    const victim = await c.startChildIoNode({ HEARTBEAT_INTERVAL_MS: '200', HEARTBEAT_TTL_MS: '600' });
    const reader = client({ frontendUrl: frontend.url });
    await next(reader, 'connected');
    expect(reader.nodeId).toBe(victim.nodeId);
    const headlines: unknown[] = [];
    reader.on('headline', (data: unknown) => headlines.push(data));
    await reader.emitWithAck('join', 'news:away');
    const live = await api(frontend.url, '/publish', {
      body: { room: 'news:away', event: 'headline', data: 'live' },
    });
    expect(live).toMatchObject({ status: 200, body: { position: { offset: 1 } } });
    await c.startIoNode();
    const lost = next(reader, 'disconnected');
    await victim.kill();
    await lost;
    const away = await api(frontend.url, '/publish', {
      body: { room: 'news:away', event: 'headline', data: 'while away' },
    });
    expect(away.body).toEqual({ position: { epoch: (live.body.position as Position).epoch, offset: 2 } });
    const [report] = (await next(reader, 'recovered')) as [RecoveryReport];
    expect(report).toMatchObject({ recovered: true, rooms: ['news:away'], missed: 1 });
    expect(headlines).toEqual(['live', 'while away']);
  });

  test('server API - publish reaches members on both io-nodes with its position; the same idempotency key again delivers nothing and answers the same', async () => {
    const c = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: registerTestApp,
      appNodeOptions: { history: HISTORY },
    });
    cluster = c;
    const frontend = await c.startChildFrontend({ API_KEY: KEY, HISTORY_ROOMS: 'news:*' });
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    for (const s of [a, b]) await s.emitWithAck('join', 'news:idem');
    const seen = [a, b].map((s) => collect(s, 'headline'));
    const done = [a, b].map((s) => collect(s, 'done'));

    const body = { room: 'news:idem', event: 'headline', data: { text: 'once' }, idempotencyKey: 'order-42' };
    const first = await api(frontend.url, '/publish', { body });
    const again = await api(frontend.url, '/publish', { body });
    const other = await api(frontend.url, '/publish', { body: { ...body, idempotencyKey: 'order-43' } });
    const plain = await api(frontend.url, '/broadcast', {
      body: { rooms: ['news:idem', 'x'], event: 'done' },
    });

    expect(first.status).toBe(200);
    expect(first.body).toEqual({ position: { epoch: expect.any(String), offset: 1 } });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again).toMatchObject({ status: 200, body: first.body });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(other.body).toEqual({ position: { epoch: (first.body.position as Position).epoch, offset: 2 } });
    expect(plain.body).toEqual({
      recorded: [{ room: 'news:idem', position: { epoch: expect.any(String), offset: 3 } }],
    });
    // Ten at once with one new key: one runs; the others get its answer, or IN_PROGRESS while it runs.
    const race = await Promise.all(
      Array.from({ length: 10 }, () =>
        api(frontend.url, '/publish', { body: { ...body, data: { text: 'raced' }, idempotencyKey: 'race' } }),
      ),
    );
    const ran = race.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
    expect(ran).toHaveLength(1);
    for (const r of race) {
      if (r.status === 200) expect(r.body).toEqual(ran[0]!.body);
      else expect(r).toMatchObject({ status: 409, body: { error: { code: 'IN_PROGRESS' } } });
    }
    await api(frontend.url, '/broadcast', { body: { rooms: ['news:idem'], event: 'done' } });
    await Promise.all(done.map((d) => d.until(2)));
    for (const s of seen) expect(s.items).toEqual([{ text: 'once' }, { text: 'once' }, { text: 'raced' }]);
  });

  test('server API - subscribe and unsubscribe a socket or a user, disconnect a user on both io-nodes with its reason, and one socket', async () => {
    const c = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: registerTestApp,
      ioNodeOptions: { authenticate: authenticateByAuthUser },
    });
    cluster = c;
    const frontend = await c.startChildFrontend({ API_KEY: KEY });
    const [ann0, ann1, bob] = await Promise.all([
      c.connect(0, { auth: { user: 'ann' } }),
      c.connect(1, { auth: { user: 'ann' } }),
      c.connect(1, { auth: { user: 'bob' } }),
    ]);
    const news = [ann0, ann1, bob].map((s) => collect(s, 'news'));
    const done = [ann0, ann1, bob].map((s) => collect(s, 'done'));
    /** Publishes to the room, then to everyone a marker; resolves once every client got the marker. */
    const publishThenMark = async (n: number) => {
      await api(frontend.url, '/publish', { body: { room: 's:room', event: 'news', data: n } });
      await api(frontend.url, '/broadcast', {
        body: { rooms: ['s:room', `$user:ann`, `$user:bob`], event: 'done' },
      });
      await Promise.all(done.map((d) => d.until(n)));
    };

    expect(
      await api(frontend.url, '/subscribe', { body: { socketId: bob.id, rooms: ['s:room'] } }),
    ).toMatchObject({
      status: 200,
      body: { count: 1, missingNodes: [] },
    });
    await publishThenMark(1);
    expect(
      (await api(frontend.url, '/subscribe', { body: { user: 'ann', rooms: ['s:room'] } })).body,
    ).toEqual({
      count: 2,
      missingNodes: [],
    });
    await publishThenMark(2);
    expect(
      (await api(frontend.url, '/unsubscribe', { body: { socketId: bob.id, rooms: ['s:room'] } })).body,
    ).toEqual({
      count: 1,
      missingNodes: [],
    });
    await publishThenMark(3);
    expect(news.map((n) => n.items)).toEqual([
      [2, 3],
      [2, 3],
      [1, 2],
    ]);

    expect(
      (await api(frontend.url, '/disconnect', { body: { user: 'ann', socketId: bob.id } })).body,
    ).toMatchObject({
      error: { code: 'BAD_REQUEST', message: 'body: give either user or socketId' },
    });
    const told = [ann0, ann1].map((s) => nextEvent<[{ code: string; message: string }]>(s, '$error'));
    const gone = [ann0, ann1, bob].map((s) => nextEvent(s, 'disconnect'));
    expect(
      (await api(frontend.url, '/disconnect', { body: { user: 'ann', reason: 'banned' } })).body,
    ).toEqual({
      count: 2,
      missingNodes: [],
    });
    for (const t of await Promise.all(told))
      expect(t[0]).toEqual({ code: 'DISCONNECTED', message: 'banned' });
    await Promise.all(gone.slice(0, 2));
    expect(bob.connected).toBe(true);
    expect((await api(frontend.url, '/disconnect', { body: { socketId: bob.id } })).body).toEqual({
      count: 1,
      missingNodes: [],
    });
    await gone[2];
    expect((await api(frontend.url, '/disconnect', { body: { socketId: 'no-such-socket' } })).body).toEqual({
      count: 0,
      missingNodes: [],
    });
  });

  test('server API - missing or wrong key 401, bad bodies 400 with the field named, past the rate 429, off without API_KEY', async () => {
    const c = await setup({ ioNodes: 1 });
    cluster = c;
    const frontend = await c.startChildFrontend({
      API_KEY: KEY,
      API_RATE_LIMIT: '12',
      API_RATE_WINDOW_MS: '60000',
    });
    const publish = { room: 'r', event: 'e', data: 1 };
    expect(await api(frontend.url, '/publish', { body: publish, key: null })).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED' } },
    });
    expect(await api(frontend.url, '/publish', { body: publish, key: `${KEY}x` })).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED' } },
    });
    const bad: [unknown, string][] = [
      [{ event: 'e' }, 'room'],
      [{ room: 'r', event: '$presence' }, 'event: event names starting with "$" are reserved'],
      [{ room: 'r', event: 'e', extra: true }, 'extra'],
      [{ room: 'r', event: 'e', idempotencyKey: '' }, 'idempotencyKey'],
    ];
    for (const [body, named] of bad) {
      const res = await api(frontend.url, '/publish', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((res.body.error as { code: string; message: string }).code).toBe('BAD_REQUEST');
      expect((res.body.error as { message: string }).message).toContain(named);
    }
    expect(await api(frontend.url, '/publish', { raw: '{not json' })).toMatchObject({
      status: 400,
      body: { error: { code: 'BAD_REQUEST', message: 'the body is not valid JSON' } },
    });
    expect(await api(frontend.url, '/history/r?limit=0')).toMatchObject({
      status: 400,
      body: { error: { code: 'BAD_REQUEST' } },
    });
    expect(await api(frontend.url, '/nope')).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    // 9 requests so far; the 13th within the window is refused, and so is every one after it (bounded).
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await api(frontend.url, '/presence-stats/r')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    const limited = await api(frontend.url, '/presence-stats/r');
    expect(limited.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(limited.headers.get('ratelimit-policy')).toContain('12');

    const off = await c.startFrontend();
    expect(await api(off.url, '/publish', { body: publish })).toMatchObject({
      status: 404,
      body: { error: { code: 'API_DISABLED' } },
    });
  });

  test('server API - presence, presence stats, history (since and limit), channels and batch', async () => {
    const c = await setup({
      ioNodes: 2,
      appNodes: 1,
      register: (app) => {
        registerTestApp(app);
        app.on('enter', (socket, room: string, nick: string) => socket.join(room, { presence: { nick } }));
      },
      appNodeOptions: { history: HISTORY },
    });
    cluster = c;
    const frontend = await c.startFrontend({ apiKey: KEY, history: HISTORY });
    const [a, b, b2] = await Promise.all([c.connect(0), c.connect(1), c.connect(1)]);
    await a.emitWithAck('enter', 'news:p', 'ada');
    await b.emitWithAck('enter', 'news:p', 'bob');
    await b2.emitWithAck('enter', 'news:p', 'bob too');

    const presence = await api(frontend.url, '/presence/news%3Ap');
    expect(presence.status).toBe(200);
    const members = presence.body.members as { id: string; meta: { nick: string }; connections: unknown[] }[];
    expect(members.map((m) => [m.meta.nick, m.connections.length])).toEqual([
      ['ada', 1],
      ['bob', 1],
      ['bob too', 1],
    ]);
    expect((await api(frontend.url, '/presence-stats/news%3Ap')).body).toEqual({
      room: 'news:p',
      members: 3,
      connections: 3,
    });
    expect((await api(frontend.url, '/channels')).body).toEqual({ rooms: [{ room: 'news:p', members: 3 }] });

    const batch = await api(frontend.url, '/batch', {
      body: {
        commands: [
          { method: 'publish', params: { room: 'news:h', event: 'm', data: 1 } },
          { method: 'publish', params: { room: 'news:h', event: '' } },
          { method: 'nope', params: {} },
          { method: 'publish', params: { room: 'news:h', event: 'm', data: 2 } },
          { method: 'presenceStats', params: { room: 'news:p' } },
        ],
      },
    });
    expect(batch.status).toBe(200);
    const replies = batch.body.replies as Record<string, unknown>[];
    expect(replies).toMatchObject([
      { result: { position: { offset: 1 } } },
      { error: { code: 'BAD_REQUEST' } },
      { error: { code: 'BAD_REQUEST', message: 'unknown method "nope"' } },
      { result: { position: { offset: 2 } } },
      { result: { members: 3, connections: 3 } },
    ]);
    const { epoch } = (replies[0]!.result as { position: Position }).position;
    for (let i = 3; i <= 6; i++)
      await api(frontend.url, '/publish', { body: { room: 'news:h', event: 'm', data: i } });
    const last2 = await api(frontend.url, '/history/news%3Ah?limit=2');
    expect(last2.body).toMatchObject({ position: { epoch, offset: 6 }, complete: true });
    expect((last2.body.messages as { args: unknown[] }[]).map((m) => m.args)).toEqual([[5], [6]]);
    const after3 = await api(frontend.url, `/history/news%3Ah?epoch=${epoch}&offset=3&limit=2`);
    expect((after3.body.messages as { offset: number }[]).map((m) => m.offset)).toEqual([4, 5]);
    expect((await api(frontend.url, '/history/news%3Ah?epoch=other&offset=3')).body).toMatchObject({
      complete: false,
      messages: [],
    });
  });

  test('server API - the OpenAPI document at /api/v1/openapi.json is valid OpenAPI 3.1 and describes every route', async () => {
    const c = await setup({ ioNodes: 1 });
    cluster = c;
    const frontend = await c.startFrontend({ apiKey: KEY });
    const res = await fetch(`${frontend.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const document = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths).sort()).toEqual([
      '/api/v1/batch',
      '/api/v1/broadcast',
      '/api/v1/channels',
      '/api/v1/disconnect',
      '/api/v1/history/{room}',
      '/api/v1/openapi.json',
      '/api/v1/presence-stats/{room}',
      '/api/v1/presence/{room}',
      '/api/v1/publish',
      '/api/v1/subscribe',
      '/api/v1/unsubscribe',
    ]);
    // An invalid document is refused by the same validator: the check can fail.
    expect(
      (
        await validator.validate({ openapi: '3.1.0', paths: 1 } as unknown as Parameters<
          Validator['validate']
        >[0])
      ).valid,
    ).toBe(false);
  });
});
