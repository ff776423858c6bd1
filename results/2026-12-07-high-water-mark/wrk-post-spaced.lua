-- As wrk-post.lua, but event ids two apart (1, 3, 5, ...): no two accepted ids are adjacent,
-- so the accepted-id ranges (and the high-water mark) hold one range per event: the worst
-- case for the mark's size.
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  nthreads = tonumber(args[1]) or 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local event = 2 * (counter * nthreads + tid)
  local body = string.format('{"event_id":%d,"account_id":%d}', event, event % 1000)
  return wrk.format(nil, nil, nil, body)
end
