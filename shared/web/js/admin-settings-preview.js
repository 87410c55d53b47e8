// Trying settings before saving them: the tenant's example drafts (edited in
// the settings form) and the table of each draft judged under the settings
// in force beside the proposed ones (POST …/settings/preview).

import { el } from "./ui.js";

const PHASES = ["g4_future", "g6_values", "g8_actions"];
const MAX_DRAFTS = 20;

// The example drafts as rows of inputs; `read()` gives them as the API
// stores them (empty `expect`/`note` left out), so an unchanged list
// compares equal to the stored one.
export class DraftsEditor {
  constructor(drafts) {
    this.list = el("ol", { id: "example-drafts", class: "example-drafts" });
    this.summary = el("summary");
    this.add = el("button", { type: "button", class: "secondary", id: "example-draft-add", onclick: () => this.append() },
      "Add an example draft");
    for (const draft of drafts) this.append(draft);
    this.sync();
  }

  view() {
    return el("details", { id: "example-drafts-section", open: this.list.children.length > 0 },
      this.summary,
      el("p", { class: "hint", text: "Goals as an employee might write them, with the verdict you expect: "
        + "\"Try these settings\" scores them under the current and the proposed settings." }),
      this.list, this.add);
  }

  append(draft = { phase: "g4_future", goal: "", expect: undefined, note: undefined }) {
    const n = this.list.children.length;
    const phase = el("select", { class: "draft-phase", "aria-label": `Draft ${n + 1} phase` },
      PHASES.map((p) => el("option", { value: p, selected: p === draft.phase }, p)));
    const goal = el("textarea", { class: "draft-goal", rows: 3, maxlength: 300, "aria-label": `Draft ${n + 1} goal` });
    goal.value = draft.goal;
    const expect = el("select", { class: "draft-expect", "aria-label": `Draft ${n + 1} expected verdict` },
      [["", "no expectation"], ["pass", "should pass"], ["fail", "should fail"]]
        .map(([v, label]) => el("option", { value: v, selected: v === (draft.expect || "") }, label)));
    const note = el("input", { class: "draft-note", maxlength: 200, placeholder: "note (optional)", "aria-label": `Draft ${n + 1} note` });
    note.value = draft.note || "";
    const row = el("li", { class: "example-draft" }, phase, goal, expect, note,
      el("button", { type: "button", class: "secondary draft-remove", onclick: () => { row.remove(); this.sync(); } }, "Remove"));
    this.list.append(row);
    this.sync();
  }

  sync() {
    this.add.disabled = this.list.children.length >= MAX_DRAFTS;
    this.summary.textContent = `Example drafts (${this.list.children.length}, at most ${MAX_DRAFTS})`;
  }

  read() {
    return [...this.list.children].map((row) => {
      const draft = { phase: row.querySelector(".draft-phase").value, goal: row.querySelector(".draft-goal").value.trim() };
      const expect = row.querySelector(".draft-expect").value;
      const note = row.querySelector(".draft-note").value.trim();
      if (expect) draft.expect = expect;
      if (note) draft.note = note;
      return draft;
    });
  }
}

const score = (judged) => (judged.overall === null || judged.overall === undefined ? "—" : judged.overall.toFixed(2));
const change = (value) => (value === null || value === undefined ? "—" : `${value > 0 ? "+" : ""}${value.toFixed(2)}`);

function verdictCell(label, judged) {
  return el("td", { "data-label": label, class: `verdict ${judged.verdict}`, title: judged.error || "" },
    el("strong", {}, judged.verdict), ` ${score(judged)}`,
    el("span", { class: "hint" }, ` (needs ${judged.threshold})`));
}

// The comparison: a summary, then one row per draft; a changed verdict is
// highlighted (and said in words, not by colour alone).
export function previewTable(preview) {
  if (!preview.drafts.length) {
    return el("p", { class: "hint", id: "settings-preview-note", text: preview.note || "No example drafts to score." });
  }
  const s = preview.summary;
  const agreement = s.labelled
    ? ` Agreement with your expected verdicts: current ${s.current_agreeing}/${s.labelled}, proposed ${s.proposed_agreeing}/${s.labelled}.`
    : "";
  const changes = preview.changes.length ? preview.changes.map((c) => c.path).join(", ") : "nothing (the settings in force)";
  const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
  return el("div", { id: "settings-preview-result" },
    el("p", { id: "settings-preview-summary", role: "status" },
      `Proposed: ${changes}. ${s.verdicts_changed} of ${s.drafts} verdicts change `
        + `(${s.newly_passing} newly passing, ${s.newly_failing} newly failing).${agreement} `
        + `Nothing was saved; ${preview.tokens.toLocaleString()} tokens used.`),
    el("div", { class: "table-scroll" },
      el("table", { id: "settings-preview-table" },
        el("thead", {}, el("tr", {}, ["Draft", "Expected", "Current", "Proposed", "Change"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, preview.drafts.map((row) =>
          el("tr", { "data-index": row.index, "data-changed": String(row.verdict_changed), class: row.verdict_changed ? "changed" : "" },
            cell("Draft", el("span", { class: "hint" }, `${row.phase} · `), row.goal, row.note ? el("span", { class: "hint" }, ` (${row.note})`) : ""),
            cell("Expected", row.expect || "—"),
            verdictCell("Current", row.current),
            verdictCell("Proposed", row.proposed),
            cell("Change", change(row.score_change), row.verdict_changed ? el("strong", {}, " verdict changes") : "")))))));
}
