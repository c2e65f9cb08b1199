// The API page: reads the contract bnb-local serves (/openapi.json, from docs/openapi.yaml) and
// lays out every operation: who may call it, its parameters, its body and every answer.
const main = document.getElementById("main");

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
};

function resolve(doc, value) {
  let v = value;
  for (let i = 0; v && v.$ref && i < 10; i += 1) {
    v = v.$ref.replace(/^#\//, "").split("/").reduce((o, k) => o[k], doc);
  }
  return v;
}

// A schema as JSON; the schemas it refers to are listed, by name, at the foot of the page.
const schemaText = (schema) => JSON.stringify(schema, null, 2);

function operation(doc, path, method, op, id) {
  const secured = (op.security ?? doc.security ?? []).length > 0;
  const body = el("div", { class: "body", id: `${id}-body`, hidden: "" });
  if (op.description) body.append(el("p", {}, op.description));
  const params = (op.parameters ?? []).map((p) => resolve(doc, p));
  if (params.length) {
    const rows = params.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, p.required ? "required" : "optional"), el("td", {}, p.description ?? "")));
    body.append(el("h4", {}, "Parameters"), el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, ""), el("th", {}, "what"))), el("tbody", {}, ...rows)));
  }
  const request = resolve(doc, op.requestBody);
  if (request) {
    const [type, media] = Object.entries(request.content ?? {})[0] ?? [];
    const named = media?.schema?.$ref ? ` ${media.schema.$ref.split("/").pop()}` : "";
    body.append(el("h4", {}, `Body (${type})${named}`), el("pre", {}, schemaText(resolve(doc, media?.schema))));
  }
  const answers = Object.entries(op.responses ?? {}).map(([status, r]) => {
    const answer = resolve(doc, r);
    const types = Object.keys(answer.content ?? {}).join(", ");
    return el("tr", { "data-testid": "answer" }, el("td", {}, el("code", {}, status)), el("td", {}, answer.description ?? ""), el("td", {}, types));
  });
  body.append(el("h4", {}, "Answers"), el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "when"), el("th", {}, "as"))), el("tbody", {}, ...answers)));
  const toggle = el("button", { "aria-expanded": "false", "aria-controls": `${id}-body`, type: "button" },
    el("span", { class: `method ${method}` }, method.toUpperCase()), el("code", { class: "path" }, path), el("span", { class: "summary" }, op.summary ?? ""),
    el("span", { class: "lock" }, secured ? "signed in" : "anyone"));
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", String(!open));
    body.hidden = open;
  });
  return el("section", { class: "op", "data-testid": "operation", "aria-label": `${method.toUpperCase()} ${path}` }, el("h3", {}, toggle), body);
}

async function show() {
  const response = await fetch("openapi.json");
  if (!response.ok) {
    main.replaceChildren(el("p", { role: "alert" }, `No contract here (${response.status}): bnb-local serves it from docs/openapi.yaml.`));
    return;
  }
  const doc = await response.json();
  document.title = `${doc.info.title} API ${doc.info.version}`;
  const ops = [];
  let n = 0;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "put", "delete", "patch"]) {
      if (item[method]) ops.push(operation(doc, path, method, item[method], `op-${(n += 1)}`));
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {}).map(([name, s]) =>
    el("details", {}, el("summary", {}, name), el("pre", {}, schemaText(s))));
  main.replaceChildren(
    el("h1", {}, `${doc.info.title} API`),
    el("p", { class: "lead" }, `OpenAPI ${doc.openapi}, version ${doc.info.version}: ${ops.length} operations. Errors are application/problem+json.`),
    ...ops,
    el("h2", {}, "Schemas"),
    ...schemas,
  );
}

show().catch((e) => main.replaceChildren(el("p", { role: "alert" }, `Could not read the contract: ${e}`)));
