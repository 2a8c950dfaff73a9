-- wrk script: GET /checkout/{id} for a session picked at random from a file of ids (one per
-- line, IDS_FILE), so that reads spread over the whole table instead of one cached row.
-- Prints p50/p99 in milliseconds at the end.

local ids = {}

function init(args)
  for line in io.lines(os.getenv("IDS_FILE")) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  math.randomseed(os.time() + #ids)
end

function request()
  return wrk.format("GET", "/checkout/" .. ids[math.random(#ids)])
end

function done(summary, latency, requests)
  io.write(string.format("p50_ms %.2f p90_ms %.2f p99_ms %.2f max_ms %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
