/**
 * The contract between your handlers and your pages, as Socket.IO event maps: the app-node and the client
 * take the same two interfaces, so both sides are checked. For an event the server answers, the last
 * parameter is the ack callback, whose argument is what the handler returns.
 */

export interface ChatMessage {
  room: string;
  text: string;
  from: string;
  at: number;
}

/** Events your pages send. */
export interface ClientEvents {
  join: (room: string, ack: (result: { room: string; rooms: string[] }) => void) => void;
  'chat message': (
    message: { room: string; text: string },
    ack: (result: { ok: true; at: number } | { error: { code: string; message: string } }) => void,
  ) => void;
}

/** Events your pages receive. */
export interface ServerEvents {
  'chat message': (message: ChatMessage) => void;
  joined: (notice: { room: string; id: string }) => void;
}

/** What each connection keeps in `socket.data`, on whichever app-node runs its events. */
export interface SocketData {
  rooms: string[];
}
