import { io } from 'socket.io-client';

/**
 * `node bench/dist/flooder.js <io-node url> <room>`: one client sending chat messages as fast as its
 * socket takes them, each with an ack, reconnecting whenever the io-node disconnects it. Reports its
 * counts to the parent every 500 ms (`{ type: 'stats', ... }`); announces `ready` once first connected.
 */
const [url, room] = process.argv.slice(2) as [string, string];
const stats = {
  type: 'stats',
  sent: 0,
  ok: 0,
  rateLimited: 0,
  otherErrors: 0,
  kicked: 0,
  connects: 0,
  refusedConnects: 0,
};
let announced = false;

function connect(): void {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  let flooding = true;
  socket.on('connect', () => {
    stats.connects++;
    if (!announced) {
      announced = true;
      process.send?.({ type: 'ready' });
    }
    const burst = () => {
      if (!flooding) return;
      // As fast as the socket carries them: more only once Engine.IO's write buffer has drained.
      if (socket.io.engine.writeBuffer.length > 1_000) {
        setTimeout(burst, 1);
        return;
      }
      // 200 per turn of the event loop: as fast as the socket drains, without starving the acks.
      for (let i = 0; i < 200; i++) {
        stats.sent++;
        socket.emit(
          'chat message',
          { room, text: 'flood', sentAt: Date.now(), mid: stats.sent },
          (answer: unknown) => {
            const code = (answer as { error?: { code?: string } } | null)?.error?.code;
            if (code === undefined) stats.ok++;
            else if (code === 'RATE_LIMITED') stats.rateLimited++;
            else stats.otherErrors++;
          },
        );
      }
      setImmediate(burst);
    };
    burst();
  });
  socket.on('disconnect', () => {
    flooding = false;
    stats.kicked++;
    setTimeout(connect, 10);
  });
  socket.on('connect_error', () => {
    stats.refusedConnects++;
    setTimeout(connect, 100);
  });
}

setInterval(() => process.send?.(stats), 500).unref();
process.on('SIGTERM', () => {
  process.send?.(stats);
  process.exit(0);
});
connect();
