/* boot-brython.js: loaded by usage.js after the page's `load` event; served (minified) at
 * /usage/boot-brython.js with the configuration below filled in from the server settings.
 *
 * Loads the Brython runtime unless the page already runs Brython (library mode), then the
 * usage_reporter bundle unless the page already loaded it, then runs
 * usage_reporter.browser.boot(), which reads window.usage.config and takes over the queue
 * usage.js kept (window.usage.q). Any failure is logged once; nothing is thrown.
 */
(function (C, d, w) {
var me = d.currentScript, u = w.usage
function fail(what) {
console.error("usage: the Python reporter did not start: " + what)
}
function url(path) {
return new URL(path, me.src).href
}
function load(src, next) {
var s = d.createElement("script")
s.src = src
s.onload = next
s.onerror = function () { fail(src + " did not load") }
d.head.appendChild(s)
}
function run() {
try {
w.__BRYTHON__.runPythonSource("import usage_reporter.browser\nusage_reporter.browser.boot()", {id: "usage_reporter_boot"})
} catch (e) {
fail(e)
}
}
function bundle() {
var B = w.__BRYTHON__
B.VFS && B.VFS.usage_reporter ? run() : load(url(C.bundle), run)
}
if (!u) return fail("window.usage is missing: load /usage/usage.js, not this file")
C.reportUrl = url(C.reportUrl)
u.config = C
w.__BRYTHON__ && w.__BRYTHON__.runPythonSource ? bundle() : load(url(C.runtime), bundle)
})(__USAGE_BRYTHON_CONFIG__, document, window)
