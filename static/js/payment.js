// Card payment for /bookings/<reference>/: works with real Stripe.js and the local fake.
// 1. the server creates a SetupIntent; 2. Stripe.js confirms the card (3-D Secure if asked);
// 3. the server charges it; 4. if the bank asks, Stripe.js runs 3-D Secure for the payment;
// 5. the page polls (HTMX) until the webhook confirms the booking.
(function () {
  "use strict";

  function formatSeconds(total) {
    const minutes = Math.floor(total / 60);
    const seconds = total % 60;
    return minutes + ":" + String(seconds).padStart(2, "0");
  }

  function startCountdown(root) {
    const clock = root.querySelector("[data-countdown]");
    if (!clock || clock.dataset.started) return;
    clock.dataset.started = "1";
    let left = parseInt(clock.dataset.countdown, 10) || 0;
    clock.textContent = formatSeconds(left);
    const timer = setInterval(function () {
      left -= 1;
      if (!document.body.contains(clock)) { clearInterval(timer); return; }
      if (left <= 0) { clearInterval(timer); window.location.reload(); return; }
      clock.textContent = formatSeconds(left);
    }, 1000);
  }

  function initPaymentForm(root) {
    const form = root.querySelector("#payment-form");
    if (!form || form.dataset.ready || typeof Stripe === "undefined") return;
    form.dataset.ready = "1";
    const stripe = Stripe(form.dataset.publishableKey);
    const card = stripe.elements().create("card");
    card.mount("#card-element");
    const button = form.querySelector("#pay-button");
    const buttonLabel = button.textContent;
    const message = form.querySelector("#payment-message");
    const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

    async function post(url, data) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
        body: new URLSearchParams(data || {}),
        credentials: "same-origin",
      });
      let body = {};
      try { body = await response.json(); } catch (ignored) { /* not JSON */ }
      if (!response.ok) {
        throw new Error((body.error && body.error.message) || "Something went wrong. Please try again.");
      }
      return body;
    }

    function showError(text) {
      message.textContent = text;
      message.hidden = false;
      button.disabled = false;
      button.textContent = buttonLabel;
      message.focus && message.focus();
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      button.disabled = true;
      button.textContent = "Processing…";
      message.hidden = true;
      try {
        const setup = await post(form.dataset.setupUrl);
        const confirmed = await stripe.confirmCardSetup(setup.client_secret, { payment_method: { card: card } });
        if (confirmed.error) {
          showError((confirmed.error.message || "Your card was declined.") + " No money was taken.");
          return;
        }
        const method = confirmed.setupIntent.payment_method;
        const pay = await post(form.dataset.payUrl, { payment_method: typeof method === "string" ? method : method.id });
        if (pay.status === "failed") { showError(pay.message); return; }
        if (pay.status === "requires_action") {
          const authenticated = await stripe.confirmCardPayment(pay.client_secret);
          if (authenticated.error) {
            // Stripe's own wording ("unable to authenticate your payment method") is jargon.
            showError(form.dataset.authenticationFailed);
            return;
          }
        }
        window.location.reload();
      } catch (error) {
        showError(error.message);
      }
    });
  }

  function init(root) {
    startCountdown(root);
    initPaymentForm(root);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.detail.target.parentNode || document); });
})();
