import type { AppNode } from '@iocluster/app-node';

/** The benchmark's chat message, as the load generator sends it. */
interface ChatMessage {
  room: string;
  text: string;
  sentAt: number;
  mid: number;
}

/**
 * Handlers module for `node packages/app-node/dist/main.js bench/dist/chat-handlers.js`: the same chat
 * (and `rpc`: answer the request's mid) the baseline servers run in-process.
 */
export default function register(app: AppNode): void {
  app.on('join', async (socket, room: string) => {
    await socket.join(room);
    return { ok: true };
  });
  app.on('leave', async (socket, room: string) => {
    await socket.leave(room);
    return { ok: true };
  });
  app.on('rpc', (_socket, request: { mid: number }) => ({ ok: true, mid: request.mid }));
  app.on('chat message', (socket, msg: ChatMessage) => {
    app.to(msg.room).emit('chat message', { ...msg, from: socket.id });
    return { ok: true };
  });
}
