import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createRedis } from '@iocluster/shared';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { buildPage } from '../example/src/build-page.js';
import { type Stack, startStack } from '../example/src/launcher.js';
import { deleteKeys } from './support/cluster.js';
import { until } from './support/poll.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../test-output/', import.meta.url));

let stack: Stack | undefined;
let browser: Browser | undefined;
const prefix = `t${randomBytes(5).toString('hex')}`;
const logs: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run this test`,
    );
  }
  await buildPage();
  // The example's own launcher, on the test Redis: frontend, 2 io-nodes, 2 app-nodes as processes.
  stack = await startStack({
    redisUrl: inject('redisUrl'),
    startRedis: false,
    prefix,
    frontendPort: 0,
    source: true,
    env: { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' },
    output: (name, line) => logs.push(`${name} | ${line}`),
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  const redis = createRedis(inject('redisUrl'), 'command');
  await deleteKeys(redis, prefix);
  await redis.quit();
}, 60_000);

async function open(nickname: string): Promise<Page> {
  // A context per user: separate sessionStorage, as two browsers would have.
  const context = await browser!.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (err) => logs.push(`page ${nickname} | ${err.message}`));
  await page.goto(`${stack!.frontendUrl}/?nickname=${nickname}&room=general&strategy=round-robin`);
  return page;
}

/** The io-node the page shows once connected and welcomed. */
async function connectedNode(page: Page, not?: string): Promise<string> {
  await page.waitForFunction(
    (previous) =>
      document.getElementById('status')?.dataset.state === 'connected' &&
      !!document.body.dataset.nodeId &&
      document.body.dataset.nodeId !== previous,
    not,
  );
  return (await page.evaluate(() => document.body.dataset.nodeId))!;
}

async function joinRoom(page: Page, room: string): Promise<void> {
  await page.fill('#join-room', room);
  await page.click('#join-form button');
  await page.locator('#room-title', { hasText: room }).waitFor();
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

function line(page: Page, selector: string, text: string) {
  return page.locator(`#messages li${selector}`, { hasText: text });
}

/** Waits until the members list of the room shown reads exactly `names` (in any order). */
async function membersShown(page: Page, names: string[]): Promise<void> {
  await page.waitForFunction(
    (expected) =>
      JSON.stringify([...document.querySelectorAll('#members li')].map((li) => li.textContent).sort()) ===
      JSON.stringify(expected),
    [...names].sort(),
  );
}

async function texts(page: Page): Promise<string[]> {
  return page.locator('#messages li.message .text').allTextContents();
}

