// The API reference: renders /api/openapi.json with no third-party code,
// so it works offline and under the app's content security policy.

const main = document.getElementById("main");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Inline `code` spans of the document's Markdown descriptions.
function prose(text) {
  const p = el("p");
  (text || "").split("`").forEach((part, i) => p.append(i % 2 ? el("code", {}, part) : part));
  return p;
}

function refName(ref) {
  return ref.split("/").pop();
}

// A schema as a short type expression, linking to named components.
function typeOf(schema) {
  if (!schema) return "any";
  if (schema.$ref) return el("a", { href: `#schema-${refName(schema.$ref)}` }, refName(schema.$ref));
  for (const key of ["oneOf", "anyOf", "allOf"]) {
    if (schema[key]) {
      const parts = schema[key].map(typeOf);
      const span = el("span");
      parts.forEach((part, i) => span.append(i ? (key === "allOf" ? " & " : " | ") : "", part));
      return span;
    }
  }
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const types = [].concat(schema.type || "object");
  if (types.includes("array")) return el("span", {}, typeOf(schema.items), "[]");
  return types.join(" | ") + (schema.format ? ` (${schema.format})` : "");
}

function schemaTable(schema) {
  if (!schema || !schema.properties) return el("p", {}, typeOf(schema));
  const required = new Set(schema.required || []);
  return el("table", {},
    el("tr", {}, el("th", {}, "Field"), el("th", {}, "Type"), el("th", {}, "")),
    Object.entries(schema.properties).map(([name, prop]) => el("tr", {},
      el("td", {}, el("code", {}, name), required.has(name) ? " *" : ""),
      el("td", {}, typeOf(prop)),
      el("td", {}, prop.description ? prose(prop.description) : ""))));
}

function content(media) {
  return Object.entries(media || {}).map(([type, body]) => el("div", {},
    el("p", { class: "muted" }, type, " — ", typeOf(body.schema)),
    body["x-sse-events"] ? el("table", {},
      el("tr", {}, el("th", {}, "Event"), el("th", {}, "Data")),
      Object.entries(body["x-sse-events"]).map(([name, schema]) =>
        el("tr", {}, el("td", {}, el("code", {}, name)), el("td", {}, typeOf(schema))))) : null));
}

function operation(path, method, op) {
  const security = (op.security || []).map((req) => Object.keys(req).join(" + ")).join(" or ");
  return el("details", { class: "op", id: op.operationId || `${method}-${path}` },
    el("summary", {}, el("span", { class: "method" }, method), el("code", { class: "path" }, path),
      el("span", { class: "muted" }, op.summary || "")),
    el("div", { class: "op-body" },
      op.description ? prose(op.description) : null,
      security ? el("p", {}, "Auth: ", el("code", {}, security)) : null,
      op.parameters?.length ? [el("h3", {}, "Parameters"), el("table", {},
        op.parameters.map((p) => el("tr", {},
          el("td", {}, el("code", {}, p.name), p.required ? " *" : ""),
          el("td", {}, p.in), el("td", {}, typeOf(p.schema)),
          el("td", {}, p.description ? prose(p.description) : ""))))] : null,
      op.requestBody ? [el("h3", {}, "Body"), content(op.requestBody.content)] : null,
      el("h3", {}, "Responses"),
      el("table", {}, Object.entries(op.responses || {}).map(([status, response]) => el("tr", {},
        el("td", { class: `status status-${status[0]}` }, status),
        el("td", {}, prose(response.description), content(response.content)))))));
}

function render(doc) {
  const byTag = new Map((doc.tags || []).map((tag) => [tag.name, { tag, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, ops: [] });
      byTag.get(tag).ops.push(operation(path, method, op));
    }
  }
  const schemas = Object.entries(doc.components?.schemas || {});
  main.replaceChildren(...[
    el("h1", {}, `${doc.info.title} ${doc.info.version}`),
    prose(doc.info.description),
    el("p", {}, "Machine-readable: ", el("a", { href: "api/openapi.json" }, "/api/openapi.json"),
      ` (OpenAPI ${doc.openapi}).`),
    [...byTag.values()].filter((group) => group.ops.length).map(({ tag, ops }) =>
      el("section", { id: `tag-${tag.name}` }, el("h2", {}, tag.name),
        tag.description ? prose(tag.description) : null, ops)),
    el("h2", {}, "Schemas"),
    schemas.map(([name, schema]) => el("details", { class: "op", id: `schema-${name}` },
      el("summary", {}, el("code", { class: "path" }, name)),
      el("div", { class: "op-body" }, schema.description ? prose(schema.description) : null,
        schemaTable(schema)))),
  ].flat(Infinity));
  // Open what a link points at.
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target instanceof HTMLDetailsElement) target.open = true;
}

// Beside a separate API (a static deployment), config.json names it.
async function documentUrl() {
  try {
    const config = await (await fetch("config.json")).json();
    if (config.api_base) return `${config.api_base}/api/openapi.json`;
  } catch {
    // No config: the API is this page's origin.
  }
  return "api/openapi.json";
}

documentUrl()
  .then((url) => fetch(url))
  .then((response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    main.replaceChildren(el("p", { class: "card", role: "alert" }, `The API document could not be loaded: ${error.message}`));
  });
