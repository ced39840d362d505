--[[
  Removes one connection's entry from a room's presence roster and uncounts its member.

  KEYS[1] the room's connections hash (socket id -> entry)
  KEYS[2] the room's members hash (member id -> connection count)
  ARGV[1] socket id
  Returns nil when the connection is not there, else { 1 when it was its member's last connection
  (the member left) or 0, the removed entry }
]]
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local member = cjson.decode(entry).m
if redis.call('HINCRBY', KEYS[2], member, -1) <= 0 then
  redis.call('HDEL', KEYS[2], member)
  return { 1, entry }
end
return { 0, entry }
