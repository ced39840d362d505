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
    await alice.dispatchEvent('#text', 'input');
    await bob.locator('#typing', { hasText: 'alice is typing' }).waitFor();
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
