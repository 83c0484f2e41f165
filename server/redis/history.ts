/**
 * The script behind `Hub.history` on the Redis engine (the server API's history reads): a topic's messages out
 * of its Stream without subscribing to its channel, in one atomic step (head, epoch and entries together, like
 * the subscribe path's replay). Entries past the age window that the once-a-second trim has not removed yet
 * are skipped, so what is returned is exactly what a resuming client could still get. Run by hub-calls.ts.
 */
import { Script } from './connection.ts';

/**
 * history. KEYS: meta hash, history stream. ARGV: since (-1: the last `limit`), limit, now (ms), window (ms),
 * a fresh epoch (kept if the topic has none), meta TTL (ms), the epoch `since` belongs to ('' = unknown).
 * Returns { head, status, epoch, seq1, data1, ... }: status `ok`, `history-gap` or `history-lost` (with the
 * oldest entries still held after `since`), or `ahead-of-history` (none).
 */
export const HISTORY = new Script(
  `
if redis.call('HSETNX', KEYS[1], 'e', ARGV[5]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
local epoch = redis.call('HGET', KEYS[1], 'e')
local head = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local since = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local oldest = tonumber(ARGV[3]) - tonumber(ARGV[4])
local out = {head, 'ok', epoch}
if since < 0 then
  local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)
  for i = #entries, 1, -1 do
    if tonumber(entries[i][2][2]) >= oldest then
      out[#out + 1] = string.match(entries[i][1], '^(%d+)')
      out[#out + 1] = entries[i][2][4]
    end
  end
  return out
end
local start = string.format('%d-0', since + 1)
if ARGV[7] ~= '' and ARGV[7] ~= epoch then
  out[2] = 'history-lost'
  start = '-'
elseif since > head then
  return {head, 'ahead-of-history', epoch}
elseif since == head then
  return out
end
local taken = 0
while taken < limit do
  local want = limit - taken
  local entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', want)
  for i = 1, #entries do
    if tonumber(entries[i][2][2]) >= oldest then
      local seq = string.match(entries[i][1], '^(%d+)')
      if taken == 0 and out[2] == 'ok' and tonumber(seq) ~= since + 1 then out[2] = 'history-gap' end
      out[#out + 1] = seq
      out[#out + 1] = entries[i][2][4]
      taken = taken + 1
    end
  end
  if #entries < want then break end
  start = '(' .. entries[#entries][1]
end
if taken == 0 and out[2] == 'ok' then out[2] = 'history-gap' end
return out
`,
  2,
);
