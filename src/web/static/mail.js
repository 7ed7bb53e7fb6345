// The webmail's one nicety: ask before deleting. Everything else works without script.
"use strict";
for (const button of document.querySelectorAll("button.delete")) {
  button.addEventListener("click", (e) => {
    if (!window.confirm("Delete this message?")) e.preventDefault();
  });
}
