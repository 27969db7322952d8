/*
 * Step-up with a passkey: the proof page renders, without any inline script,
 *
 *   <form method="post" data-securebox-passkey data-options="{...}">   (the library's
 *         options for navigator.credentials.get, base64url fields, challenge bound to the
 *         operation's digest)
 *     <input type="hidden" name="ceremony"> <input type="hidden" name="response">
 *     <p data-securebox-status role="status"></p> <p data-securebox-error role="alert" hidden>
 *     <button type="submit">...</button>
 *   </form>
 *
 * On submit it runs the ceremony, writes the credential's JSON into "response" and submits.
 * A failure shows the alert, focused, and enables the button again.
 */
(function () {
  "use strict";

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function requestOptions(options) {
    var pk = options.publicKey || options;
    var out = Object.assign({}, pk, { challenge: fromB64url(pk.challenge) });
    if (pk.allowCredentials) {
      out.allowCredentials = pk.allowCredentials.map(function (c) {
        return Object.assign({}, c, { id: fromB64url(c.id) });
      });
    }
    return { publicKey: out };
  }

  function asJson(credential) {
    if (typeof credential.toJSON === "function") { return credential.toJSON(); }
    var r = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      },
      clientExtensionResults: credential.getClientExtensionResults()
    };
  }

  function setUp(form) {
    var button = form.querySelector("button[type=submit]");
    var error = form.querySelector("[data-securebox-error]");
    var done = false;
    form.addEventListener("submit", function (event) {
      if (done) { return; }
      event.preventDefault();
      if (button) { button.disabled = true; }
      error.hidden = true;
      var options = requestOptions(JSON.parse(form.getAttribute("data-options")));
      navigator.credentials.get(options).then(function (credential) {
        form.querySelector("input[name=response]").value = JSON.stringify(asJson(credential));
        done = true;
        form.submit();
      }).catch(function () {
        error.hidden = false;
        error.setAttribute("tabindex", "-1");
        error.focus();
        if (button) { button.disabled = false; }
      });
    });
  }

  document.querySelectorAll("form[data-securebox-passkey]").forEach(setUp);
})();
