--[[
  Starts (or ends) a disconnected client's recovery window, only while the session still belongs to
  that connection (a reconnect elsewhere may have taken it over).

  KEYS[1] the session hash
  KEYS[2] the session's replies hash
  ARGV[1] socket id the session must still name
  ARGV[2] recovery window, ms
  ARGV[3] '1' to delete the session and its replies instead of letting them expire
  Returns 0 when the session belongs to another connection, else what DEL or PEXPIRE answered
]]
if redis.call('HGET', KEYS[1], 'socket') ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then return redis.call('DEL', KEYS[1], KEYS[2]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
