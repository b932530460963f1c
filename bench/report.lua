-- wrk script for bench/receiver.py: POSTs reports of 20 uiCounter entries and one
-- application_usage entry, each with its own reportId (thread id + counter), keep-alive.
local counter = 0
local threads = {}
local prefix = os.getenv("BENCH_PREFIX") or "bench"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local entries = {}
  for i = 0, 19 do
    local event = string.format("event_%02d", i)
    local key = "bench-click-" .. event
    table.insert(entries, string.format(
      '"%s":{"key":"%s","appName":"bench","eventName":"%s","type":"click","total":1}', key, key, event))
  end
  head = '{"report":{"reportVersion":3,"reportId":"'
  tail = '","uiCounter":{' .. table.concat(entries, ",") ..
    '},"application_usage":{"bench-main":{"appId":"bench","viewId":"main","minutesOnScreen":0.5,"numberOfClicks":2}}}}'
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["kbn-xsrf"] = "bench"
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. prefix .. "-" .. tid .. "-" .. counter .. tail)
end
