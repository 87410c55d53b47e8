// The tenant's settings (one versioned resource) and its admin keys, in the
// admin console. Both call through the console, so a revoked key signs out.

import { DraftsEditor, previewTable } from "./admin-settings-preview.js";
import { el, errorBox } from "./ui.js";

const PHASES = ["g4_future", "g6_values", "g8_actions"];
const PROMPTS = ["system_prompt", "g4_future_prompt", "g6_values_prompt", "g8_actions_prompt"];
// The models the API accepts when the model is changed (domain/settings.rs).
const MODELS = [
  "gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano",
  "us.anthropic.claude-haiku-4-5-20251001-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
  "anthropic.claude-3-5-haiku-20241022-v1:0", "amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0", "amazon.nova-pro-v1:0",
];

const show = (value) => (value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value));

// One changed path per line: "threshold: 7 → 8".
export function diffList(changes, id) {
  if (!changes?.length) return el("p", { class: "hint", id, text: "No changes." });
  return el("ul", { class: "diff", id },
    changes.map((c) => el("li", { "data-path": c.path },
      el("code", {}, c.path), ": ", el("span", { class: "from" }, show(c.from)), " → ", el("span", { class: "to" }, show(c.to)))));
}

export class SettingsPanel {
  constructor(console) {
    this.console = console;
    this.box = el("div", { id: "settings", "aria-live": "polite" });
    this.history = el("div", { id: "settings-history" });
  }

  get path() {
    return `/api/admin/tenants/${encodeURIComponent(this.console.tenant.id)}/settings`;
  }

  view() {
    return el("section", { id: "settings-section" }, el("h2", { text: "Settings" }), this.box, this.history);
  }

  async load(note) {
    const current = await this.console.call("GET", this.path);
    this.current = current;
    this.render(current, note);
    await this.loadHistory();
  }

  render(current, note) {
    const s = current.settings;
    const number = (id, value, attrs) => el("input", { id, type: "number", value: String(value), ...attrs });
    const threshold = number("set-threshold", s.threshold, { min: 0, max: 10, step: 0.1 });
    const model = el("select", { id: "set-model" },
      [...new Set([s.llm_model, ...MODELS])].map((m) => el("option", { value: m, selected: m === s.llm_model }, m)));
    const retrieval = el("select", { id: "set-retrieval" },
      ["ahead", "per_turn"].map((m) => el("option", { value: m, selected: m === s.coach_retrieval }, m)));
    const weights = {};
    const rubrics = PHASES.map((phase) => {
      const rubric = s.scoring_rubrics[phase] || {};
      return el("fieldset", { class: "rubric", id: `rubric-${phase}` }, el("legend", { text: `Rubric ${phase} (weights add up to 100)` }),
        Object.entries(rubric).map(([name, c]) => {
          const id = `weight-${phase}-${name}`;
          weights[`${phase}/${name}`] = number(id, c.weight, { min: 0, max: 100, step: 1 });
          return el("div", { class: "field inline" }, el("label", { for: id, text: name, title: c.description }), weights[`${phase}/${name}`]);
        }));
    });
    const prompts = {};
    const promptFields = PROMPTS.map((name) => {
      prompts[name] = el("textarea", { id: `prompt-${name}`, rows: 3, maxlength: 8000 });
      prompts[name].value = s.prompts[name];
      return el("div", { class: "field" }, el("label", { for: `prompt-${name}`, text: name.replaceAll("_", " ") }), prompts[name]);
    });
    const drafts = new DraftsEditor(s.example_drafts || []);
    const result = el("div", { id: "settings-result", "aria-live": "polite" }, note || "");
    const tried = el("div", { id: "settings-preview", "aria-live": "polite" });
    const tryButton = el("button", { type: "button", class: "secondary", id: "settings-try" }, "Try these settings");
    const form = el("form", { id: "settings-form" },
      el("p", { id: "settings-version" },
        `Version ${current.version} · ${current.changed_by} · ${new Date(current.changed_at).toLocaleString()}`),
      el("div", { class: "filters" },
        el("div", { class: "field" }, el("label", { for: "set-threshold", text: "Passing score (0–10)" }), threshold),
        el("div", { class: "field" }, el("label", { for: "set-model", text: "Model" }), model),
        el("div", { class: "field" }, el("label", { for: "set-retrieval", text: "Coach retrieval" }), retrieval)),
      rubrics,
      el("details", {}, el("summary", { text: "Prompts" }), promptFields),
      drafts.view(),
      el("p", { class: "hint", id: "platform-settings",
        text: `Set by the platform: monthly token budget ${s.limits.monthly_token_budget.toLocaleString()}, `
          + `${s.document_limits.max_documents} documents, ${s.document_limits.max_chunks.toLocaleString()} chunks.` }),
      result,
      el("div", { class: "actions" }, el("button", { type: "submit", id: "settings-save" }, "Save settings"), " ", tryButton),
      tried,
    );
    // Only what differs is sent: a merge patch (to save, or to try).
    const pending = () => {
      const patch = {};
      if (Number(threshold.value) !== s.threshold) patch.threshold = Number(threshold.value);
      if (model.value !== s.llm_model) patch.llm_model = model.value;
      if (retrieval.value !== s.coach_retrieval) patch.coach_retrieval = retrieval.value;
      for (const [key, input] of Object.entries(weights)) {
        const [phase, name] = key.split("/");
        if (Number(input.value) !== s.scoring_rubrics[phase][name].weight) {
          patch.scoring_rubrics ??= {};
          patch.scoring_rubrics[phase] ??= {};
          patch.scoring_rubrics[phase][name] = { weight: Number(input.value) };
        }
      }
      for (const name of PROMPTS) {
        if (prompts[name].value !== s.prompts[name]) (patch.prompts ??= {})[name] = prompts[name].value;
      }
      const examples = drafts.read();
      if (JSON.stringify(examples) !== JSON.stringify(s.example_drafts || [])) patch.example_drafts = examples;
      return patch;
    };
    tryButton.addEventListener("click", async () => {
      tryButton.disabled = true;
      tried.replaceChildren(el("p", { class: "hint", text: "Scoring the example drafts…" }));
      try {
        const preview = await this.console.call("POST", `${this.path}/preview`, { body: pending() });
        tried.replaceChildren(previewTable(preview));
      } catch (e) {
        if (e.code !== "signed_out") tried.replaceChildren(errorBox(e.message));
      } finally {
        tryButton.disabled = false;
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const patch = pending();
      if (!Object.keys(patch).length) return result.replaceChildren(el("p", { class: "hint", text: "Nothing changed." }));
      const save = form.querySelector("#settings-save");
      save.disabled = true;
      try {
        const saved = await this.console.call("PATCH", this.path, {
          body: patch, headers: { "If-Match": `"${current.version}"` },
        });
        this.current = saved;
        this.render(saved, el("div", { class: "ok", role: "status", id: "settings-saved" },
          el("p", {}, `Saved as version ${saved.version}.`), diffList(saved.changes, "settings-diff")));
        await this.loadHistory();
      } catch (e) {
        if (e.code === "signed_out") return;
        const again = e.status === 412 ? " Someone else changed them: reload to see their version." : "";
        result.replaceChildren(errorBox(e.message + again));
        save.disabled = false;
      }
    });
    this.box.replaceChildren(form);
  }

  async loadHistory() {
    const list = await this.console.call("GET", `${this.path}/versions`);
    this.history.replaceChildren(
      el("details", { id: "settings-versions" }, el("summary", { text: `History (${list.versions.length} versions)` }),
        el("ol", { reversed: true }, list.versions.map((v) =>
          el("li", { "data-version": v.version },
            el("strong", {}, `Version ${v.version}`), ` · ${v.changed_by} · ${new Date(v.changed_at).toLocaleString()}`,
            diffList(v.changes))))));
  }
}

export class KeysPanel {
  constructor(console) {
    this.console = console;
    this.box = el("div", { id: "keys", "aria-live": "polite" });
    this.result = el("div", { id: "keys-result", "aria-live": "polite" });
  }