test('browser - two pages on different io-nodes chat, see history and notices, and survive a killed io-node', async () => {
  try {
    const alice = await open('alice');
    const aliceNode = await connectedNode(alice);
    const bob = await open('bob');
    const bobNode = await connectedNode(bob);
    const nodeIds = stack!.ioNodes.map((p) => String(p.ready.nodeId));
    expect(nodeIds).toContain(aliceNode);
    expect(nodeIds).toContain(bobNode);
    expect(aliceNode).not.toBe(bobNode);
    expect(await alice.textContent('#node-id')).toBe(aliceNode);

    // History: what alice said before bob came is what bob finds when he joins.
    await joinRoom(alice, 'lobby');
    await send(alice, 'first, before bob');
    await line(alice, '.message', 'first, before bob').waitFor();
    await joinRoom(bob, 'lobby');
    await line(bob, '.message', 'first, before bob').waitFor();
    await line(alice, '.notice', 'bob joined lobby').waitFor();
    // Both see both in the room's members, live.
    await membersShown(alice, ['alice', 'bob']);
    await membersShown(bob, ['alice', 'bob']);
    expect(await alice.textContent('#member-count')).toBe('(2)');

    // Both ways, across the two io-nodes.
    await send(alice, 'hello bob');
    await send(bob, 'hi alice');
    for (const page of [alice, bob]) {
      await line(page, '.message', 'hi alice').waitFor();
      await line(page, '.message', 'hello bob').waitFor();
    }
    expect(await texts(bob)).toEqual(['first, before bob', 'hello bob', 'hi alice']);
    expect(await texts(alice)).toEqual(['first, before bob', 'hello bob', 'hi alice']);
    expect(await bob.locator('#messages li.message .nick').allTextContents()).toEqual([
      'alice',
      'alice',
      'bob',
    ]);

    // Typing and a private message.
    await alice.fill('#text', 'typing something');
    // Typing is volatile: an io-node drops it, as Socket.IO does, while bob's connection is still writing.
    // The page says it again at most every 2 s while keys are pressed; so the test presses until bob sees it.
    const typingShown = bob.locator('#typing', { hasText: 'alice is typing' });
    for (let attempt = 1; ; attempt++) {
      await alice.dispatchEvent('#text', 'input');
      try {
        await typingShown.waitFor({ timeout: 2_500 });
        break;
      } catch (err) {
        if (attempt === 5) throw err;
      }
    }
    await alice.fill('#text', '');
    await bob.click('[data-room="@private"]');
    await bob.fill('#pm-to', 'alice');
    await send(bob, 'a secret for alice');
    await alice.locator('[data-room="@private"] .unread', { hasText: '1' }).waitFor();
    await alice.click('[data-room="@private"]');
    await line(alice, '.private', 'a secret for alice').waitFor();
    await alice.click('[data-room="lobby"]');
    await bob.click('[data-room="lobby"]');

    // Alice's io-node dies without a word: her page moves to the other node and keeps chatting.
    const victim = stack!.ioNodes.find((p) => p.ready.nodeId === aliceNode)!;
    await victim.kill('SIGKILL');
    const movedTo = await connectedNode(alice, aliceNode);
    expect(movedTo).toBe(bobNode);
    // Her session came back with her: the page says how many missed messages were recovered.
    await line(alice, '.system', 'missed messages recovered')
      .or(line(alice, '.system', 'missed message recovered'))
      .waitFor();
    await line(alice, '.system', `moved from io-node ${aliceNode} to ${bobNode}`).waitFor();
    await send(alice, 'back after the crash');
    await line(bob, '.message', 'back after the crash').waitFor();
    await send(bob, 'welcome back');
    await line(alice, '.message', 'welcome back').waitFor();
    expect(await texts(bob)).toEqual([
      'first, before bob',
      'hello bob',
      'hi alice',
      'back after the crash',
      'welcome back',
    ]);
    // Her old connection leaves the members once a survivor purges the dead io-node; her new one stays.
    await membersShown(bob, ['alice', 'bob']);
    await membersShown(alice, ['alice', 'bob']);
    // Alice kept her nickname (her tab's session takes it back from the dead connection).
    expect(await alice.inputValue('#nickname')).toBe('alice');
    await expect(bob.locator('#messages li.message .nick').last().textContent()).resolves.toBe('bob');
    expect((await bob.locator('#messages li.message .nick').allTextContents()).at(-2)).toBe('alice');

    await mkdir(OUTPUT, { recursive: true });
    await alice.screenshot({ path: `${OUTPUT}browser-alice.png` });
    await bob.screenshot({ path: `${OUTPUT}browser-bob.png` });
  } catch (err) {
    // The processes' own words help more than a timeout alone.
    process.stderr.write(`${logs.slice(-60).join('\n')}\n`);
    throw err;
  }
}, 120_000);

