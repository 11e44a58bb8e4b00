// kgtool's query workbench: the saved queries as tabs, their parameters as form fields, answers as a
// table of labels linked to entity pages. Talks only to the server that serves it (/api/queries,
// /api/run, /sparql); builds every element with the DOM API, never from HTML strings.
"use strict";

const ADHOC = {
  name: "", title: "Your query", parameters: [],
  description: "Any SELECT, ASK, CONSTRUCT or DESCRIBE query; kgtool's prefixes (kg:, kgr:, rdfs:, ...) are predeclared. " +
    "A '# param: NAME TYPE DEFAULT DESCRIPTION' header line declares a parameter, bound as an RDF term.",
  text: "SELECT ?deposit ?owner\nWHERE { ?deposit a kg:Deposit ; kg:controlledBy ?owner }\nORDER BY ?deposit\n",
};

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function cell(term) {
  const td = element("td");
  if (!term) return td;
  if (term.type === "uri") {
    const link = element("a", { href: term.href, class: "term", title: (term.label ? term.label + "\n" : "") + term.value });
    if (term.label) link.append(element("span", { class: "label", text: term.label }), " ");
    link.append(element("span", { class: "iri", text: term.short || term.value }));
    td.append(link);
  } else if (term.type === "literal") {
    if (term.value.length > 60) td.className = "long";  // a quote or a title: wide rather than tall
    td.append(term.value);
    const note = term.lang ? "@" + term.lang : term.datatype && term.datatype !== "xsd:string" ? term.datatype : "";
    if (note) td.append(" ", element("span", { class: "datatype", text: note }));
  } else {
    td.append(element("span", { class: "iri", text: "_:" + term.value }));
  }
  return td;
}

function showAnswer(target, answer) {
  target.replaceChildren();
  const parts = [];
  if (answer.boolean !== null) parts.push("answer: " + answer.boolean);
  else if (answer.turtle !== null) parts.push("a graph");
  else parts.push(answer.rows.length + (answer.rows.length === 1 ? " row" : " rows"));
  parts.push(answer.milliseconds + " ms");
  target.append(element("p", { class: "status", role: "status", text: parts.join(" · ") }));
  for (const warning of answer.warnings) target.append(element("p", { class: "warning", text: warning }));
  if (answer.boolean !== null) {
    target.append(element("p", { class: "boolean", text: String(answer.boolean) }));
  } else if (answer.turtle !== null) {
    target.append(element("pre", { class: "turtle", text: answer.turtle }));
  } else {
    // ?xLabel beside ?x repeats the label the table already shows with the IRI: hidden unless asked for
    const repeats = answer.variables.map((name) => name.endsWith("Label") && answer.variables.includes(name.slice(0, -5)));
    const mark = (node, index) => { if (repeats[index]) node.classList.add("label-column"); return node; };
    const head = element("tr", {}, ...answer.variables.map((name, i) => mark(element("th", { scope: "col", text: name }), i)));
    const body = element("tbody", {}, ...answer.rows.map((row) => element("tr", {}, ...row.map((term, i) => mark(cell(term), i)))));
    const table = element("table", { class: "results compact" }, element("thead", {}, head), body);
    if (repeats.some(Boolean)) {
      const toggle = element("input", { type: "checkbox", class: "show-labels",
        onchange: (event) => table.classList.toggle("compact", !event.target.checked) });
      target.append(element("label", { class: "toggle" }, toggle, " show the label columns (?xLabel beside ?x)"));
    }
    target.append(element("div", { class: "scroll" }, table));
  }
}

function showError(target, status, problem) {
  target.replaceChildren(element("div", { class: "error", role: "alert" },
    element("strong", { text: "Error " + status + ": " }), problem.error || "the server gave no answer",
    problem.hint ? element("div", { class: "hint", text: problem.hint }) : null));
}

function inputFor(parameter, id) {
  const types = { integer: "number", date: "date" };
  return element("input", {
    id, name: parameter.name, type: types[parameter.type] || "text", value: parameter.default || "",
    placeholder: parameter.type === "iri" ? "kgr:name, a full IRI in <...> or a label" : parameter.type,
    "aria-describedby": id + "-help", autocomplete: "off",
  });
}

