-- wrk script: POST /api/gateway/sessions with a distinct buyer per request, counting the
-- sessions the server acknowledged (HTTP 200) so the durability check can compare.
-- Needs the environment variable OPENRAILS_KEY (an sk_test_ key).

local threads = {}
local key = os.getenv("OPENRAILS_KEY")

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  acknowledged = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"product":"Creator plan","amount":116,"customer":"buyer-%d-%d@example.com",' ..
    '"preferredRoute":"card","redirectUrl":"https://merchant.example/success?order=ord_284",' ..
    '"metadata":{"order_id":"ord_%d"}}', id, counter, counter)
  return wrk.format(nil, "/api/gateway/sessions", nil, body)
end

function response(status, headers, body)
  if status == 200 then
    acknowledged = acknowledged + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + t:get("acknowledged")
  end
  io.write(string.format("acknowledged_sessions %d\n", total))
  io.write(string.format("p50_ms %.2f p90_ms %.2f p99_ms %.2f max_ms %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
