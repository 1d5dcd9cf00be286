// Test double of Stripe.js v3 for the local fake Stripe (demo and tests only; production
// loads https://js.stripe.com/v3/). It implements exactly the documented subset the portal's
// payment page uses, with Stripe's names, arguments and result shapes:
//   Stripe(publishableKey)
//   stripe.elements({mode: "payment", amount, currency})      → elements
//   elements.create("payment", options)                       → the Payment Element
//   paymentElement.mount(selectorOrNode), .on("change" | "ready", handler)
//   elements.submit()                     → {} or {error: {type: "validation_error", …}}
//   stripe.createConfirmationToken({elements, params: {return_url}})
//                                          → {confirmationToken} or {error}
//   stripe.handleNextAction({clientSecret}) → {paymentIntent} or {error}
// The "Payment Element" is plain labelled inputs for a card (Stripe's real one is an iframe
// with cards, wallets and Link); 3-D Secure is one dialog with "Complete authentication" and
// "Fail authentication". It defines one global, window.Stripe, and nothing else.
(function () {
  "use strict";

  const API = new URL(document.currentScript.src).origin;

  function encode(data, prefix, pairs) {
    pairs = pairs || [];
    Object.keys(data).forEach(function (key) {
      const value = data[key];
      const name = prefix ? prefix + "[" + key + "]" : key;
      if (value === undefined || value === null) return;
      if (typeof value === "object") encode(value, name, pairs);
      else pairs.push([name, String(value)]);
    });
    return pairs;
  }

  async function post(path, data, asJson) {
    const response = await fetch(API + path, {
      method: "POST",
      body: asJson ? JSON.stringify(data) : new URLSearchParams(encode(data)),
    });
    let body = {};
    try { body = await response.json(); } catch (ignored) { /* not JSON */ }
    return { ok: response.ok && !body.error, body: body };
  }

  const FIELDS = [
    { name: "number", label: "Card number", autocomplete: "cc-number", inputmode: "numeric",
      placeholder: "1234 1234 1234 1234" },
    { name: "expiry", label: "Expiry date (MM / YY)", autocomplete: "cc-exp", inputmode: "numeric",
      placeholder: "MM / YY" },
    { name: "cvc", label: "Security code", autocomplete: "cc-csc", inputmode: "numeric",
      placeholder: "CVC" },
    { name: "postal_code", label: "Postcode", autocomplete: "postal-code", inputmode: "text",
      placeholder: "" },
  ];

  function PaymentElement() {
    this._inputs = {};
    this._handlers = {};
    this._node = null;
  }
  PaymentElement.prototype.mount = function (target) {
    const node = typeof target === "string" ? document.querySelector(target) : target;
    const self = this;
    const group = document.createElement("div");
    group.className = "stripe-double-payment-element";
    group.setAttribute("data-stripe-double", "payment");
    FIELDS.forEach(function (field) {
      const wrapper = document.createElement("div");
      wrapper.className = "field";
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.id = "stripe-double-" + field.name;
      input.name = "stripe-double-" + field.name;
      input.type = "text";
      input.autocomplete = field.autocomplete;
      input.inputMode = field.inputmode;
      input.placeholder = field.placeholder;
      input.addEventListener("input", function () { self._emit("change", self._state()); });
      label.htmlFor = input.id;
      label.textContent = field.label;
      wrapper.appendChild(label);
      wrapper.appendChild(input);
      group.appendChild(wrapper);
      self._inputs[field.name] = input;
    });
    node.appendChild(group);
    this._node = group;
    setTimeout(function () { self._emit("ready", { elementType: "payment" }); }, 0);
    return this;
  };
  PaymentElement.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };
  PaymentElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).forEach(function (handler) { handler(payload); });
  };
  PaymentElement.prototype._values = function () {
    const values = {};
    Object.keys(this._inputs).forEach((name) => { values[name] = this._inputs[name].value.trim(); });
    return values;
  };
  PaymentElement.prototype._state = function () {
    const values = this._values();
    return { elementType: "payment", empty: !values.number, complete: !this._problem(values),
             value: { type: "card" } };
  };
  PaymentElement.prototype._problem = function (values) {
    const digits = values.number.replace(/\s+/g, "");
    if (!/^\d{16}$/.test(digits)) return ["incomplete_number", "Your card number is incomplete."];
    if (!/^\d{1,2}\s*\/\s*\d{2,4}$/.test(values.expiry)) {
      return ["incomplete_expiry", "Your card's expiration date is incomplete."];
    }
    if (!/^\d{3,4}$/.test(values.cvc)) return ["incomplete_cvc", "Your card's security code is incomplete."];
    if (!values.postal_code) return ["incomplete_zip", "Your postal code is incomplete."];
    return null;
  };

  function Elements(options) {
    this.options = options || {};
    this._payment = null;
  }
  Elements.prototype.create = function (type) {
    if (type !== "payment") throw new Error("This Stripe.js double only has the Payment Element.");
    this._payment = new PaymentElement();
    return this._payment;
  };
  Elements.prototype.getElement = function (type) { return type === "payment" ? this._payment : null; };
  Elements.prototype.submit = async function () {
    const problem = this._payment && this._payment._problem(this._payment._values());
    if (problem) return { error: { type: "validation_error", code: problem[0], message: problem[1] } };
    return {};
  };

  function authenticationDialog() {
    // One 3-D Secure challenge, like the bank's frame Stripe.js shows over the page.
    return new Promise(function (resolve) {
      const dialog = document.createElement("dialog");
      dialog.className = "stripe-double-3ds";
      dialog.setAttribute("aria-label", "3-D Secure test authentication");
      const text = document.createElement("p");
      text.textContent = "3D Secure test: confirm or fail the authentication.";
      dialog.appendChild(text);
      [["Complete authentication", true], ["Fail authentication", false]].forEach(function (choice) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button";
        button.textContent = choice[0];
        button.addEventListener("click", function () { dialog.close(); dialog.remove(); resolve(choice[1]); });
        dialog.appendChild(button);
      });
      document.body.appendChild(dialog);
      dialog.showModal();
    });
  }

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey);
    this._key = publishableKey;
  }
  Stripe.prototype.elements = function (options) { return new Elements(options); };
  Stripe.prototype.createConfirmationToken = async function (options) {
    const element = options.elements.getElement("payment");
    const values = element._values();
    const expiry = values.expiry.split("/").map(function (part) { return part.trim(); });
    const result = await post("/v1/confirmation_tokens", {
      key: this._key,
      return_url: (options.params || {}).return_url,
      payment_method_data: {
        type: "card",
        card: { number: values.number.replace(/\s+/g, ""), exp_month: expiry[0],
                exp_year: expiry[1], cvc: values.cvc },
        billing_details: { address: { postal_code: values.postal_code } },
      },
    });
    if (!result.ok) {
      const error = result.body.error || {};
      return { error: { type: error.type || "card_error", code: error.code,
                        message: error.message || "Your card details are not valid." } };
    }
    return { confirmationToken: result.body };
  };
  Stripe.prototype.handleNextAction = async function (options) {
    const clientSecret = options.clientSecret;
    const intent = clientSecret.match(/^(pi_\w+)_secret_/)[1];
    const success = await authenticationDialog();
    const result = await post("/v1/payment_intents/" + intent + "/_authenticate?success=" + success,
                              { key: this._key, client_secret: clientSecret }, true);
    const body = result.body;
    if (!result.ok) return { error: body.error || { type: "api_error", message: "Something went wrong." } };
    if (body.status === "succeeded" || body.status === "processing") return { paymentIntent: body };
    return { error: { type: "card_error", code: "payment_intent_authentication_failure",
                      message: "We are unable to authenticate your payment method. Please choose a " +
                               "different payment method and try again.",
                      payment_intent: body } };
  };

  window.Stripe = Stripe;
})();
