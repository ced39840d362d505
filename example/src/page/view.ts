import type { ChatMessage, Notice, PrivateMessage } from '../chat-protocol.js';

/** The conversation shown: a room, or the private inbox. */
export const PRIVATE = '@private';

/** A line of a conversation. */
export type Line =
  | { kind: 'message'; message: ChatMessage }
  | { kind: 'private'; message: PrivateMessage }
  | { kind: 'notice'; notice: Notice }
  | { kind: 'system'; text: string; at: number };

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** The page's elements, found once. */
export const dom = {
  status: byId<HTMLDivElement>('status'),
  statusText: byId<HTMLSpanElement>('status-text'),
  nodeId: byId<HTMLElement>('node-id'),
  nicknameForm: byId<HTMLFormElement>('nickname-form'),
  nickname: byId<HTMLInputElement>('nickname'),
  rooms: byId<HTMLUListElement>('rooms'),
  joinForm: byId<HTMLFormElement>('join-form'),
  joinRoom: byId<HTMLInputElement>('join-room'),
  knownRooms: byId<HTMLDataListElement>('known-rooms'),
  roomTitle: byId<HTMLHeadingElement>('room-title'),
  leave: byId<HTMLButtonElement>('leave'),
  messages: byId<HTMLUListElement>('messages'),
  typing: byId<HTMLDivElement>('typing'),
  composer: byId<HTMLFormElement>('composer'),
  pmTo: byId<HTMLInputElement>('pm-to'),
  text: byId<HTMLInputElement>('text'),
  error: byId<HTMLParagraphElement>('error'),
  members: byId<HTMLUListElement>('members'),
  memberCount: byId<HTMLSpanElement>('member-count'),
};

function el(tag: string, className: string, text?: string): HTMLElement {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function time(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Short name of a client: its nickname, or the start of its socket id. */
export function who(nickname: string | null, id: string): string {
  return nickname ?? `guest ${id.slice(0, 6)}`;
}

/** Renders one line (text only through textContent: user input never becomes markup). */
export function renderLine(line: Line, me: string | undefined, onNick: (to: string) => void): HTMLElement {
  switch (line.kind) {
    case 'message':
    case 'private': {
      const { message } = line;
      const item = el('li', `message${line.kind === 'private' ? ' private' : ''}`);
      if (message.from === me) item.classList.add('mine');
      item.dataset.mid = message.mid;
      const nick = el('span', 'nick', who(message.nickname, message.from));
      nick.title = `socket ${message.from}`;
      nick.addEventListener('click', () => onNick(message.nickname ?? message.from));
      item.append(nick);
      if (line.kind === 'private') {
        const to = line.message.toNickname ?? line.message.to.slice(0, 6);
        item.append(el('span', 'to', `→ ${to}: `));
      }
      item.append(el('span', 'text', message.text), el('span', 'time', time(message.at)));
      return item;
    }
    case 'notice': {
      const { notice } = line;
      const verb = notice.kind === 'join' ? 'joined' : 'left';
      return el('li', `notice ${notice.kind}`, `${who(notice.nickname, notice.id)} ${verb} ${notice.room}`);
    }
    case 'system':
      return el('li', 'system', line.text);
  }
}

/** Sets the connection badge. */
export function showStatus(state: string, text: string, nodeId?: string): void {
  dom.status.dataset.state = state;
  dom.statusText.textContent = text;
  if (nodeId !== undefined) {
    dom.nodeId.textContent = nodeId;
    document.body.dataset.nodeId = nodeId;
  }
}