function downloadLinks(query) {
  const links = element("span", { class: "downloads" }, "Download: ");
  for (const format of ["json", "csv", "tsv", "xml"]) {
    const url = "/sparql?" + new URLSearchParams({ query, format }).toString();
    links.append(element("a", { href: url, download: "answer." + format, text: format.toUpperCase() }), " ");
  }
  return links;
}

function panelFor(saved) {
  const key = saved.name || "adhoc";
  const panel = element("section", { class: "panel", id: "panel-" + key, role: "tabpanel", "data-query": key, hidden: true });
  panel.append(element("h2", { text: saved.title }));
  if (saved.description) panel.append(element("p", { class: "description", text: saved.description }));
  const form = element("form", { class: "query-form", autocomplete: "off" });
  if (saved.parameters.length) {
    const fields = element("fieldset", { class: "parameters" }, element("legend", { text: "Parameters" }));
    for (const parameter of saved.parameters) {
      const id = key + "-" + parameter.name;
      fields.append(element("div", { class: "field" },
        element("label", { for: id, text: parameter.name }), inputFor(parameter, id),
        element("small", { id: id + "-help", text: parameter.type + (parameter.description ? ": " + parameter.description : "") })));
    }
    form.append(fields);
  }
  const editor = element("textarea", { class: "sparql", name: "sparql", spellcheck: "false", rows: 10, "aria-label": "SPARQL query" });
  editor.value = saved.text;
  const results = element("div", { class: "answer", "aria-live": "polite" });
  const actions = element("div", { class: "actions" },
    element("button", { type: "submit", class: "run", text: "Run" }),
    element("span", { class: "shortcut", text: "Ctrl+Enter" }));
  if (!saved.parameters.length) {
    let links = downloadLinks(saved.text);
    actions.append(links);
    editor.addEventListener("input", () => {
      const fresh = downloadLinks(editor.value);
      links.replaceWith(fresh);
      links = fresh;
    });
  }
  form.append(editor, actions);
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = {};
    for (const parameter of saved.parameters) params[parameter.name] = form.elements[parameter.name].value;
    const request = saved.name && editor.value === saved.text ? { name: saved.name, params } : { query: editor.value, params };
    const button = form.querySelector("button.run");
    button.disabled = true;
    results.replaceChildren(element("p", { class: "status", text: "Running…" }));
    try {
      const response = await fetch("/api/run", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
      });
      const body = await response.json();
      if (response.ok) showAnswer(results, body); else showError(results, response.status, body);
    } catch (problem) {
      showError(results, "", { error: String(problem) });
    } finally {
      button.disabled = false;
    }
  });
  panel.append(form, results);
  return panel;
}

function select(key) {
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    const active = tab.dataset.query === key;
    tab.setAttribute("aria-selected", active ? "true" : "false");
    tab.classList.toggle("active", active);
  }
  for (const panel of document.querySelectorAll("#panels .panel")) panel.hidden = panel.dataset.query !== key;
}

async function start() {
  const tabs = document.getElementById("tabs");
  const panels = document.getElementById("panels");
  const loading = document.getElementById("loading");
  let saved = [];
  try {
    const response = await fetch("/api/queries");
    saved = await response.json();
    loading.remove();
  } catch (problem) {
    loading.textContent = "Could not load the saved queries: " + problem;
  }
  for (const query of [...saved, ADHOC]) {
    const key = query.name || "adhoc";
    tabs.append(element("button", {
      type: "button", role: "tab", class: "tab", "data-query": key, title: query.title, text: query.name || "your query",
      "aria-controls": "panel-" + key, onclick: () => { history.replaceState(null, "", "#" + key); select(key); },
    }));
    panels.append(panelFor(query));
  }
  const wanted = decodeURIComponent(location.hash.slice(1));
  const keys = [...saved.map((q) => q.name), "adhoc"];
  select(keys.includes(wanted) ? wanted : keys[0]);
}

document.addEventListener("DOMContentLoaded", start);
