import { createClient, type IoclusterClient } from '@iocluster/client';
import {
  type ChatClientEvents,
  type ChatMessage,
  type ChatServerEvents,
  isChatError,
  type JoinResult,
  type PresenceNotice,
} from '../chat-protocol.js';
import { hasLogin, useProxy } from './page-config.js';
import { loadSaved, saveRooms } from './saved-rooms.js';
import { dom, type Line, PRIVATE, renderLine, showStatus, who } from './view.js';

interface Conversation {
  lines: Line[];
  mids: Set<string>;
  unread: number;
}

const params = new URLSearchParams(location.search);
const session = sessionStorage.getItem('chat-session') ?? crypto.randomUUID();
sessionStorage.setItem('chat-session', session);
let nickname =
  params.get('nickname') ?? sessionStorage.getItem('chat-nickname') ?? `guest-${session.slice(0, 4)}`;
const conversations = new Map<string, Conversation>([[PRIVATE, { lines: [], mids: new Set(), unread: 0 }]]);
/** The rooms this tab had joined and the conversation it showed, kept across reloads (the tab's session). */
const saved = loadSaved();
let active = params.get('room') ?? saved.active ?? 'general';
const typingPeople = new Map<string, Map<string, { name: string; until: number }>>();
let myId: string | undefined;
/** Members of each joined room: id → nickname. */
const members = new Map<string, Map<string, string | null>>();
/** Presence notices that came while a join of their room was unanswered: applied after its member list. */
const joining = new Map<string, PresenceNotice[]>();

let client!: IoclusterClient<ChatServerEvents, ChatClientEvents>;

/** Writes the joined rooms and the conversation shown to the tab's session, for a reload to restore. */
function save(): void {
  saveRooms(
    [...conversations.keys()].filter((room) => room !== PRIVATE),
    active,
  );
}

function conversation(room: string): Conversation {
  let found = conversations.get(room);
  if (!found) {
    found = { lines: [], mids: new Set(), unread: 0 };
    conversations.set(room, found);
  }
  return found;
}

function showError(message: string): void {
  dom.error.textContent = message;
}

function add(room: string, line: Line): void {
  const target = conversation(room);
  const mid = line.kind === 'message' || line.kind === 'private' ? line.message.mid : undefined;
  if (mid !== undefined) {
    if (target.mids.has(mid)) return;
    target.mids.add(mid);
  }
  target.lines.push(line);
  if (room === active) {
    dom.messages.append(renderLine(line, myId, writePrivately));
    dom.messages.scrollTop = dom.messages.scrollHeight;
  } else if (
    line.kind !== 'system' &&
    !(mid !== undefined && 'message' in line && line.message.from === myId)
  ) {
    // What this tab sent itself (a private message's copy, a /msg typed in a room) is not unread.
    target.unread++;
    renderRooms();
  }
}

function mergeHistory(result: JoinResult): void {
  const target = conversation(result.room);
  const missing = result.history.filter((m) => !target.mids.has(m.mid));
  if (missing.length === 0) return;
  // History comes first in time: put what we lacked before what we already show, then sort by server time.
  for (const message of missing) target.mids.add(message.mid);
  target.lines = [...missing.map((message): Line => ({ kind: 'message', message })), ...target.lines].sort(
    (a, b) => at(a) - at(b),
  );
  if (result.room === active) render();
}

function at(line: Line): number {
  if (line.kind === 'message' || line.kind === 'private') return line.message.at;
  if (line.kind === 'notice') return line.notice.at;
  return line.at;
}

