// The home page's "Spend" button calls the JSON API, as a client program would.
// Without JavaScript the same button posts the form to /spend instead.
"use strict";

// Puts a counter ({used, limit} as the API and /ws/credits send it) on the page.
const showUsage = (data) => {
  if (typeof data.used !== "number" || typeof data.limit !== "number") {
    return;
  }
  document.getElementById("used").textContent = String(data.used);
  document.getElementById("limit").textContent = String(data.limit);
  document.getElementById("remaining").textContent = String(
    Math.max(0, data.limit - data.used),
  );
  const meter = document.getElementById("usage-meter");
  if (meter) {
    const text = data.used + " of " + data.limit;
    meter.max = data.limit;
    meter.value = data.used;
    meter.textContent = text;
    meter.setAttribute("aria-valuetext", text + " credits used");
  }
};

// Live credits: the server pushes the counter over a WebSocket whenever it changes
// (a spend from another tab, an API client, another process or instance). The page
// works without it.
const watchCredits = (attempt) => {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws/credits");
  let opened = false;
  socket.addEventListener("open", () => {
    opened = true;
    document.body.dataset.liveCredits = "on";
  });
  socket.addEventListener("message", (event) => {
    try {
      showUsage(JSON.parse(event.data));
    } catch (error) {
      // not a counter: ignored
    }
  });
  socket.addEventListener("close", (event) => {
    document.body.dataset.liveCredits = "off";
    // Reconnect after a drop (a server restart: 1001), a few times, more slowly each
    // time; not after a normal close, nor once the session ended (1008: signed out,
    // expired).
    const next = opened ? 0 : attempt + 1;
    if (event.code !== 1000 && event.code !== 1008 && next < 5) {
      setTimeout(() => watchCredits(next), 1000 * 2 ** next);
    }
  });
};

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("usage-meter")) {
    watchCredits(0);
  }
  const form = document.getElementById("spend-form");
  if (!form) {
    return;
  }
  const result = document.getElementById("spend-result");
  const show = (text, isOk) => {
    result.textContent = text;
    result.classList.toggle("ok", isOk);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      // application/json: the API refuses anything else, which is what keeps other
      // sites from spending credits with a plain cross-site form.
      const response = await fetch("/api/requests", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ cost: 1 }),
        credentials: "same-origin",
      });
      const data = await response.json();
      showUsage(data);
      if (data.ok) {
        show("Spent 1 credit.", true);
      } else if (data.error === "quota_exceeded") {
        show("Quota exceeded: no credits left.", false);
      } else if (data.error === "not_signed_in") {
        show("Your session has ended; please sign in again.", false);
      } else {
        show("The request failed: " + data.error, false);
      }
    } catch (error) {
      show("Network error; please try again.", false);
    } finally {
      button.disabled = false;
    }
  });
});
