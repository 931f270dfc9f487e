-- wrk script for bench/wrk.py: rotate through a list of URLs (each with an optional Cookie
-- header), count response statuses and the values of a few headers, and print everything
-- in machine-readable lines from done().
--
--   wrk -t2 -c16 -d20s -s bench/rotate.lua http://127.0.0.1:8100 -- URL_FILE [HEADER...]
--
-- URL_FILE: one request per line, "path" or "path<TAB>cookie". HEADER: names of response
-- headers whose values are counted (case-insensitive), e.g. X-Page-Cache.
--
-- Each wrk thread has its own Lua state: setup() keeps every thread so done() can collect
-- their counts with thread:get(). Requests are formatted once in init(), not per request.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

local requests = {}
local position = 0
local tracked = {}
statuses = {}
seen = {}

function init(args)
   local path = args[1]
   if path == nil then
      error("rotate.lua needs the URL file as its first argument (after --)")
   end
   for i = 2, #args do
      tracked[string.lower(args[i])] = true
   end
   for line in io.lines(path) do
      local url, cookie = string.match(line, "^([^\t]+)\t?(.*)$")
      if url ~= nil then
         local headers = {}
         if cookie ~= nil and cookie ~= "" then
            headers["Cookie"] = cookie
         end
         table.insert(requests, wrk.format("GET", url, headers))
      end
   end
   if #requests == 0 then
      error("no URLs in " .. path)
   end
   -- Threads start at different places in the list, so they do not ask in lockstep.
   position = (thread_index or 0) * math.floor(#requests / 2)
end

function request()
   position = position % #requests + 1
   return requests[position]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   for name, value in pairs(headers) do
      local lowered = string.lower(name)
      if tracked[lowered] then
         local key = lowered .. "\t" .. value
         seen[key] = (seen[key] or 0) + 1
      end
   end
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      "bench-wrk summary requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout))
   io.write(string.format("bench-wrk latency_us mean=%.1f max=%d p50=%d p90=%d p95=%d p99=%d\n",
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(95), latency:percentile(99)))
   local total_statuses, total_seen = {}, {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         total_statuses[status] = (total_statuses[status] or 0) + count
      end
      for key, count in pairs(thread:get("seen")) do
         total_seen[key] = (total_seen[key] or 0) + count
      end
   end
   for status, count in pairs(total_statuses) do
      io.write(string.format("bench-wrk status %d %d\n", status, count))
   end
   for key, count in pairs(total_seen) do
      io.write(string.format("bench-wrk header %s\t%d\n", key, count))
   end
end
