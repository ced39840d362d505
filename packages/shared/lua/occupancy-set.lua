--[[
  Sets an io-node's member count in a room's occupancy hash (removing its field at 0) and tells whether
  the room went from no member on any io-node to some, or back. Counts are absolute, so a write repeated
  after a failure changes nothing and reports nothing; a purger writing 0 for a dead node reports
  `vacated` once however many purge it at the same time.

  KEYS[1] the room's occupancy hash (io-node id -> members there)
  ARGV[1] io-node id
  ARGV[2] its member count
  Returns 1 when the room became occupied, -1 when it became vacant, else 0
]]
local before = redis.call('HLEN', KEYS[1])
local n = tonumber(ARGV[2])
if n > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], n)
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local after = redis.call('HLEN', KEYS[1])
if before == 0 and after > 0 then return 1 end
if before > 0 and after == 0 then return -1 end
return 0
