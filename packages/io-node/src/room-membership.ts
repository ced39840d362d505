import type { Server } from 'socket.io';

/** A module that follows sockets joining and leaving rooms on this node. */
export interface MembershipFollower {
  joined?(room: string, socketId: string): void;
  left?(room: string, socketId: string): void;
}

/**
 * The one listener of the Socket.IO adapter's `join-room` / `leave-room`: it tells each follower in the
 * order given (room routing first, so a count is written before anything that may read it). A socket's
 * own room (its id) is passed on too; followers skip what they do not track. Returns the remover.
 */
export function followMembership(io: Server, followers: readonly MembershipFollower[]): () => void {
  const { adapter } = io.of('/');
  const onJoin = (room: string, socketId: string) => {
    for (const follower of followers) follower.joined?.(room, socketId);
  };
  const onLeave = (room: string, socketId: string) => {
    for (const follower of followers) follower.left?.(room, socketId);
  };
  adapter.on('join-room', onJoin);
  adapter.on('leave-room', onLeave);
  return () => {
    adapter.off('join-room', onJoin);
    adapter.off('leave-room', onLeave);
  };
}
