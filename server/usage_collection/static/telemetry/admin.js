/* Shared by the admin pages: a small API helper and the telemetry notice's Dismiss button. */
(function () {
  "use strict";
  var element = document.getElementById("usage-admin-config");
  var config = element ? JSON.parse(element.textContent) : {};
  var root = config.root || "";

  /* Same-origin JSON call with the kbn-xsrf header every admin write needs; rejects with the
     server's {"message"} so pages can show it. */
  function api(method, path, body) {
    var options = {method: method, headers: {"kbn-xsrf": config.xsrf || "usage-admin"}, credentials: "same-origin"};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(root + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.message || "HTTP " + response.status);
        }
        return data;
      });
    });
  }

  function hideNotice() {
    var notice = document.getElementById("telemetry-notice");
    if (notice) {
      notice.remove();
    }
  }

  var dismiss = document.getElementById("telemetry-notice-dismiss");
  if (dismiss) {
    dismiss.addEventListener("click", function () {
      hideNotice();
      api("PUT", "/api/telemetry/v2/userHasSeenNotice").catch(function (error) {
        console.warn("usage-collection: could not save that the notice was dismissed: " + error.message);
      });
    });
  }

  window.usageAdmin = {api: api, config: config, hideNotice: hideNotice};
})();
