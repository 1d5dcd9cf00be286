// Payment for /bookings/<reference>/, on Stripe's "Finalize payments on the server" flow
// (docs.stripe.com/payments/finalize-payments-on-the-server, with ConfirmationTokens):
// 1. the Payment Element collects the payment details (cards; wallets and Link where the
//    Stripe account enables them); 2. elements.submit() validates them and
//    stripe.createConfirmationToken() sends them to Stripe; 3. the server creates and
//    confirms the PaymentIntent with that token; 4. if the bank asks, stripe.handleNextAction
//    shows 3-D Secure, once; 5. the page polls (HTMX) until the webhook confirms the booking.
// The same code runs against real Stripe.js and the local fake's double of it.
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
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    if (typeof Stripe === "undefined") {
      // Stripe.js did not load (an ad blocker, a corporate proxy, no network): say so and
      // keep the form from submitting anywhere.
      const unavailable = form.querySelector("#payment-message");
      unavailable.textContent = "The secure card form could not be loaded: something in your " +
        "browser or network is blocking js.stripe.com (often an ad or tracker blocker). " +
        "Allow it for this site or try another browser or network, then reload this page. " +
        "No money has been taken and your seats stay held until the time shown.";
      unavailable.hidden = false;
      form.querySelector("#pay-button").disabled = true;
      form.addEventListener("submit", function (event) { event.preventDefault(); });
      return;
    }
    const stripe = Stripe(form.dataset.publishableKey);
    const elements = stripe.elements({
      mode: "payment",
      amount: parseInt(form.dataset.amount, 10),
      currency: form.dataset.currency,
    });
    elements.create("payment").mount("#payment-element");
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
        const submitted = await elements.submit();
        if (submitted.error) { showError(submitted.error.message); return; }
        const created = await stripe.createConfirmationToken({
          elements: elements,
          params: { return_url: form.dataset.returnUrl },
        });
        if (created.error) {
          showError((created.error.message || "Your card details were not accepted.") + " No money was taken.");
          return;
        }
        const pay = await post(form.dataset.payUrl, { confirmation_token: created.confirmationToken.id });
        if (pay.status === "failed") {
          showError(pay.message);
          if (pay.released) { button.disabled = true; }  // the booking must start again
          return;
        }
        if (pay.status === "requires_action") {
          const authenticated = await stripe.handleNextAction({ clientSecret: pay.client_secret });
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
