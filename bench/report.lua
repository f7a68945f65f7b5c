-- wrk: prints one machine-readable line at the end of a run, for bench/bench.py.
-- Used alone for static requests (headers from -H), or loaded by the other scripts.
-- Threads may publish counters in globals "bad" (non-2xx seen by response()) and "deleted".
local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local bad, deleted = 0, 0
   for _, t in ipairs(threads) do
      bad = bad + (t:get("bad") or 0)
      deleted = deleted + (t:get("deleted") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
      .. "connect=%d read=%d write=%d timeout=%d status=%d bad=%d deleted=%d\n",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.timeout, e.status, bad, deleted))
end