test('browser - names follow nickname changes, members open private messages, a reload keeps the rooms, nothing fails to load', async () => {
  // Every request a page makes that fails, and every console error: a clean load has none.
  const failures: string[] = [];
  const watch = (page: Page, who: string) => {
    page.on('response', (res) => {
      if (res.status() >= 400) failures.push(`${who}: ${res.status()} ${res.url()}`);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') failures.push(`${who}: console: ${msg.text()}`);
    });
  };
  // The io-node killed above has left the registry: the pages below are handed live nodes only.
  const live = stack!.ioNodes
    .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
    .map((p) => String(p.ready.nodeId));
  await until(
    async () =>
      ((await (await fetch(`${stack!.frontendUrl}/api/io-nodes`)).json()) as { nodes: { nodeId: string }[] })
        .nodes,
    (nodes) => nodes.length === live.length && nodes.every((n) => live.includes(n.nodeId)),
    20_000,
  );
  const context = await browser!.newContext({ viewport: { width: 1100, height: 700 } });
  try {
    // Carol comes without a nickname (the page makes up a guest one); dave with one.
    const carol = await context.newPage();
    carol.setDefaultTimeout(20_000);
    watch(carol, 'carol');
    await carol.goto(`${stack!.frontendUrl}/`);
    await connectedNode(carol);
    const guest = await carol.inputValue('#nickname');
    expect(guest).toMatch(/^guest-[0-9a-f]{4}$/);
    const dave = await open('dave');
    watch(dave, 'dave');
    await connectedNode(dave);
    await joinRoom(carol, 'names');
    await joinRoom(dave, 'names');
    await membersShown(dave, [guest, 'dave']);

    // Carol picks a name: both members lists say so at once, without anyone joining again.
    await carol.fill('#nickname', 'carol');
    await carol.click('#nickname-form button');
    await membersShown(dave, ['carol', 'dave']);
    await membersShown(carol, ['carol', 'dave']);

    // A name that is taken is refused: the field shows again the name in use.
    await carol.fill('#nickname', 'dave');
    await carol.click('#nickname-form button');
    await carol.locator('#error', { hasText: 'taken' }).waitFor();
    expect(await carol.inputValue('#nickname')).toBe('carol');
    await membersShown(dave, ['carol', 'dave']);

    // Dave clicks carol in the members list: a private conversation with her opens and his message is
    // private; so is a `/msg` typed in the room. Neither reaches the room.
    await send(dave, 'to the room');
    await line(carol, '.message', 'to the room').waitFor();
    await dave.locator('#members li', { hasText: 'carol' }).click();
    await dave.locator('#room-title', { hasText: 'Private messages' }).waitFor();
    expect(await dave.inputValue('#pm-to')).toBe('carol');
    expect(await dave.evaluate(() => document.activeElement?.id)).toBe('text');
    await send(dave, 'just for carol');
    await dave.click('[data-room="names"]');
    await send(dave, '/msg carol also just for carol');
    await carol.locator('[data-room="@private"] .unread', { hasText: '2' }).waitFor();
    // What dave sent himself is not unread for him.
    await line(dave, '.notice, .message', 'to the room').waitFor();
    expect(await dave.locator('[data-room="@private"] .unread').textContent()).toBe('');
    await carol.click('[data-room="@private"]');
    await line(carol, '.private', 'also just for carol').waitFor();
    expect(await carol.locator('#messages li.private .text').allTextContents()).toEqual([
      'just for carol',
      'also just for carol',
    ]);
    await carol.click('[data-room="names"]');
    expect(await texts(carol)).toEqual(['to the room']);
    expect(await texts(dave)).toEqual(['to the room']);
    // Her own entry is not a link to herself.
    expect(await carol.locator('#members li.me').textContent()).toBe('carol');
    expect(await carol.locator('#members li.writable').allTextContents()).toEqual(['dave']);

    await mkdir(OUTPUT, { recursive: true });
    await dave.screenshot({ path: `${OUTPUT}browser-members-dave.png` });

    // A reload keeps her name, her rooms and the one she was in, with its history and members.
    await carol.reload();
    await connectedNode(carol);
    await carol.locator('#room-title', { hasText: 'names' }).waitFor();
    expect(await carol.locator('nav .room[data-room]:not([data-room="@private"])').allTextContents()).toEqual(
      ['# general', '# names'],
    );
    await line(carol, '.message', 'to the room').waitFor();
    await membersShown(carol, ['carol', 'dave']);
    expect(await carol.inputValue('#nickname')).toBe('carol');
    await send(carol, 'back after a reload');
    await line(dave, '.message', 'back after a reload').waitFor();
    await carol.screenshot({ path: `${OUTPUT}browser-reloaded-carol.png` });

    // The favicon is there; nothing on either page failed to load or logged an error.
    const icon = await fetch(`${stack!.frontendUrl}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toMatch(/icon/);
    expect(failures).toEqual([]);
  } catch (err) {
    process.stderr.write(`${failures.join('\n')}\n${logs.slice(-60).join('\n')}\n`);
    throw err;
  } finally {
    await context.close();
  }
}, 120_000);