function renderRooms(): void {
  const items = [...conversations.keys()]
    .filter((room) => room !== PRIVATE)
    .map((room) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'room';
      button.dataset.room = room;
      button.append(`# ${room}`);
      const unread = document.createElement('span');
      unread.className = 'unread';
      unread.textContent = conversation(room).unread > 0 ? String(conversation(room).unread) : '';
      button.append(unread);
      li.append(button);
      return li;
    });
  dom.rooms.replaceChildren(...items);
  for (const button of document.querySelectorAll<HTMLButtonElement>('nav .room')) {
    button.setAttribute('aria-current', String(button.dataset.room === active));
  }
  const inbox = document.querySelector('[data-room="@private"] .unread');
  if (inbox) inbox.textContent = conversation(PRIVATE).unread > 0 ? String(conversation(PRIVATE).unread) : '';
}

function render(): void {
  const current = conversation(active);
  current.unread = 0;
  dom.roomTitle.textContent = active === PRIVATE ? 'Private messages' : `# ${active}`;
  dom.leave.hidden = active === PRIVATE;
  dom.pmTo.hidden = active !== PRIVATE;
  dom.pmTo.required = active === PRIVATE;
  dom.messages.replaceChildren(...current.lines.map((line) => renderLine(line, myId, writePrivately)));
  dom.messages.scrollTop = dom.messages.scrollHeight;
  renderRooms();
  renderTyping();
  renderMembers();
}

function switchTo(room: string): void {
  active = room;
  save();
  render();
}

function writePrivately(to: string): void {
  switchTo(PRIVATE);
  dom.pmTo.value = to;
  dom.text.focus();
}

async function join(room: string): Promise<void> {
  joining.set(room, []);
  const result = await client.emitWithAck('join', room).catch((err: unknown) => {
    joining.delete(room);
    throw err;
  });
  const missed = joining.get(room) ?? [];
  joining.delete(room);
  if (isChatError(result)) {
    // A room that cannot be joined is not kept (nor restored on the next load).
    if (!members.has(room)) conversations.delete(room);
    if (active === room) switchTo([...conversations.keys()].find((r) => r !== PRIVATE) ?? PRIVATE);
    else save();
    return showError(result.error.message);
  }
  conversation(result.room);
  save();
  mergeHistory(result);
  // The list was read at some point while the join ran: what changed meanwhile is applied on top of it.
  members.set(result.room, new Map(result.members.map((m) => [m.id, m.nick])));
  for (const notice of missed) applyPresence(notice);
  renderRooms();
  renderMembers();
}

function applyPresence(notice: PresenceNotice): void {
  const list = members.get(notice.room);
  if (!list) return;
  if ('joined' in notice) list.set(notice.joined.id, notice.joined.nick);
  else if ('renamed' in notice) {
    // Only a member the list has: a rename that overtook its owner's leave must not bring it back.
    if (list.has(notice.renamed.id)) list.set(notice.renamed.id, notice.renamed.nick);
  } else list.delete(notice.left.id);
  if (notice.room === active) renderMembers();
}

function renderMembers(): void {
  const list = members.get(active);
  dom.memberCount.textContent = list ? `(${list.size})` : '';
  dom.members.replaceChildren(
    ...[...(list ?? [])].map(([id, nick]) => {
      const li = document.createElement('li');
      li.textContent = who(nick, id);
      li.dataset.id = id;
      if (nick !== null && nick === nickname) {
        li.classList.add('me');
        li.title = 'you';
      } else {
        // A member is written to by nickname (what the server looks people up by).
        li.classList.add('writable');
        li.title = `write to ${who(nick, id)} privately`;
        li.tabIndex = 0;
        const write = () => writePrivately(nick ?? id);
        li.addEventListener('click', write);
        li.addEventListener('keydown', (event) => {
          if (event.key === 'Enter') write();
        });
      }
      return li;
    }),
  );
}

/** The nickname of the current token, when the frontend has the demo login. */
let loggedInAs: string | undefined;

/** The demo login: a short-lived token for the current nickname (the client asks again before it expires). */
async function login(): Promise<string> {
  const response = await fetch('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nickname, session }),
  });
  const body = (await response.json()) as { token?: string; error?: { message?: string } };
  if (!response.ok || typeof body.token !== 'string')
    throw new Error(body.error?.message ?? `login: HTTP ${response.status}`);
  loggedInAs = nickname;
  return body.token;
}

