/* brython-worker.js: runs usage_reporter under Brython in a classic Web Worker, served at
 * /usage/brython-worker.js and started by /usage/boot-brython.js (the forwarder shared with
 * Pyodide). brython.js evaluating itself and our Python starting are then no task of the
 * page's. Protocol as pyodide-worker.mjs's:
 *   main -> worker  {t: "start", urls: {runtime, bundle}, config, storage}  first, once;
 *                   anything else: handed to Python in order once it runs
 *   worker -> main  whatever usage_reporter._brython_worker posts, or {t: "error", message}.
 */
var inbox = [], deliver = null, timing = {worker: now()}
function now() {
return performance.timeOrigin + performance.now()
}
function start(message) {
try {
timing.start = now()
importScripts(message.urls.runtime, message.urls.bundle)
timing.imported = now()
brython({debug: 0})
message.timing = timing
self.usageStart = JSON.stringify(message)
self.usagePost = function (text) { postMessage(JSON.parse(text)) }
__BRYTHON__.runPythonSource("import usage_reporter._brython_worker\nusage_reporter._brython_worker.boot()", {id: "usage_reporter_worker"})
deliver = self.usageDeliver
if (!deliver) return
inbox.splice(0).forEach(function (data) { deliver(JSON.stringify(data)) })
} catch (e) {
postMessage({t: "error", message: "usage-collection: the Brython worker could not start: " + (e && e.message || e)})
}
}
self.onmessage = function (e) {
var data = e.data
if (data && data.t == "start") start(data)
else if (deliver) deliver(JSON.stringify(data))
else inbox.push(data)
}
