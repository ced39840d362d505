import type { AppNode } from '@iocluster/app-node';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

function register(app: AppNode): void {
  registerTestApp(app);
  app.keepHistory('k:*');
  app.on('history', (_socket, room: string, since?: { epoch: string; offset: number }, limit?: number) =>
    app.history(room, { since, limit }),
  );
}

type Page = {
  position: { epoch: string; offset: number } | null;
  complete: boolean;
  messages: { offset: number; event: string; args: unknown[] }[];
};

describe('history', () => {
  test('history - rooms kept by app.keepHistory record their messages with contiguous offsets; since and limit page through them', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 2, register });
    const c = cluster;
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    await a.emitWithAck('join', 'k:one');
    for (let i = 1; i <= 12; i++) await b.emitWithAck('room only', 'k:one', `m${i}`);
    await b.emitWithAck('room only', 'plain', 'not kept');

    const last5 = (await b.emitWithAck('history', 'k:one', undefined, 5)) as Page;
    expect(last5.messages.map((m) => m.args[0])).toEqual(['m8', 'm9', 'm10', 'm11', 'm12']);
    expect(last5.messages.map((m) => m.offset)).toEqual([8, 9, 10, 11, 12]);
    expect(last5.position).toEqual({ epoch: expect.any(String), offset: 12 });

    const since = { epoch: last5.position!.epoch, offset: 3 };
    const after3 = (await b.emitWithAck('history', 'k:one', since, 4)) as Page;
    expect(after3.messages.map((m) => m.args[0])).toEqual(['m4', 'm5', 'm6', 'm7']);
    expect(after3.complete).toBe(true);
    const otherEpoch = (await b.emitWithAck('history', 'k:one', { epoch: 'nope', offset: 3 })) as Page;
    expect(otherEpoch).toMatchObject({ complete: false, messages: [] });
    expect((await b.emitWithAck('history', 'plain')) as Page).toMatchObject({ position: null, messages: [] });
  });

  test('history - clients read it with $history: members may, others get FORBIDDEN, bad requests BAD_REQUEST; binary survives', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 1, register });
    const c = cluster;
    const [member, stranger] = await Promise.all([c.connect(0), c.connect(0)]);
    await member.emitWithAck('join', 'k:bin');
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await member.emitWithAck('room only', 'k:bin', { bytes });
    const page = (await member.emitWithAck('$history', 'k:bin', { limit: 10 })) as Page;
    expect(page.messages).toHaveLength(1);
    const [payload] = page.messages[0]!.args as [{ bytes: Buffer }];
    expect(Buffer.from(payload.bytes).equals(bytes)).toBe(true);
    expect(await stranger.emitWithAck('$history', 'k:bin')).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect(await member.emitWithAck('$history', 42)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect(await member.emitWithAck('$history', 'k:bin', { since: { epoch: 1 } })).toMatchObject({
      error: { code: 'BAD_REQUEST' },
    });
  });
});