async function setNickname(name: string): Promise<void> {
  const previous = nickname;
  /** The name is refused: say why, and show again the one still in use. */
  const refused = (message: string) => {
    nickname = previous;
    dom.nickname.value = previous;
    showError(message);
  };
  if (loggedInAs !== undefined && name !== loggedInAs) {
    // The server takes the nickname from the token: log in under the new name first.
    nickname = name;
    try {
      await client.refreshToken();
    } catch (err) {
      return refused(err instanceof Error ? err.message : String(err));
    }
  }
  const result = await client.emitWithAck('set nickname', { nickname: name, session });
  if (isChatError(result)) {
    // Logged in under the refused name a moment ago: back to the previous one (errors here are shown above).
    if (loggedInAs !== undefined && loggedInAs !== previous) void client.refreshToken().catch(() => {});
    return refused(result.error.message);
  }
  nickname = result.nickname;
  sessionStorage.setItem('chat-nickname', nickname);
  dom.nickname.value = nickname;
  renderMembers();
}

async function refreshKnownRooms(): Promise<void> {
  const result = await client.emitWithAck('rooms');
  if (isChatError(result)) return;
  dom.knownRooms.replaceChildren(
    ...result.rooms.map((room) => Object.assign(document.createElement('option'), { value: room })),
  );
}

function renderTyping(): void {
  const now = Date.now();
  const people = [...(typingPeople.get(active)?.values() ?? [])].filter((p) => p.until > now);
  dom.typing.textContent =
    people.length === 0
      ? ''
      : `${people.map((p) => p.name).join(', ')} ${people.length === 1 ? 'is' : 'are'} typing…`;
}

let typingSentAt = 0;
let typingStop: ReturnType<typeof setTimeout> | undefined;
function typing(isTyping: boolean): void {
  if (active === PRIVATE || !client.connected) return;
  clearTimeout(typingStop);
  if (isTyping) {
    // One "typing" every 2 s while keys are pressed, and a "stopped" 3 s after the last one.
    if (Date.now() - typingSentAt > 2_000) {
      typingSentAt = Date.now();
      client.emit('typing', { room: active, typing: true });
    }
    typingStop = setTimeout(() => typing(false), 3_000);
  } else if (typingSentAt > 0) {
    typingSentAt = 0;
    client.emit('typing', { room: active, typing: false });
  }
}

