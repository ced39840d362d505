// A handlers module of the smallest kind, as an image runs it from /app/handlers (docs/deploy.md): plain
// JavaScript, an ES module whose default export registers handlers on the app-node.

/** @param {import('@iocluster/app-node').AppNode} app */
export default function register(app) {
  app.on('connection', (socket) => {
    socket.emit('hello', { id: socket.id, nodeId: socket.nodeId });
  });
  // The return value is the client's ack: `await socket.emitWithAck('echo', 'hi')` answers { echo: 'hi' }.
  app.on('echo', (_socket, message) => ({ echo: message }));
  app.on('shout', (socket, text) => {
    app.emit('shouted', { from: socket.id, text: String(text).toUpperCase() });
    return { ok: true };
  });
}
