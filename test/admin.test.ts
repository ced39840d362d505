import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppNode } from '@iocluster/app-node';
import type { AdminState, Frontend } from '@iocluster/frontend';
import { createKeys, createLogger, deferred, readLiveAppNodes } from '@iocluster/shared';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, test } from 'vitest';
import { authenticateByAuthUser } from './fixtures/authenticate.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';
import { INGRESS_TRANSPORTS, injectRawJobs, jobsAdded } from './support/ingress.js';
import { scrape, value } from './support/metrics.js';
import { until } from './support/poll.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../test-output/', import.meta.url));
// The README's screenshot is rewritten only on request (UPDATE_SCREENSHOTS=1), so test runs leave the
// working tree clean; every run writes its own to test-output/.
const SCREENSHOT = fileURLToPath(
  new URL(
    process.env.UPDATE_SCREENSHOTS === '1' ? '../docs/admin.png' : '../test-output/admin.png',
    import.meta.url,
  ),
);
const TOKEN = 'test-admin-token-1234';

let cluster: Cluster | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await cluster?.cleanup();
  cluster = undefined;
});

const register = (app: AppNode) => {
  app.on('chat', (_socket, n: number) => n);
  app.on('enter', async (socket, room: string, nick: string) => {
    await socket.join(room, { presence: { nick } });
    return socket.memberId;
  });
};

