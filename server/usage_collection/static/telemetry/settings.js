/* The settings page: the telemetry opt-in switch (POST /api/telemetry/v2/optIn). */
(function () {
  "use strict";
  var toggle = document.getElementById("telemetry-opt-in");
  var status = document.getElementById("telemetry-status");
  var error = document.getElementById("telemetry-error");
  var last = document.getElementById("telemetry-last-reported");

  if (last && last.dataset.ms) {
    last.textContent = new Date(Number(last.dataset.ms)).toLocaleString();
  }
  if (!toggle) {
    return;
  }

  function showStatus(enabled) {
    status.textContent = enabled ? "On" : "Off";
    status.className = "status-pill " + (enabled ? "on" : "off");
  }

  toggle.addEventListener("change", function () {
    var enabled = toggle.checked;
    toggle.disabled = true;
    error.hidden = true;
    window.usageAdmin.api("POST", "/api/telemetry/v2/optIn", {enabled: enabled}).then(function () {
      showStatus(enabled);
      window.usageAdmin.hideNotice();  // the admin has chosen
      window.dispatchEvent(new CustomEvent("usage-telemetry-changed", {detail: {optIn: enabled}}));
    }).catch(function (failure) {
      toggle.checked = !enabled;
      error.textContent = "An error occurred while trying to set the usage statistics preference: " + failure.message;
      error.hidden = false;
    }).then(function () {
      toggle.disabled = false;
    });
  });
})();