function wire(): void {
  // --- connection lifecycle -------------------------------------------------------------------------
  let everConnected = false;
  client.on('connected', (nodeId) => {
    showStatus('connected', 'connected', nodeId);
    myId = client.id;
    // After a reconnection the cluster restores rooms, nickname and missed messages (see 'recovered').
    if (everConnected) return;
    everConnected = true;
    void setNickname(nickname);
    for (const room of conversations.keys()) if (room !== PRIVATE) void join(room);
    void refreshKnownRooms();
  });
  client.on('recovered', (report) => {
    if (report.recovered) {
      const missed = report.missed === 1 ? '1 missed message' : `${report.missed} missed messages`;
      add(active, { kind: 'system', text: `reconnected: ${missed} recovered`, at: Date.now() });
      return;
    }
    // Past the recovery window, or history lost: claim the nickname and rooms again and reload history.
    add(active, {
      kind: 'system',
      text: `reconnected, but could not recover (${report.reason ?? 'unknown'}): history reloaded`,
      at: Date.now(),
    });
    void setNickname(nickname);
    for (const room of conversations.keys()) if (room !== PRIVATE) void join(room);
  });
  client.on('node-changed', (from, to) => {
    add(active, { kind: 'system', text: `reconnected: moved from io-node ${from} to ${to}`, at: Date.now() });
  });
  client.on('disconnected', (reason) => showStatus('reconnecting', `disconnected (${reason})`));
  client.on('reconnecting', (attempt) => showStatus('reconnecting', `reconnecting (attempt ${attempt})…`));
  client.on('unavailable', (error) => showStatus('unavailable', error.message));
  client.on('unauthorized', (error, retrying) =>
    showStatus(retrying ? 'reconnecting' : 'unavailable', `sign-in refused (${error.code})`),
  );

  // --- server events ------------------------------------------------------------------------------------
  client.on('welcome', (info) => {
    myId = info.id;
    // The app-node's word on which io-node holds us: the same as the frontend's, and right in proxy mode too.
    showStatus('connected', 'connected', info.nodeId);
  });
  client.on('chat message', (message: ChatMessage) => add(message.room, { kind: 'message', message }));
  client.on('notice', (notice) => add(notice.room, { kind: 'notice', notice }));
  client.on('presence', (notice) => {
    const missed = joining.get(notice.room);
    if (missed) missed.push(notice);
    else applyPresence(notice);
  });
  client.on('private message', (message) => add(PRIVATE, { kind: 'private', message }));
  client.on('typing', (event) => {
    const room = typingPeople.get(event.room) ?? new Map<string, { name: string; until: number }>();
    typingPeople.set(event.room, room);
    if (event.typing) room.set(event.id, { name: who(event.nickname, event.id), until: Date.now() + 5_000 });
    else room.delete(event.id);
    renderTyping();
  });

  // --- user actions --------------------------------------------------------------------------------------
  dom.nickname.value = nickname;
  dom.nicknameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    showError('');
    void setNickname(dom.nickname.value.trim());
  });
  dom.joinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    showError('');
    const room = dom.joinRoom.value.trim();
    dom.joinRoom.value = '';
    switchTo(room);
    void join(room);
  });
  dom.rooms.parentElement?.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button.room');
    if (button?.dataset.room) switchTo(button.dataset.room);
  });
  dom.leave.addEventListener('click', () => {
    const room = active;
    void client.emitWithAck('leave', room);
    conversations.delete(room);
    members.delete(room);
    switchTo([...conversations.keys()].find((r) => r !== PRIVATE) ?? PRIVATE);
  });
  dom.text.addEventListener('input', () => typing(dom.text.value !== ''));
  dom.composer.addEventListener('submit', (event) => {
    event.preventDefault();
    showError('');
    const text = dom.text.value;
    if (text.trim() === '') return;
    dom.text.value = '';
    typing(false);
    const mid = crypto.randomUUID();
    const sentAt = Date.now();
    // `/msg <nickname> <text>` in a room is private too: it never goes to the room.
    const command = /^\/msg\s+(\S+)\s+([\s\S]+)$/.exec(text.trim());
    if (/^\/msg\b/.test(text.trim()) && !command) {
      dom.text.value = text;
      return showError('write /msg <nickname> <text>');
    }
    const to = command ? command[1]! : dom.pmTo.value.trim();
    const send =
      active === PRIVATE || command
        ? client.emitWithAck('private message', { to, text: command ? command[2]! : text, sentAt, mid })
        : client.emitWithAck('chat message', { room: active, text, sentAt, mid });
    send.then(
      (result) => {
        if (isChatError(result)) showError(result.error.message);
      },
      (err: unknown) => showError(`not sent: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
}
setInterval(renderTyping, 1_000);

for (const room of saved.rooms) conversation(room);
conversation(active);
save();
render();
void Promise.all([useProxy(params), hasLogin()]).then(([proxy, auth]) => {
  const strategy = params.get('strategy');
  client = createClient<ChatServerEvents, ChatClientEvents>({
    frontendUrl: location.origin,
    proxy,
    ...(auth ? { getToken: login } : {}),
    // ?strategy=round-robin|random|fewest-connections overrides the frontend's default pick.
    ...(strategy === 'round-robin' || strategy === 'random' || strategy === 'fewest-connections'
      ? { strategy }
      : {}),
  });
  wire();
});
