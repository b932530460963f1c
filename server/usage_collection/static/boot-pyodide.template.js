/* boot-pyodide.template.js: loaded by usage.js after the page's `load` event; served (minified) at
 * /usage/boot-pyodide.js with the configuration below filled in by the server. The same
 * forwarder runs Brython's reporter in a classic worker (/usage/brython-worker.js): it is
 * the second half of /usage/boot-brython.js, with C.runtime and C.bundle set.
 *
 * (With data-python="page" on usage.js's tag, the page runs Pyodide and boots
 * usage_reporter itself: this file then only hands it the server's settings.)
 *
 * Pyodide's start is one ~2 s task, so Python runs in a module Web Worker
 * (/usage/pyodide-worker.mjs) and this file is all the page's main thread runs: a
 * forwarder. It keeps what only the main thread has and hands everything else, in order,
 * to the worker's Python (usage_reporter.worker_session):
 *   - data-usage-view elements coming and going, visibility, history navigation, and once
 *     Python runs, the window.usage facade (usage.h), usage.js's queue (usage.q) and page
 *     clicks (usage.k, from usage.js's listener): each is a call {t: "call", s: seq, at: ms,
 *     c: [name, args]}, stamped with when it happened;
 *   - settings: the server's (C.settings, snake_case), the script tag's data-* attributes
 *     and the page's state go to the worker as they are; Python decides what wins;
 *   - localStorage: the worker gets a copy of our keys at start and posts its writes back;
 *   - sendBeacon: the worker keeps us told of what a beacon would send now ("preview"), so
 *     at pagehide we beacon it synchronously and store it as sent (same reportId: the core
 *     resends it later and the server counts it once).
 * usage.unconfirmed counts the calls the worker has not yet confirmed (preview.s): a tab
 * that closes in the ~10 ms before cannot beacon them, so they are saved at pagehide in
 * usage.js's format (localStorage "usage_reporter.q.<ms>.<seq>") and the next page
 * replays them, as usage.js saves its own queue: nothing is lost when a tab closes before
 * Python is up, or before the worker answered. Nothing here throws into the page.
 */