  get path() {
    return `/api/admin/tenants/${encodeURIComponent(this.console.tenant.id)}/admin-keys`;
  }

  view() {
    return el("section", { id: "keys-section" },
      el("h2", { text: "Admin keys" }),
      el("p", { class: "hint", text: "Two keys may be active at once: create a new one, switch to it, then revoke the old one." }),
      this.box,
      el("button", { type: "button", id: "key-create", onclick: () => this.create() }, "Create a key"),
      this.result);
  }

  async load() {
    const list = await this.console.call("GET", this.path);
    const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
    this.box.replaceChildren(
      el("div", { class: "table-scroll" },
        el("table", { id: "keys-table" },
          el("thead", {}, el("tr", {}, ["Prefix", "Created", "Status", ""].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, list.keys.map((k) =>
            el("tr", { "data-prefix": k.prefix, "data-active": String(k.active) },
              cell("Prefix", el("code", {}, `${k.prefix}…`), k.in_use ? " (this tab)" : ""),
              cell("Created", `${new Date(k.created_at).toLocaleString()} · ${k.created_by}`),
              cell("Status", k.active ? "active" : `revoked ${new Date(k.revoked_at).toLocaleString()}`),
              cell("", k.active
                ? el("button", { type: "button", class: "secondary revoke", onclick: () => this.revoke(k) }, "Revoke")
                : "")))))));
  }

  async create() {
    try {
      const created = await this.console.call("POST", this.path);
      const use = el("button", { type: "button", id: "key-use", onclick: () => {
        this.console.useKey(created.key);
        this.result.replaceChildren(el("p", { class: "ok", role: "status", text: `This tab now uses ${created.prefix}….` }));
        this.load();
      } }, "Use this key in this tab");
      this.result.replaceChildren(el("div", { class: "ok", role: "status", id: "key-created" },
        el("p", { text: "The new key, shown this once: copy it now." }),
        el("code", { id: "new-key" }, created.key), " ", use));
      await this.load();
    } catch (e) {
      if (e.code !== "signed_out") this.result.replaceChildren(errorBox(e.message));
    }
  }

  async revoke(key) {
    const warning = key.in_use
      ? `Revoke ${key.prefix}…, the key this tab uses? You will need another key to come back.`
      : `Revoke ${key.prefix}…? Anyone using it is refused at once.`;
    if (!window.confirm(warning)) return;
    try {
      await this.console.call("DELETE", `${this.path}/${encodeURIComponent(key.prefix)}`);
      this.result.replaceChildren(el("p", { class: "ok", role: "status", id: "key-revoked", text: `${key.prefix}… is revoked.` }));
      await this.load();
    } catch (e) {
      if (e.code !== "signed_out") this.result.replaceChildren(errorBox(e.message));
    }
  }
}
