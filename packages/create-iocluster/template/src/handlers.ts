import type { AppNode } from '@iocluster/app-node';
import type { ClientEvents, ServerEvents, SocketData } from './events.js';

/** An app-node typed by your events: a typo in an event name or a payload does not compile. */
export type App = AppNode<ClientEvents, ServerEvents, Record<string, never>, SocketData>;

/**
 * Your handlers. Every app-node loads this module (`iocluster dev`, `iocluster start app-node`), so keep
 * no state here that another app-node would need: put it in `socket.data`, rooms or your own store.
 */
export default function register(app: App): void {
  app.on('connection', (socket) => {
    socket.setData({ rooms: [] });
  });

  app.on('join', async (socket, room) => {
    await socket.join(room);
    socket.setData({ rooms: [...socket.rooms] });
    socket.to(room).emit('joined', { room, id: socket.id });
    return { room, rooms: [...socket.rooms] };
  });

  app.on('chat message', (socket, { room, text }) => {
    if (!socket.rooms.has(room)) return { error: { code: 'NOT_IN_ROOM', message: `join ${room} first` } };
    const at = Date.now();
    app.to(room).emit('chat message', { room, text, from: socket.id, at });
    return { ok: true, at };
  });
}
