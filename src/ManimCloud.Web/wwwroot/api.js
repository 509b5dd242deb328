// Lists the endpoints of /openapi/v1.json in a table (no framework: a page of the service itself).
"use strict";
(async () => {
  const body = document.querySelector("#endpoints tbody");
  const doc = await (await fetch("/openapi/v1.json")).json();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== "object" || !op.responses) continue;
      const row = body.insertRow();
      row.insertCell().textContent = method.toUpperCase();
      row.insertCell().textContent = path;
      row.insertCell().textContent = op.summary || "";
      row.insertCell().textContent = Object.keys(op.responses).join(" ");
    }
  }
})();