async function state(frontend: Frontend): Promise<AdminState> {
  const res = await fetch(`${frontend.url}/admin/api/state`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as AdminState;
}

describe('admin view', () => {
  test('admin - there is none without a token', async () => {
    cluster = await setup({ ioNodes: 1 });
    const frontend = await cluster.startFrontend();
    for (const path of ['/admin', '/admin/api/state', '/admin/queue/']) {
      expect((await fetch(`${frontend.url}${path}`)).status, path).toBe(404);
    }
  });

  test('admin - asks for the token and refuses a wrong one; form, link and header open it', async () => {
    cluster = await setup({ ioNodes: 1 });
    const frontend = await cluster.startFrontend({ adminToken: TOKEN });
    const form = await fetch(`${frontend.url}/admin`);
    expect(form.status).toBe(401);
    expect(await form.text()).toContain('<form method="post" action="/admin/login">');
    for (const path of ['/admin/api/state', '/admin/queue/', '/admin/assets/admin.js']) {
      const res = await fetch(`${frontend.url}${path}`, { headers: { authorization: 'Bearer wrong-token' } });
      expect(res.status, path).toBe(401);
      expect(await res.json()).toEqual({
        error: { code: 'UNAUTHORIZED', message: 'the admin token is missing or wrong' },
      });
    }
    const login = (token: string) =>
      fetch(`${frontend.url}/admin/login`, {
        method: 'POST',
        body: new URLSearchParams({ token }),
        redirect: 'manual',
      });
    expect((await login('not-the-token')).status).toBe(401);
    expect((await fetch(`${frontend.url}/admin?token=nope`, { redirect: 'manual' })).status).toBe(401);

    for (const res of [
      await login(TOKEN),
      await fetch(`${frontend.url}/admin?token=${TOKEN}`, { redirect: 'manual' }),
    ]) {
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin');
      const cookie = res.headers.get('set-cookie')!;
      expect(cookie).toMatch(/^iocluster_admin=[^;]+; Path=\/admin; HttpOnly; SameSite=Strict$/);
      const page = await fetch(`${frontend.url}/admin`, { headers: { cookie: cookie.split(';')[0]! } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<table id="io-nodes">');
    }
    const board = await fetch(`${frontend.url}/admin/queue/`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('iocluster ingress');
  });

  test('admin - state lists io-nodes with their connections, app-nodes from their heartbeats, the queue', async () => {
    const c = await setup({ ioNodes: 2, register });
    cluster = c;
    const app = await c.startAppNode({ metricsPort: 0, metricsHost: '127.0.0.1', concurrency: 4 });
    const frontend = await c.startFrontend({ adminToken: TOKEN });
    await Promise.all([c.connect(0), c.connect(1), c.connect(1)]);
    const seen = await until(
      () => state(frontend),
      // The queue is read at most once a second: wait for a read after the connect events ran, too.
      (s) => s.ioNodes.reduce((sum, n) => sum + n.connections, 0) === 3 && s.queue?.active === 0,
      5_000,
    );
    expect(seen.ioNodes.map((n) => [n.nodeId, n.connections])).toEqual(
      c.ioNodes
        .map((n, i) => [n.nodeId, i === 0 ? 1 : 2])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
    expect(seen.appNodes).toEqual([
      {
        nodeId: app.nodeId,
        concurrency: 4,
        jobsPerSecond: expect.any(Number),
        eventsPerSecond: expect.any(Number),
        startedAt: expect.any(Number),
        version: '0.1.0',
        lastSeen: expect.any(Number),
        metricsUrl: app.metricsUrl,
      },
    ]);
    const stream = createKeys(c.prefix).ingressPartitions(1)[0]!.stream;
    expect(seen.queue).toEqual({
      transport: 'streams',
      waiting: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      // The connect events, read and acknowledged (and trimmed every few seconds).
      partitions: [
        {
          index: 0,
          key: stream,
          waiting: 0,
          active: 0,
          delayed: 0,
          failed: 0,
          length: expect.any(Number),
          entriesRead: (await jobsAdded(c))[0],
        },
      ],
      consumers: [],
    });
    // No room has members with presence yet: the panel (fed by the cluster's rosters) is empty.
    expect(seen.rooms).toEqual([]);
    expect(seen.errors).toEqual([]);

    // A closed app-node removes its record at once (a silent one would expire with its TTL). The first
    // stays, to answer the clients' disconnects at cleanup.
    const second = await c.startAppNode();
    const listed = await readLiveAppNodes(c.redis, createKeys(c.prefix));
    expect(listed.map((n) => n.nodeId).sort()).toEqual([app.nodeId, second.nodeId].sort());
    expect(listed.find((n) => n.nodeId === second.nodeId)?.metricsUrl).toBe('');
    await second.close();
    expect((await readLiveAppNodes(c.redis, createKeys(c.prefix))).map((n) => n.nodeId)).toEqual([
      app.nodeId,
    ]);
    expect((await state(frontend)).appNodes.map((n) => n.nodeId)).toEqual([app.nodeId]);
  });

  test.each(INGRESS_TRANSPORTS)(
    "admin - each partition's lag and each app-node's pending entries, in the state and the frontend's gauges (%s)",
    async (transport) => {
      const release = deferred();
      const c = await setup({ ioNodes: 1, transport });
      cluster = c;
      const holder = await c.startAppNode({ concurrency: 3 });
      holder.on('echo', (_socket, text: string) => text);
      holder.on('hold', async (_socket, n: number) => {
        await release.promise;
        return n;
      });
      const frontend = await c.startFrontend({ adminToken: TOKEN });
      // Five clients (one event of each client in flight at a time), their connects answered first.
      const clients = await Promise.all(Array.from({ length: 5 }, () => c.connect(0)));
      for (const [i, s] of clients.entries()) expect(await s.emitWithAck('echo', `c${i}`)).toBe(`c${i}`);
      // Three events run and hold the app-node's three slots; two wait unread in the partition. One job
      // each: the next is sent once the last is in (events arriving together would share a job).
      const answers: Promise<unknown>[] = [];
      for (const [i, s] of clients.entries()) {
        const [before] = await jobsAdded(c);
        answers.push(s.emitWithAck('hold', i));
        await until(
          () => jobsAdded(c),
          ([n]) => n === before! + 1,
          5_000,
        );
      }
      const key = (p: { key: string }) => p.key;
      const held = await until(
        () => state(frontend),
        (s) => s.queue?.active === 3 && s.queue.waiting === 2,
        10_000,
      );
      const { stream, name } = createKeys(c.prefix).ingressPartitions(1)[0]!;
      expect(held.queue?.transport).toBe(transport);
      expect(held.queue?.partitions.map(key)).toEqual([transport === 'streams' ? stream : name]);
      expect(held.queue?.partitions[0]).toMatchObject({ index: 0, waiting: 2, active: 3, delayed: 0 });
      if (transport === 'streams') {
        // The pending entries by consumer: the consumer is the app-node, by its id.
        expect(held.queue?.consumers).toEqual([{ consumer: holder.nodeId, pending: 3 }]);
        // Every entry added was read but the two of the lag (the length counts what is not trimmed yet).
        const [added] = await jobsAdded(c);
        expect(held.queue?.partitions[0]?.entriesRead).toBe(added! - 2);
        expect(held.queue?.partitions[0]?.length).toBeGreaterThanOrEqual(5);
      } else {
        expect(held.queue?.consumers).toEqual([]);
        expect(held.queue?.partitions[0]).toMatchObject({ length: null, entriesRead: null });
      }
      const gauges = await scrape(`${frontend.url}/metrics`);
      const part = (state: string) =>
        value(gauges, 'iocluster_ingress_partition_jobs', { partition: '0', state });
      expect([part('waiting'), part('active'), part('delayed')]).toEqual([2, 3, 0]);
      expect(value(gauges, 'iocluster_ingress_consumer_pending', { consumer: holder.nodeId })).toBe(
        transport === 'streams' ? 3 : undefined,
      );

      release.resolve();
      expect(await Promise.all(answers)).toEqual([0, 1, 2, 3, 4]);
      const drained = await until(
        () => state(frontend),
        (s) => s.queue?.active === 0 && s.queue.waiting === 0,
        10_000,
      );
      expect(drained.queue?.consumers).toEqual([]);
    },
  );

  test('admin - the rooms panel shows what its source gives (presence plugs in here); a failing source is reported', async () => {
    cluster = await setup({ ioNodes: 1 });
    let fail = false;
    const frontend = await cluster.startFrontend({
      adminToken: TOKEN,
      adminRooms: {
        rooms: async () => {
          if (fail) throw new Error('presence unreachable');
          return [{ room: 'lobby', members: 2, users: ['ada', 'bob'] }];
        },
      },
    });
    const first = await state(frontend);
    expect(first.rooms).toEqual([{ room: 'lobby', members: 2, users: ['ada', 'bob'] }]);
    expect(first.errors).toEqual([]);
    fail = true;
    const second = await state(frontend);
    expect(second.rooms).toEqual([]);
    expect(second.errors).toEqual(['rooms: presence unreachable']);
    expect(second.ioNodes).toHaveLength(1);
  });

  test('admin - a crashed app-node process leaves the registry when its heartbeat expires', async () => {
    const c = await setup({
      appModule: 'test/fixtures/test-app.ts',
      childEnv: {
        HEARTBEAT_INTERVAL_MS: '200',
        HEARTBEAT_TTL_MS: '800',
        METRICS_PORT: '0',
        METRICS_HOST: '127.0.0.1',
      },
    });
    cluster = c;
    const keys = createKeys(c.prefix);
    const child = await c.startChildAppNode();
    const [record] = await readLiveAppNodes(c.redis, keys);
    expect(record).toMatchObject({ nodeId: child.nodeId, concurrency: 16 });
    // Its metrics server answers at the URL it registered.
    const metrics = await fetch(record!.metricsUrl);
    expect(await metrics.text()).toContain('iocluster_app_jobs_total{result="completed"} 0');
    await child.kill();
    // SIGKILL: no deregistration; the record must expire (800 ms TTL).
    await until(
      () => readLiveAppNodes(c.redis, keys),
      (nodes) => nodes.length === 0,
      5_000,
    );
    // Its own key expires too (Redis expires keys lazily or on its 100 ms cycle: awaited, not assumed).
    await until(
      () => c.redis.exists(keys.appRegistryNode(child.nodeId)),
      (n) => n === 0,
      5_000,
    );
  });

  test('admin - the page in Chromium shows the cluster and updates by itself', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const c = await setup({ ioNodes: 2, register });
    cluster = c;
    await c.startAppNode({ metricsPort: 0, metricsHost: '127.0.0.1' });
    await c.startAppNode({ metricsPort: 0, metricsHost: '127.0.0.1' });
    const frontend = await c.startFrontend({ adminToken: TOKEN });
    const clients = await Promise.all([c.connect(0), c.connect(1), c.connect(0)]);
    // A failed job (a dead letter) to show in the queue.
    await injectRawJobs(c, [{ v: 999 }]);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    closers.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 760 } });
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${frontend.url}/admin`);
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    const text = (selector: string) => page.locator(selector).textContent();
    await page.waitForFunction(() => document.getElementById('connections')?.textContent === '3');
    expect(await text('#io-count')).toBe('2');
    expect(await text('#app-count')).toBe('2');
    expect(await page.locator('#io-nodes tbody tr').count()).toBe(2);
    expect(await page.locator('#app-nodes tbody tr').count()).toBe(2);
    await page.waitForFunction(
      () => document.querySelector('#queue [data-state=failed]')?.textContent === '1',
    );
    expect(await text('#transport')).toBe('(streams)');
    expect(await page.locator('#partitions tbody tr').count()).toBe(1);
    expect(await text('#partitions tbody tr td:nth-child(2)')).toBe(
      createKeys(c.prefix).ingressPartitions(1)[0]!.stream,
    );
    expect(await page.locator('#app-nodes tbody tr td:nth-child(3)').allTextContents()).toEqual(['0', '0']);
    // Rooms with presence, from the cluster's rosters: two members in the lobby, by the names they
    // joined with (their presence meta), not their member ids.
    const ids = await Promise.all(
      clients.slice(0, 2).map((s, i) => s.emitWithAck('enter', 'lobby', `n${i}`)),
    );
    await page.waitForFunction(
      () => document.querySelector('#rooms tbody tr td:nth-child(2)')?.textContent === '2',
    );
    expect(await page.locator('#rooms-off').isVisible()).toBe(false);
    expect(await text('#rooms tbody tr td:nth-child(1)')).toBe('lobby');
    expect(await text('#rooms tbody tr td:nth-child(3)')).toBe('n0, n1');
    expect(ids.every((id) => typeof id === 'string' && id !== 'n0' && id !== 'n1')).toBe(true);

    // A crowded room of long names wraps in its cell: nothing is wider than the 1,400 px window.
    const crowd = await Promise.all(Array.from({ length: 16 }, (_, i) => c.connect(i % 2)));
    await Promise.all(
      crowd.map((s, i) =>
        s.emitWithAck('enter', 'a room with quite a long name', `member-${i}-${'x'.repeat(24)}`),
      ),
    );
    await page.waitForFunction(
      () => document.querySelector('#rooms tbody tr:nth-child(1) td:nth-child(2)')?.textContent === '16',
    );
    expect((await text('#rooms tbody tr:nth-child(1) td:nth-child(3)'))?.split(', ')).toHaveLength(16);
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      sections: [...document.querySelectorAll('section')].map((s) => s.scrollWidth - s.clientWidth),
    }));
    expect(widths.page).toBeLessThanOrEqual(1400);
    expect(widths.sections).toEqual(widths.sections.map(() => 0));
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: `${OUTPUT}admin-crowded-room.png`, fullPage: true });
    for (const s of crowd) s.disconnect();
    await page.waitForFunction(() => document.querySelectorAll('#rooms tbody tr').length === 1);

    // Updates by itself: two more clients show without a reload.
    clients.push(await c.connect(1), await c.connect(1));
    await page.waitForFunction(() => document.getElementById('connections')?.textContent === '5');
    const perNode = await page.locator('#io-nodes tbody tr td:nth-child(3)').allTextContents();
    expect(perNode.map(Number).sort()).toEqual([2, 3]);

    // Steady traffic until the rates (whole seconds, carried by heartbeats) show it; then the README's
    // screenshot.
    let sending = true;
    const traffic = (async () => {
      while (sending) await Promise.all(clients.map((s, i) => s.emitWithAck('chat', i)));
    })();
    await page.waitForFunction(
      () =>
        Number(document.getElementById('events-rate')?.textContent) > 10 &&
        Number(document.getElementById('jobs-rate')?.textContent) > 0,
    );
    sending = false;
    await traffic;
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });

    // The queue dashboard opens behind the same token (the cookie), with the failed job.
    const board = await browser.newPage();
    await page
      .context()
      .cookies()
      .then((cookies) => board.context().addCookies(cookies));
    await board.goto(`${frontend.url}/admin/queue/`);
    await board.getByText('ingress').first().waitFor();
    expect(errors).toEqual([]);
  });

  test('admin - actions in Chromium: publish to a room, remove a socket from it, disconnect a socket and a user; each logged with the admin', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const c = await setup({
      ioNodes: 2,
      appNodes: 1,
      register,
      ioNodeOptions: { authenticate: authenticateByAuthUser },
    });
    cluster = c;
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const frontend = await c.startFrontend({ adminToken: TOKEN, logger });
    const [ann0, ann1, bob] = await Promise.all([
      c.connect(0, { auth: { user: 'ann' } }),
      c.connect(1, { auth: { user: 'ann' } }),
      c.connect(1, { auth: { user: 'bob' } }),
    ]);
    const bobId = bob.id!;
    for (const s of [ann0, bob]) await s.emitWithAck('enter', 'lobby', s === bob ? 'bob' : 'ann');
    const notices = [ann0, ann1, bob].map((s) => collect(s, 'notice'));

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    closers.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${frontend.url}/admin?token=${TOKEN}`);
    const result = page.locator('#action-result');
    /** Fills a form's fields, submits it and waits for its answer to show. */
    const run = async (form: string, fields: Record<string, string>, answer: string | RegExp) => {
      for (const [name, value] of Object.entries(fields)) {
        const field = page.locator(`${form} [name=${name}]`);
        if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value);
        else await field.fill(value);
      }
      await page.click(`${form} button[type=submit]`);
      await expect.poll(() => result.textContent()).toMatch(answer);
    };

    await run('#publish-form', { room: 'lobby', event: 'notice', data: '{"text":"hi"}' }, /^published$/);
    await notices[0]!.until(1);
    await notices[2]!.until(1);
    await run('#leave-form', { socketId: bobId, rooms: 'lobby' }, 'removed 1 connection(s)');
    await run('#publish-form', { room: 'lobby', event: 'notice', data: '{"text":"again"}' }, /^published$/);
    await notices[0]!.until(2);
    const bobGone = nextEvent(bob, 'disconnect');
    await run(
      '#disconnect-form',
      { target: 'socketId', id: bobId, reason: '' },
      'disconnected 1 connection(s)',
    );
    await bobGone;
    // Bob left the room before the second notice; ann's other tab was never in it.
    expect(notices.map((n) => n.items)).toEqual([[{ text: 'hi' }, { text: 'again' }], [], [{ text: 'hi' }]]);

    const told = [ann0, ann1].map((s) => nextEvent<[{ code: string; message: string }]>(s, '$error'));
    await run(
      '#disconnect-form',
      { target: 'user', id: 'ann', reason: 'maintenance' },
      'disconnected 2 connection(s)',
    );
    for (const [error] of await Promise.all(told))
      expect(error).toEqual({ code: 'DISCONNECTED', message: 'maintenance' });
    // A bad action answers its code in the page.
    await run('#publish-form', { room: 'lobby', event: '$nope', data: '1' }, /^BAD_REQUEST: event: /);

    const actions = lines.filter(
      (line) => typeof line.msg === 'string' && line.msg.startsWith('server API '),
    );
    expect(actions.map((line) => [line.msg, line.params as Record<string, unknown>])).toEqual([
      ['server API publish', { room: 'lobby', event: 'notice' }],
      ['server API unsubscribe', { socketId: bobId, rooms: ['lobby'] }],
      ['server API publish', { room: 'lobby', event: 'notice' }],
      ['server API disconnect', { socketId: bobId }],
      ['server API disconnect', { user: 'ann', reason: 'maintenance' }],
    ]);
    for (const line of actions) {
      expect(line.actor).toEqual({
        kind: 'admin',
        id: expect.stringMatching(/^admin-token:[0-9a-f]{8}$/),
        address: expect.any(String),
      });
    }
    // The token itself is never logged.
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    expect(errors).toEqual([]);
  });
});
