-- Appends one change. ARGV: op, entry JSON, log length, ring length,
-- then op-specific arguments. Returns {status, n, seq}: status 'ok'
-- (n: its log position, 0 when nothing changed), 'dup' (a remembered
-- client_id; seq: its message), or the reason it was refused.
local P = 'flack:'
local op, json, log_len, ring_len = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
-- Deletes the files of message `seq` of channel `key` (it is gone).
local function drop_files(key, seq)
  local list = P .. 'msgfiles:' .. key .. ':' .. seq
  for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do
    local file = P .. 'file:' .. id
    local size = tonumber(redis.call('HGET', file, 'size') or '0')
    local owner = redis.call('HGET', file, 'owner')
    redis.call('DEL', file)
    redis.call('DECRBY', P .. 'files_bytes', size)
    if owner and redis.call('DECRBY', P .. 'files_bytes:' .. owner, size) <= 0 then
      redis.call('DEL', P .. 'files_bytes:' .. owner)
    end
  end
  redis.call('DEL', list)
end
-- Deletes the files of the replies kept only in thread `root` of `key`.
local function drop_thread(key, root)
  local list = P .. 'thread:' .. key .. ':' .. root
  for _, seq in ipairs(redis.call('LRANGE', list, 0, -1)) do drop_files(key, seq) end
  redis.call('DEL', list)
end
local function append(seq)
  local n = redis.call('INCR', P .. 'lsn')
  redis.call('XADD', P .. 'log', 'MAXLEN', '~', log_len, n .. '-0', 'e', json, 's', seq)
  return n
end
if op == 'notice' then
  local n = redis.call('INCR', P .. 'lsn')
  redis.call('XADD', P .. 'log', 'MAXLEN', '~', log_len, n .. '-0', 'n', json)
  return {'ok', n, 0}
elseif op == 'user' then
  -- ARGV[8]: the caller's session this one replaces ('' for none);
  -- ARGV[9]...: the name's skeletons; a name that looks like one is taken.
  local key, id, session, replaces = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
  for i = 9, #ARGV do
    if redis.call('HEXISTS', P .. 'name_skeletons', ARGV[i]) == 1 then return {'name_taken', 0, 0} end
  end
  if redis.call('HSETNX', P .. 'names', key, id) == 0 then return {'name_taken', 0, 0} end
  for i = 9, #ARGV do redis.call('HSET', P .. 'name_skeletons', ARGV[i], id) end
  redis.call('HSET', P .. 'users', id, json)
  redis.call('HSET', P .. 'sessions', session, json)
  if replaces ~= '' then redis.call('HDEL', P .. 'sessions', replaces) end
  return {'ok', append(0), 0}
elseif op == 'session' then
  -- A touch (a session used): only of a session that still exists, so a
  -- touch that crosses a sign-out cannot bring the session back.
  -- ARGV[6]: the session this one replaces ('' for none).
  if redis.call('HEXISTS', P .. 'sessions', ARGV[5]) == 0 then return {'ok', 0, 0} end
  redis.call('HSET', P .. 'sessions', ARGV[5], json)
  if ARGV[6] ~= '' then redis.call('HDEL', P .. 'sessions', ARGV[6]) end
  return {'ok', append(0), 0}
elseif op == 'end_sessions' then
  for i = 5, #ARGV do redis.call('HDEL', P .. 'sessions', ARGV[i]) end
  return {'ok', append(0), 0}
elseif op == 'channel' then
  -- ARGV[6]...: a public channel's skeletons (none for a conversation).
  local key = ARGV[5]
  for i = 6, #ARGV do
    if redis.call('HEXISTS', P .. 'channel_skeletons', ARGV[i]) == 1 then return {'channel_exists', 0, 0} end
  end
  if redis.call('HSETNX', P .. 'channels', key, json) == 0 then return {'channel_exists', 0, 0} end
  for i = 6, #ARGV do redis.call('HSET', P .. 'channel_skeletons', ARGV[i], key) end
  redis.call('RPUSH', P .. 'order', key)
  return {'ok', append(0), 0}