(function (C, d, w) {
var u = w.usage, me = d.currentScript, S = w.localStorage, P = C.settings, worker = null, seq = 0, sent = []
var preview = null, app = null, views = [], logged = {}, booted = performance.now(), first, replayed = null
function log(message, level) {
if (logged[message]) return
logged[message] = 1
console[level || "error"](message)
}
function url(path) {
return new URL(path, me.src).href
}
function guard(f) {
return function (e) {
try { f(e) } catch (x) { log("usage: " + x) }
}
}
function attr(name) {
return u.s && u.s.getAttribute(name)
}
// The script tag's data-* attributes, raw: which one sets what, and what wins, is Python's
// (usage_reporter.page_session.settings).
function script() {
var found = {}, all = u.s ? u.s.attributes : [], i
for (i = 0; i < all.length; i++) if (all[i].name.indexOf("data-") == 0) found[all[i].name] = all[i].value
return found
}
function ours(key) {
return key != null && key.indexOf("usage_reporter") == 0
}
function snapshot() {
var copy = {}, i, k
try {
for (i = 0; i < S.length; i++) if (ours(k = S.key(i))) copy[k] = S.getItem(k)
} catch (x) {}
return copy
}
function store(key, value) {
try { value == null ? S.removeItem(key) : S.setItem(key, value) } catch (x) { log("usage: localStorage refused a write: " + x) }
}
function bodyApp() {
return d.body && d.body.getAttribute("data-usage-app")
}
function scan() {
var found = d.querySelectorAll("[data-usage-view]"), ids = [], i, id
for (i = 0; i < found.length; i++) if (ids.indexOf(id = found[i].getAttribute("data-usage-view")) < 0) ids.push(id)
return ids
}
function post(item) {
worker && worker.postMessage({t: "call", s: item.s, at: item.at, c: item.c})
}
// A call for the Python reporter, kept until the worker confirms it. One the worker cannot
// be posted is dropped alone, with a warning: the calls after it still go.
function call(c) {
var item = {s: seq + 1, at: Date.now(), c: c}
try {
post(item)
} catch (x) {
return log("usage: dropped a " + c[0] + " call: " + x, "warn")
}
seq = item.s
if (c[0] == "setAppId" && c[1][0]) app = c[1][0]
sent.push(item)
u.unconfirmed = sent.length
}
// A facade call (usage.js's queue, then usage.h) as JSON data, as usage.js makes them: a
// page may still run an older usage.js from its cache, which kept DOM elements, Events and
// functions as they came. optOut and optIn ignore their arguments (click handlers get one).
function facade(c) {
try {
c = [c[0], /^opt(In|Out)$/.test(c[0]) ? [] : JSON.parse(JSON.stringify(c[1]))]
} catch (x) {
return log("usage: dropped a " + c[0] + " call: " + x, "warn")
}
call(c)
}
function receive(e) {
var m = e.data
if (e.target != worker || !m) return
if (m.t == "set") store(m.k, m.v)
else if (m.t == "preview") {
preview = m
while (sent.length && sent[0].s <= m.s) sent.shift()
u.unconfirmed = sent.length
settle()
} else if (m.t == "beacon") navigator.sendBeacon(P.report_url, m.body)
else if (m.t == "log") console.warn(m.message)
else if (m.t == "error") log(m.message)
else if (m.t == "ready") ready(m.timing || {})
}
// Python runs: hand it usage.js's queue; usage.timing says when each step ended (ms since
// navigation). From now on the facade (usage.h) and clicks (usage.k: usage.js's own click
// listener, the one translation of data-usage-click on this thread) come here; usage.js
// queued them until then, and saves its queue itself if the tab closes before.
function ready(t) {
var k, origin = performance.timeOrigin
u.timing = {boot: Math.round(booted)}
for (k in t) u.timing[k] = Math.round(t[k] - origin)
if (!u.h) {
u.q.splice(0).forEach(facade)
u.h = guard(facade)
u.k = guard(call)
}
replayed = seq
settle()
}
// usage.ready resolves once the worker confirmed every call made before it ran: an early
// optOut is in force, and an early bad call has had its console warning.
function settle() {
if (replayed == null || (sent.length && sent[0].s <= replayed)) return
replayed = null
u.timing.ready = Math.round(performance.now())
u.r()
}
function start() {
var src = C.workerUrl, page, classic = !!C.runtime
if (new URL(src).origin != location.origin) {
// A worker must be same-origin: start it from a blob that imports the real one.
// (A static import: a module worker takes messages once its imports ran.)
src = URL.createObjectURL(new Blob([classic ? "importScripts(" + JSON.stringify(src) + ")" : "import " + JSON.stringify(src)], {type: "text/javascript"}))
}
worker = classic ? new Worker(src) : new Worker(src, {type: "module"})
worker.onmessage = guard(receive)
worker.onerror = function (e) { log("usage: the Pyodide worker failed: " + (e.message || "no details")) }
views = scan()
// The page as it is now; app: the app of the last setAppId (back from the cache, it is not
// the script tag's any more).
page = {gpc: navigator.globalPrivacyControl === true, user_agent: navigator.userAgent, hidden: d.visibilityState == "hidden",
start_ms: performance.timeOrigin, body_app: bodyApp(), path: location.pathname, views: views}
if (app) page.app_id = app
worker.postMessage({t: "start", urls: classic ? {runtime: C.runtime, bundle: C.bundle} : {indexURL: C.indexURL, wheelURL: C.wheelURL, snapshotURL: C.snapshotURL && url(C.snapshotURL), lockInfo: C.lockInfo}, settings: P, script: script(), page: page, storage: snapshot()})
sent.forEach(post)
}
// The page goes away (closed, navigated, or into the back/forward cache): beacon what the
// worker prepared and save what it has not confirmed, synchronously. Then the worker stops:
// a write it posted earlier but that is delivered now would overwrite what we just stored
// (its state marked closed, for the next page). Back from the cache, resume() starts another.
function leave() {
var i, k, q = sent.splice(0)
if (preview) {
for (i = 0; i < preview.bodies.length; i++) navigator.sendBeacon(P.report_url, preview.bodies[i])
for (k in preview.writes) store(k, preview.writes[k])
}
if (q.length) {
store("usage_reporter.q." + Date.now() + "." + seq, JSON.stringify([preview && preview.app ? ["setAppId", [preview.app]] : first].concat(q.map(function (item) { return item.c }))))
}
preview = null
worker && worker.terminate()
worker = null
}
// Back from the back/forward cache: a new worker starts from what localStorage holds now.
function resume(e) {
if (!e.persisted) return
worker && worker.terminate()
start()
}
function mutated() {
var ids = scan()
if (ids.join("\n") != views.join("\n")) call(["views", [views = ids]])
}
function navigated() {
setTimeout(guard(function () { call(["navigate", [bodyApp(), location.pathname]]) }))  // after the router renders
}
function wrap(name) {
var original = history[name]
history[name] = function () {
var result = original.apply(this, arguments)
guard(navigated)()
return result
}
}
if (!u || !u.q) return console.error("usage: window.usage is missing: load /usage/usage.js, not this file")
if (u.h || u.m) return  // u.m: boot-brython.js runs the reporter on the page's own Brython
if (!C.runtime && attr("data-python") == "page") {
// Library mode: the page's own Pyodide runs usage_reporter.browser.boot(), which takes
// usage.js's queue over; it only needs this server's settings. No worker.
P.report_url = url(P.report_url)
u.config = P
return
}
if (C.error) return log(C.error)
if (typeof Worker != "function") return log("usage: this browser has no Web Workers; use data-runtime=\"brython\"")
P.report_url = url(P.report_url)
C.workerUrl = url(C.workerUrl)
if (C.runtime) {
C.runtime = url(C.runtime)
C.bundle = url(C.bundle)
} else {
C.indexURL = url(C.indexURL)
C.wheelURL = url(C.wheelURL)
}
app = attr("data-app-id")
first = app ? ["setAppId", [app]] : ["navigate", [bodyApp(), location.pathname]]
d.addEventListener("visibilitychange", guard(function () { call(["visibility", [d.visibilityState == "hidden"]]) }))
w.addEventListener("pagehide", guard(leave))
w.addEventListener("pageshow", guard(resume))
w.addEventListener("popstate", guard(navigated))
w.addEventListener("storage", guard(function (e) {
if (worker && (e.key == null || ours(e.key))) worker.postMessage({t: "storage", k: e.key, v: e.newValue})
}))
wrap("pushState")
wrap("replaceState")
new MutationObserver(guard(mutated)).observe(d.documentElement, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-usage-view"]})
start()
})(__USAGE_PYODIDE_CONFIG__, document, window)
