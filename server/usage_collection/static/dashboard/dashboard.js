/* The usage dashboard: fetches /usage/dashboard/data and draws it with Chart.js.
   Every card shows "No data yet" instead of an empty chart, and a missing Chart.js or a
   failed fetch is reported on the page, never thrown. */
(function () {
  "use strict";
  var script = document.currentScript;
  var dataUrl = script.dataset.url;
  var PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899",
                 "#84cc16", "#f97316", "#64748b"];
  var MAX_SERIES = 8;
  var charts = {};
  var numberFormat = new Intl.NumberFormat();

  function color(index) {
    return PALETTE[index % PALETTE.length];
  }

  function shortDay(day) {
    var parts = day.split("-");
    var date = new Date(Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2])));
    return date.toLocaleDateString(undefined, {month: "short", day: "numeric", timeZone: "UTC"});
  }

  /* At most MAX_SERIES series; the rest summed into "other" so the legend stays readable
     (the server already caps its per-day series to the same MAX_SERIES). */
  function capSeries(series) {
    if (series.length <= MAX_SERIES) {
      return series;
    }
    var kept = series.slice(0, MAX_SERIES - 1);
    var other = series.slice(MAX_SERIES - 1).reduce(function (sum, item) {
      return sum.map(function (value, i) { return value + item.data[i]; });
    }, series[0].data.map(function () { return 0; }));
    return kept.concat([{name: "other", data: other}]);
  }

  function hasData(series) {
    return series.some(function (item) {
      return item.data.some(function (value) { return value > 0; });
    });
  }

  function card(name) {
    return document.querySelector('[data-chart="' + name + '"]');
  }

  function setEmpty(name, empty) {
    var element = card(name);
    if (!element) {
      return false;
    }
    element.classList.toggle("is-empty", empty);
    element.querySelector(".empty").hidden = !empty;
    return !empty;
  }

  function draw(name, config) {
    if (charts[name]) {
      charts[name].destroy();
    }
    var canvas = document.getElementById("chart-" + name);
    config.options = Object.assign({
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: {mode: "nearest", axis: "x", intersect: false},
      plugins: {legend: {position: "bottom", labels: {boxWidth: 12, boxHeight: 12}}}
    }, config.options || {});
    charts[name] = new window.Chart(canvas, config);
  }

  function perDay(name, days, series, kind) {
    if (!setEmpty(name, !hasData(series))) {
      return;
    }
    var capped = capSeries(series);
    draw(name, {
      type: kind,
      data: {
        labels: days.map(shortDay),
        datasets: capped.map(function (item, i) {
          return {label: item.name, data: item.data, backgroundColor: color(i), borderColor: color(i),
                  borderWidth: kind === "line" ? 2 : 0, pointRadius: kind === "line" ? 2 : 0, tension: 0.25,
                  borderRadius: kind === "bar" ? 3 : 0};
        })
      },
      options: {
        scales: {
          x: {stacked: kind === "bar", grid: {display: false}, ticks: {maxRotation: 0, autoSkipPadding: 12}},
          y: {stacked: kind === "bar", beginAtZero: true, ticks: {precision: 0}}
        }
      }
    });
  }

  function horizontal(name, labels, datasets) {
    if (!setEmpty(name, labels.length === 0)) {
      return;
    }
    draw(name, {
      type: "bar",
      data: {labels: labels, datasets: datasets},
      options: {
        indexAxis: "y",
        interaction: {mode: "nearest", axis: "y", intersect: false},
        plugins: {legend: {display: datasets.length > 1, position: "bottom", labels: {boxWidth: 12, boxHeight: 12}}},
        scales: {
          x: {beginAtZero: true, ticks: {precision: 0}, position: "bottom",
              title: {display: datasets.length > 1, text: datasets[0].label}},
          x2: {beginAtZero: true, ticks: {precision: 0}, position: "top", display: datasets.length > 1,
               grid: {drawOnChartArea: false}, title: {display: datasets.length > 1,
               text: datasets.length > 1 ? datasets[1].label : ""}},
          y: {grid: {display: false}, ticks: {autoSkip: false}}
        }
      }
    });
  }

  /* Stacked bars per day by event, for the app chosen in the card's own select (the server
     breaks events down for its busiest apps only: those are the choices). */
  function eventsOfApp(data) {
    var select = document.getElementById("event-app");
    var perEvent = data.ui_counters.per_event;
    var apps = data.ui_counters.apps.filter(function (app) {
      return Object.prototype.hasOwnProperty.call(perEvent, app);
    });
    var chosen = apps.indexOf(select.value) >= 0 ? select.value : apps[0];
    select.replaceChildren.apply(select, apps.map(function (app) {
      var option = document.createElement("option");
      option.value = app;
      option.textContent = app;
      return option;
    }));
    select.hidden = apps.length === 0;
    if (chosen !== undefined) {
      select.value = chosen;
    }
    select.onchange = function () { eventsOfApp(data); };
    perDay("events-by-name", data.days, perEvent[chosen] || [], "bar");
  }

  function setTile(id, value) {
    var element = document.getElementById(id);
    if (element) {
      element.textContent = numberFormat.format(value);
    }
  }

  function render(data) {
    var ui = data.ui_counters;
    var usage = data.application_usage;
    var apps = {};  /* every app, not only the ones with their own series */
    ui.apps.concat(usage.apps).forEach(function (name) { apps[name] = true; });
    setTile("tile-events", ui.total);
    setTile("tile-minutes", Math.round(usage.minutes_total));
    setTile("tile-clicks", usage.clicks_total);
    setTile("tile-apps", Object.keys(apps).length);

    perDay("events-per-day", data.days, ui.per_app, "bar");
    eventsOfApp(data);
    horizontal("top-events", ui.top_events.map(function (e) { return e.app + " · " + e.event; }),
               [{label: "events", data: ui.top_events.map(function (e) { return e.total; }),
                 backgroundColor: color(0), borderRadius: 3}]);
    perDay("minutes-per-day", data.days, usage.minutes_per_day, "bar");
    horizontal("views", usage.views.map(function (v) { return v.app + " · " + v.view; }), [
      {label: "minutes on screen", data: usage.views.map(function (v) { return v.minutes; }),
       backgroundColor: color(0), xAxisID: "x", borderRadius: 3},
      {label: "clicks", data: usage.views.map(function (v) { return v.clicks; }),
       backgroundColor: color(1), xAxisID: "x2", borderRadius: 3}
    ]);
    if (data.intake) {
      setTile("tile-snapshots", data.intake.total);
      var shortened = data.intake.per_instance.map(function (item) {
        return {name: item.name.slice(0, 8), data: item.data};
      });
      perDay("snapshots", data.days, shortened, "bar");
    }
  }

  function showError(message) {
    var element = document.getElementById("dashboard-error");
    element.textContent = message;
    element.hidden = false;
  }

  function load() {
    var days = document.getElementById("range").value;
    return fetch(dataUrl + "?days=" + encodeURIComponent(days), {credentials: "same-origin"})
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            throw new Error(body.message || "HTTP " + response.status);
          }
          return body;
        });
      })
      .then(function (data) {
        document.getElementById("dashboard-error").hidden = true;
        if (!window.Chart) {
          document.querySelectorAll("[data-chart]").forEach(function (element) {
            element.querySelector(".empty").hidden = false;
            element.classList.add("is-empty");
          });
          return;
        }
        render(data);
        document.body.dataset.rendered = data.generated_at;
      })
      .catch(function (error) {
        showError("Could not load the dashboard data: " + error.message);
      });
  }

  document.getElementById("range").addEventListener("change", load);
  window.usageDashboard = {load: load, charts: charts};
  load();
})();
