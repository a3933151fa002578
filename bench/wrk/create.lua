-- POST /api/v1/tickets with varied requesters, subjects, languages and priorities.
-- Arguments after "--": the size of the requester pool (customerN@bench.example.com; numbers
-- past the customers already stored are new people, created on their first ticket).
local pool = 100000
local counter = 0
local subjects = {
  "Refund for order %d", "Invoice needed for order %d", "Cannot log in (ref %d)",
  "Parcel %d has not arrived", "订单%d什么时候发货？", "申请退款：订单%d", "发票抬头写错了 %d",
  "物流信息三天没更新 %d",
}
local bodies = {
  "Hello, my order still shows as processing. Could you check what is going on?",
  "The device stopped charging after a week. Please advise.",
  "你好，订单到现在还没有发货，请帮我查一下是什么原因，谢谢。",
  "收到的商品有破损，申请退款，照片见附件。",
}
local priorities = { "low", "normal", "normal", "normal", "high", "urgent" }
local channels = { "api", "email", "web", "whatsapp", "wechat" }
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  pool = tonumber(args[1]) or pool
  math.randomseed(7919 * id)
end

function request()
  counter = counter + 1
  local n = math.random(1, pool)
  local body = string.format(
    '{"subject":"%s","body":"%s","requester":{"email":"customer%d@bench.example.com",' ..
    '"name":"Customer %d"},"priority":"%s","channel":"%s","tags":["bench"]}',
    string.format(subjects[math.random(#subjects)], counter), bodies[math.random(#bodies)],
    n, n, priorities[math.random(#priorities)], channels[math.random(#channels)])
  return wrk.format("POST", nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "other_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
