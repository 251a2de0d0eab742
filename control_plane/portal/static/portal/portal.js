/* wagate portal: live updates over the websocket, and the copy button.
 *
 * The websocket only signals. Elements that show live state carry
 * data-live-on="<event> ..." (and data-live-session="<id>"); on a matching
 * event they get an htmx "live" trigger and fetch their fresh HTML from the
 * server, so rendering stays in the templates. The one exception is the QR
 * image: a session.qr event points it at the new code directly (a new URL per
 * code), which is faster than re-rendering the panel every 20 seconds.
 */
(function () {
  "use strict";

  function matches(el, sessionId, event) {
    var only = el.getAttribute("data-live-session");
    if (only && sessionId && only !== sessionId) return false;
    return el.getAttribute("data-live-on").split(/\s+/).some(function (kind) {
      if (kind.slice(-1) === "*") return event.indexOf(kind.slice(0, -1)) === 0;
      return kind === event;
    });
  }

  function refresh(sessionId, event) {
    document.querySelectorAll("[data-live-on]").forEach(function (el) {
      if (event === "*" || matches(el, sessionId, event)) window.htmx.trigger(el, "live");
    });
  }

  function showQr(sessionId, data) {
    var img = null;
    document.querySelectorAll("img[data-qr-session]").forEach(function (candidate) {
      if (candidate.getAttribute("data-qr-session") === sessionId) img = candidate;
    });
    if (!img) {
      refresh(sessionId, "session.status"); // no QR on screen yet: the panel brings it
      return;
    }
    img.src = img.getAttribute("data-src") + "?v=" + encodeURIComponent(data.attempt) + "-" + Date.now();
    img.setAttribute("data-qr", data.qr);
    img.setAttribute("data-attempt", String(data.attempt));
    document.querySelectorAll("[data-qr-attempt]").forEach(function (el) {
      el.textContent = String(data.attempt);
    });
  }

  function setState(state, text) {
    var el = document.getElementById("live-state");
    if (!el) return;
    el.setAttribute("data-state", state);
    el.textContent = text;
  }

  function socketUrl(configured) {
    if (configured.charAt(0) !== "/") return configured;
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + configured;
  }

  function startLive() {
    var configured = document.body.getAttribute("data-ws-url");
    if (!configured || !window.WebSocket) return;
    var delay = 1000;
    var everOpen = false;

    function connect() {
      var socket = new WebSocket(socketUrl(configured));
      socket.onopen = function () {
        setState("live", "Live updates: on");
        // Events sent while we were away are lost: catch up once.
        if (everOpen) refresh(null, "*");
        everOpen = true;
        delay = 1000;
      };
      socket.onmessage = function (message) {
        var payload;
        try {
          payload = JSON.parse(message.data);
        } catch (err) {
          return;
        }
        if (!payload || !payload.event || !payload.session) return;
        if (payload.event === "session.qr") showQr(payload.session, payload.data || {});
        else refresh(payload.session, payload.event);
      };
      socket.onclose = function (closed) {
        if (closed.code === 4401 || closed.code === 4404) {
          setState("off", "Live updates: off (log in again)");
          return;
        }
        setState("retrying", "Live updates: reconnecting…");
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }

  function copy(button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () { source.select(); });
    } else {
      source.select(); // plain http on another host: no clipboard API, the key is selected for Ctrl+C
      try {
        if (document.execCommand("copy")) done();
      } catch (err) {
        /* selected is the best we can do */
      }
    }
  }

  // Good news fades after a while; errors and warnings stay until dismissed.
  function fadeGoodNews() {
    document.querySelectorAll(".flash-success:not([data-fading]), .flash-info:not([data-fading])").forEach(
      function (item) {
        item.setAttribute("data-fading", "");
        window.setTimeout(function () { item.remove(); }, 10000);
      }
    );
  }

  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    var button = event.target.closest("[data-copy]");
    if (button) copy(button);
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) dismiss.parentElement.remove();
  });
  document.addEventListener("htmx:afterSettle", fadeGoodNews);
  document.addEventListener("htmx:oobAfterSwap", fadeGoodNews);

  function start() {
    fadeGoodNews();
    startLive();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
