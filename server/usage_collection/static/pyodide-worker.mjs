/* pyodide-worker.mjs: runs usage_reporter under Pyodide in a module Web Worker, served at
 * /usage/pyodide-worker.mjs and started by /usage/boot-pyodide.js.
 *
 * Pyodide's boot is one ~2 s task: here it blocks nothing the user sees. The worker has no
 * DOM, localStorage or sendBeacon; the main thread keeps those and talks to the Python
 * adapter (usage_reporter._pyodide_worker.start_worker, usage_reporter.page_events) in messages:
 *   main -> worker  {t: "start", urls, config, storage}  first, exactly once
 *                   anything else: handed to the adapter in order once Python runs
 *   worker -> main  whatever the adapter posts ({t: "set"|"preview"|"beacon"|"log"|"ready"}),
 *                   and {t: "error", message} if the boot fails.
 * Messages that arrive while Pyodide boots are kept here, in order.
 *
 * With urls.snapshotURL (the server's memory snapshot of Pyodide with usage_reporter
 * imported, see pyodide_snapshot.py) Pyodide restores a started interpreter instead of
 * starting one: ~1 s instead of ~3 s. If the snapshot cannot be fetched or restored, it
 * starts the normal way with our wheel, and says so on the console.
 */
const inbox = [];
const timing = { worker: now() };
let deliver = null;

function now() {
  return performance.timeOrigin + performance.now();
}

function post(message) {
  self.postMessage(message);
}

async function fetchSnapshot(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error("HTTP " + response.status);
  const bytes = await response.arrayBuffer();
  timing.snapshot = now();
  return bytes;
}

// The snapshot's interpreter, or null (then the console says why).
// loadPyodide's options. With the server's lockInfo, a lock file listing no packages: we
// load only our wheel, by URL, so Pyodide's package index (27 KB gzipped) is not fetched.
function options(urls, more) {
  const lock = urls.lockInfo ? { lockFileContents: { info: urls.lockInfo, packages: {} } } : {};
  return Object.assign({ indexURL: urls.indexURL }, lock, more);
}

async function restore(loadPyodide, urls, snapshot) {
  try {
    return await loadPyodide(options(urls, { _loadSnapshot: snapshot }));
  } catch (error) {
    delete timing.snapshot;
    post({ t: "log", message: "usage-collection: the Pyodide snapshot did not load (" + (error && error.message || error) +
           "); starting Pyodide without it" });
    return null;
  }
}

async function start(message) {
  const urls = message.urls;
  try {
    timing.start = now();
    const snapshot = urls.snapshotURL ? fetchSnapshot(urls.snapshotURL) : null;
    if (snapshot) snapshot.catch(() => {});  // restore() reports it
    const { loadPyodide } = await import(urls.indexURL + "pyodide.mjs");
    timing.imported = now();
    // `packages` downloads and installs our wheel while Pyodide bootstraps itself.
    const pyodide = (snapshot && await restore(loadPyodide, urls, snapshot)) ||
      await loadPyodide(options(urls, { packages: [urls.wheelURL] }));
    timing.pyodide = now();
    const adapter = pyodide.pyimport("usage_reporter._pyodide_worker");
    message.timing = timing;
    const handle = adapter.start_worker(JSON.stringify(message), (text) => post(JSON.parse(text)));
    if (!handle) return;  // the adapter told the page why
    deliver = (data) => handle(JSON.stringify(data));
    for (const data of inbox.splice(0)) deliver(data);
  } catch (error) {
    post({ t: "error", message: "usage-collection: the Pyodide worker could not start: " + (error && error.message || error) });
  }
}

self.onmessage = (event) => {
  const data = event.data;
  if (data && data.t === "start") start(data);
  else if (deliver) deliver(data);
  else inbox.push(data);
};
