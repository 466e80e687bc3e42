// Formulas of the site, rendered by the bundled KaTeX (docs/vendor/katex): no network needed.
// pymdownx.arithmatex (generic mode) wraps inline math as <span class="arithmatex">\( ... \)</span>
// and display math as <div class="arithmatex">\[ ... \]</div>. A formula KaTeX cannot parse is
// reported on the console (the docs' browser test fails on it) and left as it was written.
(function () {
  "use strict";
  function strip(text) {
    const t = text.trim();
    for (const [open, close] of [["\\(", "\\)"], ["\\[", "\\]"], ["$$", "$$"]]) {
      if (t.startsWith(open) && t.endsWith(close)) return t.slice(open.length, -close.length);
    }
    return t;
  }
  function render(root) {
    root.querySelectorAll(".arithmatex").forEach((el) => {
      if (el.querySelector(".katex")) return; // already rendered
      const display = el.tagName !== "SPAN";
      const tex = strip(el.textContent);
      try {
        katex.render(tex, el, { displayMode: display, throwOnError: true, strict: "warn" });
      } catch (err) {
        console.error("KaTeX cannot render " + JSON.stringify(tex) + ": " + err.message);
      }
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(() => render(document));
  } else {
    document.addEventListener("DOMContentLoaded", () => render(document));
  }
})();
