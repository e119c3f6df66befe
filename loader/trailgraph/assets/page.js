// Shared by every trailgraph picture: the data the page embeds (escaped JSON), its title, and the one
// way text reaches the DOM. Every string came from CloudTrail, so it is set as textContent, never as markup.
"use strict";
const trailgraph = (function () {
  const data = JSON.parse(document.getElementById("trailgraph-data").textContent);
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  // A definition list of the pairs whose value is present.
  function pairs(list) {
    const dl = el("dl");
    for (const [k, v] of list) {
      if (v === undefined || v === null || v === "") continue;
      dl.append(el("dt", k), el("dd", v));
    }
    return dl;
  }
  document.getElementById("title").textContent = data.title;
  return { data: data, el: el, pairs: pairs };
})();
