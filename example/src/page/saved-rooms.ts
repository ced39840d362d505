/** What a tab keeps across reloads (its session storage): the rooms it had joined and the one it showed. */
export interface SavedRooms {
  rooms: string[];
  active: string | undefined;
}

const ROOMS_KEY = 'chat-rooms';
const ACTIVE_KEY = 'chat-active';

/** The tab's saved rooms; none when nothing (or nothing readable) was saved. */
export function loadSaved(): SavedRooms {
  try {
    const rooms: unknown = JSON.parse(sessionStorage.getItem(ROOMS_KEY) ?? '[]');
    return {
      rooms: Array.isArray(rooms) ? rooms.filter((r): r is string => typeof r === 'string') : [],
      active: sessionStorage.getItem(ACTIVE_KEY) ?? undefined,
    };
  } catch {
    return { rooms: [], active: undefined };
  }
}

/** Saves the joined rooms and the conversation shown, for a reload to restore. */
export function saveRooms(rooms: readonly string[], active: string): void {
  sessionStorage.setItem(ROOMS_KEY, JSON.stringify(rooms));
  sessionStorage.setItem(ACTIVE_KEY, active);
}
