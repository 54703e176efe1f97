// The releases page's publish form. Its artifacts go to the upload route
// (POST /v1/releases) as from meshctl, with the session's CSRF token in
// the X-CSRF-Token header: the hub streams a multipart body to disk, so it
// cannot read the token from a field inside it. The form shows the
// upload's progress and, when the hub refuses the release, its reason;
// once published, the page is loaded again with the release listed.
"use strict";
(() => {
  const form = document.getElementById("publish-form");
  if (!form) {
    return;
  }
  const problem = document.getElementById("publish-problem");
  const progress = document.getElementById("publish-progress");
  const button = document.getElementById("publish-button");
  const say = (el, text) => {
    el.textContent = text;
    el.hidden = text === "";
  };
  const reason = (x) => {
    try {
      const m = JSON.parse(x.responseText).message;
      if (m) {
        // as the pages show errors: without the package prefixes
        return m.replace(/(hub|store): ((invalid argument|permission denied|unauthenticated|not found|invalid|conflict): )?/g, "");
      }
    } catch (e) {
      // not the hub's JSON: say the status
    }
    return "The hub refused the upload (HTTP " + x.status + ").";
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    say(problem, "");
    say(progress, "Uploading…");
    button.disabled = true;
    const x = new XMLHttpRequest();
    x.open("POST", form.getAttribute("action"));
    x.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    x.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && e.total > 0) {
        say(progress, "Uploading… " + Math.floor((100 * e.loaded) / e.total) + "%");
      }
    });
    x.addEventListener("load", () => {
      if (x.status === 201) {
        let version = form.elements.version.value.trim();
        try {
          version = JSON.parse(x.responseText).version || version;
        } catch (e) {
          // keep what was typed
        }
        say(progress, "Published.");
        location.assign(form.dataset.done + "?published=" + encodeURIComponent(version));
        return;
      }
      button.disabled = false;
      say(progress, "");
      say(problem, reason(x));
    });
    x.addEventListener("error", () => {
      button.disabled = false;
      say(progress, "");
      say(problem, "The upload did not reach the hub: check the connection and try again.");
    });
    x.send(new FormData(form));
  });
})();
