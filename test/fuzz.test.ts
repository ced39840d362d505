import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeIngressJob } from '@iocluster/shared';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, setup } from './support/cluster.js';
import { hostileFrames, injectRawCommand, nestedJson } from './support/hostile.js';
import { failedJobs, injectRawJobs } from './support/ingress.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection, in MB. */
function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

const PROBE_ACK_ID = 987_654;

/**
 * One raw WebSocket session: Engine.IO open, Socket.IO connect to `/`, then `frames` while the server
 * keeps the connection, then an echo probe. Resolves with the frames sent and whether the server was
 * still answering at the end (it closes connections that send what it cannot parse).
 */
async function hostileSession(
  url: string,
  frames: readonly (string | Buffer)[],
): Promise<{ sent: number; open: boolean }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const messages: string[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (data) => {
    const text = String(data);
    if (text === '2') ws.send('3');
    messages.push(text);
    wake?.();
  });
  const closed = once(ws, 'close').then(() => 'closed' as const);
  ws.on('error', () => {});
  const seen = (prefix: string) =>
    new Promise<'seen'>((resolve) => {
      const check = () => {
        if (messages.some((m) => m.startsWith(prefix))) resolve('seen');
      };
      wake = check;
      check();
    });
  await Promise.race([once(ws, 'open'), closed]);
  if ((await Promise.race([seen('0{'), closed])) === 'closed') return { sent: 0, open: false };
  ws.send('40');
  if ((await Promise.race([seen('40'), closed])) === 'closed') return { sent: 0, open: false };
  let sent = 0;
  for (const frame of frames) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(frame);
    sent++;
  }
  let open = false;
  if (ws.readyState === WebSocket.OPEN) {
    ws.send(`42${PROBE_ACK_ID}["echo","probe"]`);
    open = (await Promise.race([seen(`43${PROBE_ACK_ID}`), closed])) === 'seen';
  }
  ws.terminate();
  return { sent, open };
}

describe('fuzz', () => {
  test('fuzz - thousands of malformed frames, commands and jobs: no crash, bounded memory, a normal client still chats', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: registerTestApp,
      ioNodeOptions: { eventTimeoutMs: 5_000 },
    });
    const c = cluster;
    const node = c.ioNodes[0]!;
    const warm = await c.connect(0);
    expect(await warm.emitWithAck('echo', 'warm')).toEqual(['warm']);
    const heapBefore = heapMb();
    const rssBefore = process.memoryUsage().rss / 1e6;

    // 1. Engine.IO / Socket.IO frames over raw WebSockets, a few sessions at a time.
    const frames = hostileFrames(4_000, 42);
    const binary = fc
      .sample(fc.uint8Array({ maxLength: 64 }), { numRuns: 200, seed: 7 })
      .map((a) => Buffer.from(a));
    const batches: (string | Buffer)[][] = [];
    for (let i = 0; i < frames.length; i += 20)
      batches.push([...frames.slice(i, i + 20), binary[(i / 20) % binary.length]!]);
    batches.push([
      `42["echo",${nestedJson(4_000)}]`,
      `42["echo",${nestedJson(20_000)}]`,
      '42["echo","fine"]',
    ]);
    let sent = 0;
    let survived = 0;
    for (let i = 0; i < batches.length; i += 8) {
      const results = await Promise.all(
        batches.slice(i, i + 8).map((batch) => hostileSession(node.url, batch)),
      );
      for (const result of results) {
        sent += result.sent;
        if (result.open) survived++;
      }
    }
    expect(sent).toBeGreaterThanOrEqual(2_000);
    expect(survived).toBeGreaterThan(0);

    // 2. Malformed commands on the node's own command path and the broadcast one.
    const garbage = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
        fc
          .array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 4 })
          .map((cmds) => JSON.stringify({ v: 1, cmds })),
        fc
          .record({
            type: fc.constantFrom(
              'emit',
              'join',
              'leave',
              'reply',
              'set-data',
              'disconnect',
              'custom',
              '__proto__',
            ),
            socketId: fc.jsonValue(),
            event: fc.jsonValue(),
            rooms: fc.jsonValue(),
            seq: fc.jsonValue(),
            data: fc.jsonValue(),
          })
          .map((cmd) =>
            JSON.stringify({ v: 1, cmds: [cmd, { ...cmd, constructor: { prototype: { polluted: 1 } } }] }),
          ),
      ),
      { numRuns: 1_000, seed: 3 },
    );
    const marker = collect(warm, 'marker');
    for (const [i, payload] of garbage.entries())
      await injectRawCommand(c.redis, c.prefix, i % 2 === 0 ? node.nodeId : null, payload);
    // A valid command after them, on the same path: once it arrived, every one before it was handled.
    await injectRawCommand(
      c.redis,
      c.prefix,
      null,
      JSON.stringify({ v: 1, cmds: [{ type: 'emit', event: 'marker', args: ['after commands'] }] }),
    );
    expect(await marker.until(1)).toEqual(['after commands']);

    // 3. Malformed jobs in the ingress (whichever transport it runs on): each one failed and kept, none
    // crashing the worker.
    const jobs = fc
      .sample(
        fc.oneof(
          fc.jsonValue({ maxDepth: 4 }),
          fc.record({ v: fc.constant(1), nodeId: fc.jsonValue(), batches: fc.jsonValue() }),
          fc.record({
            v: fc.constant(1),
            nodeId: fc.constant('fuzz'),
            batches: fc.array(fc.record({ client: fc.jsonValue(), events: fc.jsonValue() }), {
              minLength: 1,
              maxLength: 2,
            }),
          }),
        ),
        { numRuns: 400, seed: 11 },
      )
      .filter((data) => {
        try {
          decodeIngressJob(data);
          return false;
        } catch {
          return true;
        }
      });
    const failedBefore = (await failedJobs(c)).length;
    await injectRawJobs(c, jobs);
    await until(
      async () => (await failedJobs(c)).length,
      (n) => n === failedBefore + jobs.length,
      30_000,
    );
    expect(jobs.length).toBeGreaterThan(300);

    // 4. Afterwards: no pollution, the node holds only real clients, and normal clients chat.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const a = await c.connect(0);
    const b = await c.connect(0);
    await a.emitWithAck('join', 'after-fuzz');
    const heard = collect(a, 'room');
    expect(await b.emitWithAck('to room', 'after-fuzz', 'hello after fuzz')).toBe(true);
    expect(await heard.until(1)).toEqual(['hello after fuzz']);
    expect(await warm.emitWithAck('echo', 'still here')).toEqual(['still here']);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    await until(
      async () => node.connections,
      (n) => n === 3,
      10_000,
    );

    const heapGrowth = heapMb() - heapBefore;
    const rssGrowth = process.memoryUsage().rss / 1e6 - rssBefore;
    console.info(
      `fuzz: ${sent} frames, ${garbage.length} commands, ${jobs.length} jobs; heap +${heapGrowth.toFixed(1)} MB, rss +${rssGrowth.toFixed(1)} MB`,
    );
    expect(heapGrowth, `heap grew by ${heapGrowth.toFixed(1)} MB`).toBeLessThan(50);
    expect(rssGrowth, `rss grew by ${rssGrowth.toFixed(1)} MB`).toBeLessThan(300);
  });
});
