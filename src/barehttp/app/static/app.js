// The home page's "Spend" button calls the JSON API, as a client program would.
// Without JavaScript the same button posts the form to /spend instead.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
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
      if (typeof data.used === "number") {
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
      }
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
