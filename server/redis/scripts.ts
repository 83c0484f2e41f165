/**
 * The Lua scripts of the Redis engine. Each one is a single atomic step in Redis and a single round trip for
 * the node, which is what makes cluster-wide sequence numbers correct (no read-then-write between nodes) and
 * what keeps a publish at one round trip. Numbers cross into Lua as doubles: `%d` formatting keeps sequence
 * numbers exact up to 2^53 where Lua's default would print 1e+15.
 */
import { Script } from './connection.ts';

/**
 * publish. KEYS: meta hash (field s = head seq, e = epoch, c = last age-trim check), history stream, channel,
 * idempotency key. ARGV: data (MessagePack), now (ms), max entries, window (ms), meta TTL (ms), idempotency TTL
 * (ms, 0 = none), a fresh epoch (kept only if the topic has none: its numbering starts here), max bytes of data
 * kept (0 or absent: no byte bound), the publish command (PUBLISH, or SPUBLISH on a Redis Cluster: the channel
 * shares the topic's slot, so only its shard is touched).
 * Appends `<seq>-0` with fields t (time) and d (data), trims by count (MAXLEN ~) and, at most once a second per
 * topic, by age (entries older than the window, oldest first), then publishes `<seq> <data>`. Returns seq.
 * Bytes: meta field b is an upper bound of the data bytes in the stream (every append adds to it; the count and
 * age trims only make it pessimistic). Past the budget the stream is recounted from the newest entry back and
 * cut where 3/4 of the budget is full (the newest entry is kept if it fits the budget alone), so a recount
 * happens once per quarter budget appended, not on every publish.
 */
export const PUBLISH = new Script(
  `
local idemTtl = tonumber(ARGV[6])
if idemTtl > 0 then
  local previous = redis.call('GET', KEYS[4])
  if previous then return tonumber(previous) end
end
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[4])
local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('HSETNX', KEYS[1], 'e', ARGV[7])
local id = string.format('%d-0', seq)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], id, 't', ARGV[2], 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[2], window)
local checked = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
if now - checked >= 1000 or now < checked then
  redis.call('HSET', KEYS[1], 'c', ARGV[2])
  local oldest = now - window
  for _ = 1, 16 do
    local entries = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 64)
    local cut = nil
    for i = 1, #entries do
      if tonumber(entries[i][2][2]) < oldest then cut = tonumber(string.match(entries[i][1], '^(%d+)')) else break end
    end
    if not cut then break end
    redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d-0', cut + 1))
    if cut ~= tonumber(string.match(entries[#entries][1], '^(%d+)')) then break end
  end
end
local maxBytes = tonumber(ARGV[8] or '0')
if maxBytes > 0 and redis.call('HINCRBY', KEYS[1], 'b', #ARGV[1]) > maxBytes then
  local kept, cut, from, limit = 0, nil, '+', maxBytes
  repeat
    local entries = redis.call('XREVRANGE', KEYS[2], from, '-', 'COUNT', 16)
    for i = 1, #entries do
      local size = #entries[i][2][4]
      if kept + size > limit then cut = entries[i][1] break end
      kept = kept + size
      limit = math.floor(maxBytes * 3 / 4)
    end
    if #entries > 0 then from = '(' .. entries[#entries][1] end
  until cut or #entries < 16
  if cut then redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d-0', tonumber(string.match(cut, '^(%d+)')) + 1)) end
  redis.call('HSET', KEYS[1], 'b', kept)
end
redis.call(ARGV[9] or 'PUBLISH', KEYS[3], string.format('%d ', seq) .. ARGV[1])
if idemTtl > 0 then redis.call('SET', KEYS[4], seq, 'PX', idemTtl) end
return seq
`,
  4,
);

/**
 * replay. KEYS: meta hash, history stream. ARGV: since (-1: none), now (ms), window (ms), page size, a fresh
 * epoch (kept if the topic has none), meta TTL (ms), the epoch `since` belongs to ('' = unknown).
 * Returns { head, status, epoch, seq1, data1, seq2, data2, ... } with status `subscribed` (no position),
 * `history-lost` (the topic's numbering started again since: another epoch), `ok` (the entries after `since`,
 * up to a page), `history-gap` (the entry right after `since` was trimmed or is older than the window) or
 * `ahead-of-history` (since > head). Head, epoch and entries are read in one atomic step.
 */
export const REPLAY = new Script(
  `
if redis.call('HSETNX', KEYS[1], 'e', ARGV[5]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
local epoch = redis.call('HGET', KEYS[1], 'e')
local head = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local since = tonumber(ARGV[1])
if since < 0 then return {head, 'subscribed', epoch} end
if ARGV[7] ~= '' and ARGV[7] ~= epoch then return {head, 'history-lost', epoch} end
if since > head then return {head, 'ahead-of-history', epoch} end
if since == head then return {head, 'ok', epoch} end
local entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', since + 1), '+', 'COUNT', ARGV[4])
if #entries == 0 then return {head, 'history-gap', epoch} end
local first = tonumber(string.match(entries[1][1], '^(%d+)'))
if first ~= since + 1 or tonumber(entries[1][2][2]) < tonumber(ARGV[2]) - tonumber(ARGV[3]) then
  return {head, 'history-gap', epoch}
end
local out = {head, 'ok', epoch}
for i = 1, #entries do
  out[#out + 1] = string.match(entries[i][1], '^(%d+)')
  out[#out + 1] = entries[i][2][4]
end
return out
`,
  2,
);