elseif op == 'read' then
  local reads, key, seq = P .. 'reads:' .. ARGV[5], ARGV[6], tonumber(ARGV[7])
  local at = tonumber(redis.call('HGET', reads, key) or '0')
  if seq <= at then return {'ok', 0, 0} end
  redis.call('HSET', reads, key, seq)
  return {'ok', append(0), 0}
else
  -- an event: 'post', 'reply' (kept only in its thread), 'delete',
  -- 'topic' or 'change'
  local key, user, client_id, window = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
  if redis.call('HEXISTS', P .. 'channels', key) == 0 then return {'unknown_channel', 0, 0} end
  local sent, sentq = P .. 'sent:' .. user, P .. 'sentq:' .. user
  if client_id ~= '' then
    -- '<seq> <channel key>'; a bare seq was written before channels were kept.
    local seen = redis.call('HGET', sent, client_id)
    if seen then
      local seq, where = string.match(seen, '^(%d+) (.*)$')
      if not seq then return {'dup', 0, tonumber(seen)} end
      if where ~= key then return {'client_id_reused', 0, 0} end
      return {'dup', 0, tonumber(seq)}
    end
  end
  -- A post's attachments (ARGV[9]..., a reply's ARGV[11]... after its
  -- thread and the thread's length) must all be this user's unsent uploads.
  local first_file = 9
  if op == 'reply' then first_file = 11 end
  if op == 'post' or op == 'reply' then
    for i = first_file, #ARGV do
      local id = ARGV[i]
      if not redis.call('ZSCORE', P .. 'pending', id)
        or redis.call('HGET', P .. 'file:' .. id, 'owner') ~= user then
        return {'not_yours:' .. id, 0, 0}
      end
    end
  end
  local events, posts = P .. 'events:' .. key, P .. 'posts:' .. key
  -- A reply whose thread's first message is gone is stored nowhere:
  -- refused before it takes a seq.
  if op == 'reply' and not redis.call('LPOS', posts, ARGV[9]) then return {'unknown_message', 0, 0} end
  local seq = redis.call('INCR', P .. 'head:' .. key)
  redis.call('XADD', events, seq .. '-0', 'e', json)
  if op == 'post' or op == 'reply' then
    for i = first_file, #ARGV do
      redis.call('ZREM', P .. 'pending', ARGV[i])
      redis.call('RPUSH', P .. 'msgfiles:' .. key .. ':' .. seq, ARGV[i])
    end
    if client_id ~= '' then
      redis.call('HSET', sent, client_id, seq .. ' ' .. key)
      redis.call('RPUSH', sentq, client_id)
      if redis.call('LLEN', sentq) > window then redis.call('HDEL', sent, redis.call('LPOP', sentq)) end
    end
  end
  if op == 'post' then
    redis.call('RPUSH', posts, seq)
    if redis.call('LLEN', posts) > ring_len then
      local gone = redis.call('LPOP', posts)
      drop_files(key, gone)
      drop_thread(key, gone)
      redis.call('XTRIM', events, 'MINID', redis.call('LINDEX', posts, 0) .. '-0')
    end
  elseif op == 'reply' then
    local root, thread_len = ARGV[9], tonumber(ARGV[10])
    local thread = P .. 'thread:' .. key .. ':' .. root
    redis.call('RPUSH', thread, seq)
    if redis.call('LLEN', thread) > thread_len then drop_files(key, redis.call('LPOP', thread)) end
  elseif op == 'delete' then
    redis.call('LREM', posts, 0, ARGV[9])
    drop_files(key, ARGV[9])
    drop_thread(key, ARGV[9])
    if ARGV[10] ~= '' then redis.call('LREM', P .. 'thread:' .. key .. ':' .. ARGV[10], 0, ARGV[9]) end
  elseif op == 'topic' then
    -- Kept beside the events: trimming them must not take the topic.
    redis.call('HSET', P .. 'topics', key, json)
  end
  return {'ok', append(seq), seq}
end
