/*
 * Passkeys (WebAuthn): log in with navigator.credentials.get, or add one with
 * navigator.credentials.create. Served from /static (CSP script-src 'self'), no inline script,
 * after form-status.js (SecureboxForm: the status and alert elements, the submit hook).
 *
 * The page renders:
 *
 *   <form method="post" action="..." data-securebox-passkey          (login: "get", the default)
 *         data-securebox-passkey="create"                              (adding a passkey)
 *         data-options="{...}"       (the server's options JSON, base64url binary fields)
 *         data-msg-unsupported="..." data-msg-cancelled="..." data-msg-waiting="...">
 *     <input type="hidden" name="credential">
 *     <p data-securebox-status role="status" aria-live="polite"></p>
 *     <p data-securebox-error role="alert" hidden></p>
 *     <button type="submit">...</button>
 *   </form>
 *
 * On submit it decodes the options' binary fields (challenge, user.id, credential ids),
 * asks the browser, encodes the answer as credential.toJSON() does (base64url) into the
 * hidden "credential" field and submits the form; the server checks everything.
 */
(function () {
  "use strict";

  var MESSAGES = {
    unsupported: "This browser does not support passkeys. Choose another method.",
    cancelled: "No passkey was used. Try again or choose another method.",
    waiting: "Follow the instructions of your browser or device."
  };

  function message(form, key) {
    return form.getAttribute("data-msg-" + key) || MESSAGES[key];
  }

  function show(form, key, isError) {
    window.SecureboxForm.show(form, message(form, key), isError);
  }

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (buffer === null || buffer === undefined) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeDescriptors(list) {
    return (list || []).map(function (descriptor) {
      var copy = Object.assign({}, descriptor);
      copy.id = fromBase64url(descriptor.id);
      return copy;
    });
  }

  function publicKeyOptions(options, create) {
    var publicKey = Object.assign({}, options.publicKey || options);
    publicKey.challenge = fromBase64url(publicKey.challenge);
    if (create) {
      publicKey.user = Object.assign({}, publicKey.user);
      publicKey.user.id = fromBase64url(publicKey.user.id);
      publicKey.excludeCredentials = decodeDescriptors(publicKey.excludeCredentials);
    } else {
      publicKey.allowCredentials = decodeDescriptors(publicKey.allowCredentials);
    }
    return publicKey;
  }

  function toJSON(credential) {
    if (typeof credential.toJSON === "function") {
      return credential.toJSON();
    }
    var response = credential.response;
    var body = {
      clientDataJSON: toBase64url(response.clientDataJSON)
    };
    if (response.attestationObject) {
      body.attestationObject = toBase64url(response.attestationObject);
      body.transports =
        typeof response.getTransports === "function" ? response.getTransports() : [];
    } else {
      body.authenticatorData = toBase64url(response.authenticatorData);
      body.signature = toBase64url(response.signature);
      body.userHandle = toBase64url(response.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: body
    };
  }

  function run(form, button) {
    var create = form.getAttribute("data-securebox-passkey") === "create";
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(form, "unsupported", true);
      return;
    }
    var options;
    try {
      options = publicKeyOptions(JSON.parse(form.getAttribute("data-options") || "{}"), create);
    } catch (error) {
      show(form, "unsupported", true);
      return;
    }
    button.disabled = true;
    show(form, "waiting", false);
    var asked = create
      ? navigator.credentials.create({ publicKey: options })
      : navigator.credentials.get({ publicKey: options });
    asked
      .then(function (credential) {
        if (!credential) {
          throw new Error("no credential");
        }
        form.elements.credential.value = JSON.stringify(toJSON(credential));
        form.submit(); // no submit event: this handler does not run again
      })
      .catch(function () {
        // cancelled, timed out, or no passkey for this site: the user chooses again
        show(form, "cancelled", true);
        button.disabled = false;
      });
  }

  window.SecureboxForm.onSubmit("form[data-securebox-passkey]", run);
})();
