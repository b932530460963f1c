/* boot-brython.template.js: loaded by usage.js after the page's `load` event; served (minified) at
 * /usage/boot-brython.js with the configuration below filled in from the server settings,
 * followed by the worker forwarder (boot-pyodide.template.js) set up for Brython.
 *
 * A page without Brython of its own: nothing here; the forwarder runs the reporter in a
 * classic Web Worker (/usage/brython-worker.js). A page that runs Brython itself (library
 * mode): loads the usage_reporter bundle unless the page already loaded it, then runs
 * usage_reporter.browser.boot(), which reads window.usage.config (the server's settings)
 * and the script tag, and takes over the queue
 * usage.js kept (window.usage.q). Any failure is logged once; nothing is thrown.
 *
 * Brython compiles Python to JavaScript in the page: ~0.6 s for our package. A server with
 * Node.js sends the bundle with the modules precompiled (brython_precompile.py); otherwise
 * they are compiled here one per task, so no single long task freezes the page. Either way
 * the compiled modules are kept in IndexedDB (database "usage_reporter", keyed by the
 * bundle's content hash and the Brython build) for later loads.
 */
(function (C, d, w) {
var me = d.currentScript, u = w.usage, DB = "usage_reporter", STORE = "brython"
function fail(what) {
console.error("usage: the Python reporter did not start: " + what)
}
function url(path) {
return new URL(path, me.src).href
}
// Scripts download in parallel and run in order (async = false); next() once all have run.
function load(srcs, next) {
var left = srcs.length
if (!left) return next()
srcs.forEach(function (src) {
var s = d.createElement("script")
s.src = src
s.async = false
s.onload = function () { if (!--left) next() }
s.onerror = function () { fail(src + " did not load") }
d.head.appendChild(s)
})
}
// The compiled-module cache: every step may fail (private mode, no IndexedDB); then we compile.
function cache(write, next) {
var B = w.__BRYTHON__, key = C.bundle + " " + B.timestamp, open
function done(value) {
if (next) next(value)
next = null
}
try {
open = w.indexedDB.open(DB, 1)
open.onupgradeneeded = function () { open.result.createObjectStore(STORE) }
open.onerror = open.onblocked = function () { done() }
open.onsuccess = function () {
var db = open.result, tx = db.transaction(STORE, write ? "readwrite" : "readonly"), store = tx.objectStore(STORE), get
tx.oncomplete = tx.onerror = tx.onabort = function () { db.close() }
if (write) {
store.clear()
store.put(write, key)
return done()
}
get = store.get(key)
get.onsuccess = function () { done(get.result) }
get.onerror = function () { done() }
}
} catch (e) {
done()
}
}
function compiled() {
var B = w.__BRYTHON__, out = {}, k, n = 0
for (k in B.precompiled) if (k == "usage_reporter" || k.indexOf("usage_reporter.") == 0) { out[k] = B.precompiled[k]; n++ }
return n && out
}
// Compile our modules one task each (10-100 ms) rather than all in one long task inside the
// import; Brython's importer takes them from __BRYTHON__.precompiled. On any trouble, stop:
// the import compiles what is left itself (and reports errors the usual way).
function compile(next) {
var B = w.__BRYTHON__, todo = [], seen = {}
function want(name) {
var entry = B.VFS[name]
if (!entry || seen[name]) return
seen[name] = 1
if (name.indexOf(".") > 0) want(name.slice(0, name.lastIndexOf(".")))
entry[2].forEach(want)
if (!(name in B.precompiled) && !(name in B.imported)) todo.push(name)
}
function step() {
var name = todo.shift(), entry = B.VFS[name], root, file
if (!name) return next()
try {
// As Brython's own importer does: the file name it gives the module, mapped to its name.
file = "VFS." + name + (entry[3] ? "/__init__.py" : ".py")
B.url2name[file] = name
root = B.py2js({src: entry[1], filename: file, imported: true}, name, name)
B.precompiled[name] = entry[3] ? [root.to_js()] : root.to_js()
} catch (e) {
todo = []
}
setTimeout(step, 0)
}
try {
want("usage_reporter.browser")
} catch (e) {
todo = []
}
step()
}
function run(modules) {
var B = w.__BRYTHON__, k
for (k in modules || {}) if (!(k in B.precompiled)) B.precompiled[k] = modules[k]
try {
B.runPythonSource("import usage_reporter.browser\nusage_reporter.browser.boot()", {id: "usage_reporter_boot"})
} catch (e) {
return fail(e && e.message || e)
}
if (!modules && compiled()) setTimeout(function () { cache(compiled()) }, 0)
}
function start() {
var B = w.__BRYTHON__, scripts = []
if (!(B && B.runPythonSource)) scripts.push(url(C.runtime))
if (!(B && B.VFS && B.VFS.usage_reporter)) scripts.push(url(C.bundle))
load(scripts, function () {
cache(null, function (modules) {
modules ? run(modules) : compile(function () { run() })
})
})
}
if (!u) return fail("window.usage is missing: load /usage/usage.js, not this file")
if (u.h) return
// A page without Brython of its own: the forwarder that follows in this file starts the
// reporter in a Web Worker (brython.js and our start-up are then no task of the page's).
if (!(w.__BRYTHON__ && w.__BRYTHON__.runPythonSource)) return
u.m = 1
C.settings.report_url = url(C.settings.report_url)
u.config = C.settings
start()
})(__USAGE_BRYTHON_CONFIG__, document, window)
