"""The Content Security Policy, built from where the page loads Stripe.js.

Real Stripe (STRIPE_JS_URL on https://js.stripe.com): the origins Stripe's security guide
lists for Stripe.js and Elements (docs.stripe.com/security/guide#content-security-policy):
scripts and frames from js.stripe.com and its subdomains, the 3-D Secure frame from
hooks.stripe.com, and API calls to api.stripe.com. (The guide's maps.googleapis.com entries
serve only the Address Element's autocomplete, which the portal does not use.)
The local fake (make run, tests): its one origin serves Stripe.js, its frames and its API.
"""

from urllib.parse import urlsplit

STRIPE_JS_ORIGINS = ["https://js.stripe.com", "https://*.js.stripe.com"]
REAL_STRIPE = {
    "script-src": STRIPE_JS_ORIGINS,
    "style-src": ["https://js.stripe.com"],
    "frame-src": [*STRIPE_JS_ORIGINS, "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}


def uses_real_stripe_js(stripe_js_url: str) -> bool:
    parts = urlsplit(stripe_js_url)
    return parts.scheme == "https" and parts.hostname == "js.stripe.com"


def build_csp(*, stripe_js_url: str) -> dict[str, list[str]]:
    if uses_real_stripe_js(stripe_js_url):
        stripe = REAL_STRIPE
    else:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(stripe_js_url))
        stripe = {key: [origin] for key in REAL_STRIPE}
    return {
        "default-src": ["'self'"],
        "script-src": ["'self'", *stripe["script-src"]],
        "style-src": ["'self'", *stripe["style-src"]],
        "img-src": ["'self'", "data:"],
        "frame-src": ["'self'", *stripe["frame-src"]],
        "connect-src": ["'self'", *stripe["connect-src"]],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
