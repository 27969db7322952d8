/*
 * Certificate login through the local signing agent (`securebox token agent`).
 *
 * The login page renders, without any inline script:
 *
 *   <form method="post" action="..." data-securebox-certificate
 *         data-challenge="BASE64URL"            (CertChallenge.payload, base64url)
 *         data-agent="http://127.0.0.1:8731"     (optional; this is the default)
 *         data-msg-agent-missing="..."           (optional translated messages, below)>
 *     <input type="hidden" name="signature">
 *     <input type="hidden" name="certificate">
 *     <p data-securebox-status role="status" aria-live="polite"></p>
 *     <p data-securebox-error role="alert" hidden></p>
 *     <button type="submit">Sign with my certificate</button>
 *   </form>
 *   <script src="/static/js/form-status.js" defer></script>
 *   <script src="/static/js/certificate.js" defer></script>
 *
 * On submit it posts {"challenge"} to the agent's /sign, which shows the user this page's
 * origin, asks the token PIN in its own window and signs; the answer's signature and
 * certificate fill the hidden fields and the form is submitted to the portal. Every failure
 * (agent not running, wrong PIN, token missing, refused) is written in the alert element,
 * focused, and the button is enabled again. No PIN ever passes through the page.
 */
(function () {
  "use strict";

  var DEFAULT_AGENT = "http://127.0.0.1:8731";
  var TIMEOUT_MS = 180000; // the user types the PIN in the agent's window

  var MESSAGES = {
    waiting: "Type your PIN in the signing agent's window to sign.",
    "agent-missing":
      "The signing agent does not answer. Start it (securebox token agent) and try again.",
    "token_wrong_pin": "The token refused the PIN. Try again.",
    "token_wrong_pin-final": "The token refused the PIN. One try left before it is blocked.",
    "token_pin_locked": "The token's PIN is blocked. Contact your bank to unblock it.",
    "token_missing": "No token found. Plug in your token or card and try again.",
    "agent_user_declined": "Signature refused.",
    "agent_busy": "The signing agent is already asking a PIN. Finish or cancel it first.",
    other: "The signature failed. Try again or choose another method."
  };

  function message(form, key) {
    var attribute = "data-msg-" + key.replace(/_/g, "-");
    return form.getAttribute(attribute) || MESSAGES[key] || MESSAGES.other;
  }

  function show(form, key, isError) {
    window.SecureboxForm.show(form, message(form, key), isError);
  }

  function problemKey(problem) {
    var code = problem && typeof problem.code === "string" ? problem.code : "other";
    if (code === "token_wrong_pin" && problem.tries_left === 1) {
      return "token_wrong_pin-final";
    }
    return Object.prototype.hasOwnProperty.call(MESSAGES, code) ? code : "other";
  }

  function sign(form, button) {
    var agent = (form.getAttribute("data-agent") || DEFAULT_AGENT).replace(/\/$/, "");
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : 0;
    button.disabled = true;
    show(form, "waiting", false);
    fetch(agent + "/sign", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ challenge: form.getAttribute("data-challenge") || "" }),
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        return response.json().then(
          function (body) { return { ok: response.ok, body: body }; },
          function () { return { ok: false, body: null }; }
        );
      })
      .then(function (answer) {
        if (!answer.ok || !answer.body || typeof answer.body.signature !== "string") {
          throw { problem: answer.body };
        }
        form.elements.signature.value = answer.body.signature;
        form.elements.certificate.value = answer.body.certificate;
        form.submit(); // no submit event: this handler does not run again
      })
      .catch(function (failure) {
        // a network error (agent not running, or it refused this origin) has no problem
        show(form, failure && "problem" in failure ? problemKey(failure.problem) : "agent-missing", true);
        button.disabled = false;
      })
      .then(function () { clearTimeout(timer); });
  }

  window.SecureboxForm.onSubmit("form[data-securebox-certificate]", sign);
})();
