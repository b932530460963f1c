/* usage.js: the only script on a page's critical path. Served minified at /usage/usage.js
 * (comments and indentation stripped by the server; keep the result under 1 KB).
 *
 * <script src="/usage/usage.js" data-app-id="dashboard" data-runtime="brython"></script>
 *
 * It never handles usage itself. It queues, then loads the Python reporter after `load`.
 * The protocol with the Python side (boot-<runtime>.js, usage_reporter.browser):
 *   usage.q  calls made before Python runs, in order: [name, [args]]. name is a facade
 *            method ("reportUiCounter", "reportUiStats", "setAppId", "optOut", "optIn"; args
 *            are JSON data) or "click", whose
 *            args are [data-usage-click of the nearest element having one, or null,
 *            [data-usage-view of every element from the target up]].
 *   usage.h  set by Python when it runs: h([name, [args]]) handles one call. From then
 *            on the facade calls it directly and clicks are left to Python's listener,
 *   usage.k  unless the worker forwarder sets k([name, [args]]): then clicks go there.
 *   usage.r  resolves usage.ready; Python calls it once the reporter runs.
 *   usage.s  this script element: Python reads data-app-id, data-flush-interval... there.
 *   localStorage "usage_reporter.q.<ms>": a queue saved at pagehide before Python ran,
 *            [["setAppId", [data-app-id]], ...calls]. The next page's Python replays it
 *            and removes the key, so a tab closed before boot loses nothing.
 */
(function (w, d, A) {
var u = w.usage, s = d.currentScript, q = []
if (u && u.q) return
u = w.usage = {q: q, s: s}
// A call's arguments are copied as JSON: they can be posted to a worker and saved, and no
// DOM element, Event or object with methods reaches the reporter. optOut and optIn take
// none (they are used as click handlers). A call whose arguments JSON refuses: a warning.
"reportUiCounter reportUiStats setAppId optOut optIn".split(" ").forEach(function (n) {
u[n] = function () {
var c = [n, []]
try {
n[0] == "o" || (c[1] = JSON.parse(JSON.stringify([].slice.call(arguments))))
} catch (e) {
return console.warn("usage." + n + ": " + e)
}
u.h ? u.h(c) : q.push(c)
}
})
u.ready = new Promise(function (r) { u.r = r })
// Clicks: note which data-usage-* elements were hit, nothing more. Queued before Python
// runs; then handed to usage.k if the worker forwarder set it (Python on the page's own
// thread listens itself).
d[A]("click", function (e) {
if (u.h && !u.k) return
for (var t = e.target, c, v = [], a; t && t.dataset; t = t.parentNode) {
c = c || t.dataset.usageClick
if (a = t.dataset.usageView) v.push(a)
}
c = ["click", [c || null, v]]
u.k ? u.k(c) : q.push(c)
}, true)
w[A]("pagehide", function () {
if (!u.h && q.length) try {
localStorage.setItem("usage_reporter.q." + Date.now(), JSON.stringify([["setAppId", [s.dataset.appId]]].concat(q.splice(0))))
} catch (e) {}
})
function l() {
var r = s.dataset.runtime || "brython", b = d.createElement("script")
b.src = s.src.replace(/[^/]*$/, "boot-" + r + ".js")
b.onerror = function () { console.error("usage.js: cannot load runtime " + r) }
d.head.appendChild(b)
}
d.readyState == "complete" ? setTimeout(l) : w[A]("load", function () { setTimeout(l) })
})(window, document, "addEventListener")
