/*
 * What the script-driven login forms (passkey.js, certificate.js) share, loaded before them
 * from /static (CSP script-src 'self'), no inline script:
 *
 *   SecureboxForm.show(form, text, isError)  writes text in the form's status element
 *       ([data-securebox-status], polite), or in its alert ([data-securebox-error]), shown
 *       and focused, clearing the other one;
 *   SecureboxForm.onSubmit(selector, run)    on every form matching selector, once the
 *       document is ready, stops the submission and calls run(form, button) instead (at
 *       most one handler per form: the form is marked data-securebox-driven).
 */
(function () {
  "use strict";

  function show(form, text, isError) {
    var status = form.querySelector("[data-securebox-status]");
    var alert = form.querySelector("[data-securebox-error]");
    if (isError && alert) {
      alert.textContent = text;
      alert.hidden = false;
      alert.setAttribute("tabindex", "-1");
      alert.focus();
      if (status) {
        status.textContent = "";
      }
    } else if (status) {
      status.textContent = text;
      if (alert) {
        alert.hidden = true;
      }
    }
  }

  function onSubmit(selector, run) {
    function attach(form) {
      // once per form: a script included twice would otherwise run two ceremonies per
      // submission and, when both answered, post the form twice
      if (form.hasAttribute("data-securebox-driven")) {
        return;
      }
      form.setAttribute("data-securebox-driven", "");
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = event.submitter || form.querySelector("[type=submit]");
        run(form, button || { disabled: false });
      });
    }

    function start() {
      var forms = document.querySelectorAll(selector);
      for (var i = 0; i < forms.length; i += 1) {
        attach(forms[i]);
      }
    }

    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }

  window.SecureboxForm = Object.freeze({ show: show, onSubmit: onSubmit });
})();
