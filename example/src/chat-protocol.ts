/**
 * The chat example's wire contract, shared by the handlers (chat-app.ts), the page and other tools that
 * drive the chat (the benchmark). Acknowledged events answer either their result or `{ error }`.
 */

/** What a failed request answers: a stable `code` and a sentence. */
export interface ChatError {
  error: { code: ChatErrorCode; message: string };
}

export type ChatErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_ROOM'
  | 'BAD_NICKNAME'
  | 'NICKNAME_TAKEN'
  | 'NOT_IN_ROOM'
  | 'TOO_MANY_ROOMS'
  | 'USER_NOT_FOUND';

/** A message as the client sends it. `mid` is the client's id for it (dedupe, ack matching). */
export interface OutgoingMessage {
  room: string;
  text: string;
  /** Client clock, ms since epoch. */
  sentAt: number;
  mid: string;
}

/** A message as every member of the room receives it (sender included) and as history keeps it. */
export interface ChatMessage extends OutgoingMessage {
  /** Socket id of the sender. */
  from: string;
  /** Sender's nickname when it had one. */
  nickname: string | null;
  /** Server clock when an app-node handled it, ms since epoch. */
  at: number;
}

/** A member of a room: one per connection here (the chat has no login, so each tab is a member). */
export interface Member {
  /** Its presence id: the socket id of the connection. */
  id: string;
  /** Its nickname when it joined the room. */
  nick: string | null;
}

/** `join` answer: the room, its last messages (oldest first) and its members (the joiner included). */
export interface JoinResult {
  room: string;
  history: ChatMessage[];
  members: Member[];
}

/**
 * Sent to a room's members when someone joins it or leaves it (leaving, disconnecting, or losing its
 * io-node), and when a member takes another nickname (`renamed`: the member with its new name).
 */
export type PresenceNotice =
  | { room: string; joined: Member }
  | { room: string; left: Member }
  | { room: string; renamed: Member };

/** System notice: someone joined or left a room (leaving includes disconnecting). */
export interface Notice {
  room: string;
  kind: 'join' | 'leave';
  id: string;
  nickname: string | null;
  at: number;
}

/** Someone started or stopped typing in a room. */
export interface Typing {
  room: string;
  id: string;
  nickname: string | null;
  typing: boolean;
}

/** A private message as sender and recipient receive it. */
export interface PrivateMessage {
  /** Socket id of the sender. */
  from: string;
  nickname: string | null;
  /** Socket id of the recipient. */
  to: string;
  /** Recipient's nickname when addressed by one. */
  toNickname: string | null;
  text: string;
  sentAt: number;
  mid: string;
  at: number;
}

/** Sent to a client when it connects: who it is and which io-node holds it. */
export interface Welcome {
  id: string;
  nodeId: string;
}

/** `set nickname` payload: a name, or a name plus a per-tab session that may take it back after a failover. */
export type NicknameRequest = string | { nickname: string; session?: string };

type Ack<R> = (result: R | ChatError) => void;

/** Events the server sends. */
export interface ChatServerEvents {
  welcome: (info: Welcome) => void;
  'chat message': (message: ChatMessage) => void;
  notice: (notice: Notice) => void;
  typing: (typing: Typing) => void;
  'private message': (message: PrivateMessage) => void;
  presence: (notice: PresenceNotice) => void;
}

/** Events a client sends; the last parameter is the ack. */
export interface ChatClientEvents {
  'set nickname': (request: NicknameRequest, ack: Ack<{ nickname: string }>) => void;
  join: (room: string, ack: Ack<JoinResult>) => void;
  leave: (room: string, ack: Ack<{ room: string }>) => void;
  'chat message': (message: OutgoingMessage, ack: Ack<{ ok: true; mid: string; at: number }>) => void;
  typing: (typing: { room: string; typing: boolean }) => void;
  'private message': (
    message: { to: string; text: string; sentAt: number; mid: string },
    ack: Ack<{ ok: true; to: string; mid: string; at: number }>,
  ) => void;
  rooms: (ack: Ack<{ rooms: string[] }>) => void;
}

/** Limits the handlers enforce. */
export const LIMITS = Object.freeze({
  historyLength: 50,
  textLength: 2_000,
  roomsPerClient: 20,
  midLength: 64,
});

/** Room names: 1-32 letters, digits, spaces, `_`, `.` or `-`, trimmed. */
export const ROOM_RE = /^[\p{L}\p{N}_.-](?:[\p{L}\p{N} _.-]{0,30}[\p{L}\p{N}_.-])?$/u;

/** Nicknames: 1-24 letters, digits, `_`, `.` or `-`. */
export const NICKNAME_RE = /^[\p{L}\p{N}_.-]{1,24}$/u;

/** Is this an acknowledgement that failed? */
export function isChatError(value: unknown): value is ChatError {
  const error = (value as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string';
}
