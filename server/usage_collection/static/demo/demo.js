/* The demo's own JavaScript: a tiny router (pushState) and the live-counts panel.
 * It knows nothing about usage collection except two facade calls: usage.reportUiCounter
 * for the CSV export and usage.optOut/optIn. Everything else comes from data attributes.
 */
(function () {
  "use strict";
  var views = ["dashboards", "discover", "settings"];

  function viewFromPath(path) {
    var match = /^\/app\/([a-z]+)/.exec(path);
    return match && views.indexOf(match[1]) >= 0 ? match[1] : "dashboards";
  }

  // The app id follows navigation: usage_reporter reads <body data-usage-app> after each
  // pushState/popstate, so the router only has to keep that attribute right.
  function render(view) {
    document.body.setAttribute("data-usage-app", view);
    views.forEach(function (name) {
      document.getElementById(name).hidden = name !== view;
    });
    document.querySelectorAll("nav a").forEach(function (link) {
      link.classList.toggle("active", link.getAttribute("data-view") === view);
    });
  }

  document.querySelector("nav").addEventListener("click", function (event) {
    var link = event.target.closest("a[data-view]");
    if (!link) return;
    event.preventDefault();
    history.pushState({}, "", link.getAttribute("href"));
    render(link.getAttribute("data-view"));
  });
  window.addEventListener("popstate", function () { render(viewFromPath(location.pathname)); });

  document.querySelector(".docs").addEventListener("click", function (event) {
    if (!event.target.classList.contains("open")) return;
    var old = document.querySelector(".flyout");
    if (old) old.remove();
    var flyout = document.getElementById("flyout").content.firstElementChild.cloneNode(true);
    flyout.querySelector(".close").addEventListener("click", function () { flyout.remove(); });
    document.getElementById("discover").appendChild(flyout);
  });

  document.getElementById("export").addEventListener("click", function () {
    usage.reportUiCounter("discover", "count", "rows_exported", 25);
  });
  document.getElementById("opt-out").addEventListener("click", function () {
    usage.optOut();
    document.getElementById("consent").textContent = "Not recorded from now on (all tabs).";
  });
  document.getElementById("opt-in").addEventListener("click", function () {
    usage.optIn();
    document.getElementById("consent").textContent = "Recorded again.";
  });

  // Live counts: what the server stored (loopback may read /api/stats without a token).
  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function fill(id, rows) {
    var body = document.querySelector("#" + id + " tbody");
    body.textContent = "";
    rows.forEach(function (values) {
      var row = document.createElement("tr");
      values.forEach(function (value) { cell(row, value); });
      body.appendChild(row);
    });
  }

  function refresh() {
    fetch("/api/stats?extended=true").then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (stats) {
      var usage = stats.usage || {}, totals = {}, rows = [], appRows = [];
      ((usage.ui_counters || {}).daily_events || []).forEach(function (event) {
        var key = [event.app_name, event.event_name, event.counter_type].join("\u0000");
        totals[key] = (totals[key] || 0) + event.total;
      });
      Object.keys(totals).sort().forEach(function (key) {
        rows.push(key.split("\u0000").concat([totals[key]]));
      });
      Object.keys(usage.application_usage || {}).sort().forEach(function (app) {
        var entry = usage.application_usage[app];
        [entry].concat(entry.views || []).forEach(function (view) {
          appRows.push([app, view.view_id, view.clicks_total, view.minutes_on_screen_total.toFixed(2)]);
        });
      });
      fill("counters", rows);
      fill("usage", appRows);
      document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    }).catch(function (error) {
      document.getElementById("updated").textContent = "stats unavailable (" + error.message + ")";
    });
  }

  render(viewFromPath(location.pathname));
  refresh();
  setInterval(refresh, 2000);
})();
