-- Shared by every bench script (loaded with dofile): thread ids, and a done() that prints one
-- machine-readable line that bench/run.sh parses:
--   WRKJSON {"requests":N,"duration_s":S,"non2xx":N,...,"p50_ms":X,"p99_ms":Y,"reseeds":N}
-- `non2xx` is wrk's status error count (responses with a status above 399); `reseeds` is the number
-- of requests a script sent other than its operation (refresh.lua only), to subtract.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local reseeds = 0
  for _, t in ipairs(threads) do
    reseeds = reseeds + (tonumber(t:get("reseeds")) or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"non2xx":%d,"connect_err":%d,"read_err":%d,' ..
    '"write_err":%d,"timeouts":%d,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"reseeds":%d}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, reseeds))
end
