--[[
  Adds (or replaces) one connection's entry in a room's presence roster and counts its member. A
  repeated join (a job run again, a new meta) only replaces the entry.

  KEYS[1] the room's connections hash (socket id -> entry)
  KEYS[2] the room's members hash (member id -> connection count)
  ARGV[1] socket id
  ARGV[2] member id
  ARGV[3] the entry, JSON
  Returns 1 when the member's count went from 0 to 1 (it joined), else 0
]]
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if old then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then return 1 end
return 0
