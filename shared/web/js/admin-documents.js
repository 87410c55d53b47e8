// The tenant's document library in the admin console: upload (with its
// progress), the library as a table (status and failure, pages, chunks,
// flagged passages with their text, source, dates), replace and delete with
// a confirmation in the page. Calls go through the console, so a revoked key
// signs out.

import { ApiError } from "./api.js";
import { el, errorBox, whenText } from "./ui.js";

// Larger files go straight to the object store when it offers presigned URLs.
const DIRECT_UPLOAD_BYTES = 1024 * 1024;
const CATEGORIES = ["career_framework", "values", "performance_guidelines", "engineering_guidelines", "policies", "general"];
const ACCEPT = ".pdf,.docx,.pptx,.xlsx,.odt,.html,.htm,.md,.txt";
const COLUMNS = ["Title", "Category", "Format", "Status", "Pages", "Chunks", "Flagged", "Source", "Dates", ""];
// Why a passage was flagged (domain/injection.rs), in words.
const SIGNALS = {
  addresses_assistant: "speaks to the assistant",
  overrides_instructions: "overrides its instructions",
  dictates_score: "dictates a score",
  asks_for_secrecy: "asks for secrecy",
};
const SOURCES = { upload: "Upload", drop_folder: "Drop folder" };

const quoted = (title) => `“${title}”`;
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

export class DocumentsPanel {
  constructor(console) {
    this.console = console;
    this.box = el("div", { id: "documents" });
    this.status = el("div", { id: "documents-status", "aria-live": "polite" });
  }

  get path() {
    return `/api/admin/rag/documents/${encodeURIComponent(this.console.tenant.id)}`;
  }

  view() {
    return el("section", { id: "documents-section" },
      el("h2", { text: "Documents" }),
      el("p", { class: "hint", text: "What the coach draws on. Sentences that speak to the assistant are flagged, and withheld from the coach and the scorer." }),
      this.uploadForm(),
      this.status,
      this.box);
  }

  async load() {
    const list = await this.console.call("GET", this.path);
    this.render(list.documents);
  }

  // Shows a refusal of a call (unless it signed the admin out).
  fail(box, e) {
    if (e.code !== "signed_out") box.replaceChildren(errorBox(e.message));
  }

  // After a change: the table, the usage and the audit log.
  async changed(message, id) {
    this.status.replaceChildren(el("p", { class: "ok", role: "status", id }, message));
    await Promise.all([this.load().catch((e) => this.fail(this.status, e)), this.console.refresh()]);
  }

  render(documents) {
    const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
    const rows = documents.flatMap((doc) => {
      const flagged = doc.flagged_passages?.length || 0;
      const row = el("tr", { class: "document", "data-document": doc.id, "data-status": doc.status, "data-flagged": String(flagged), "data-revision": String(doc.revision) },
        el("td", { class: "title", "data-label": "Title" }, el("div", {}, el("strong", {}, doc.title),
          doc.filename && doc.filename !== doc.title ? el("span", { class: "hint filename" }, doc.filename) : null)),
        cell("Category", doc.category),
        cell("Format", doc.format || "—"),
        el("td", { class: `status ${doc.status}`, "data-label": "Status" }, statusText(doc)),
        cell("Pages", doc.pages ?? "—"),
        cell("Chunks", String(doc.chunks)),
        el("td", { class: "flags", "data-label": "Flagged" }, flagged
          ? el("span", { class: "flag", title: "Passages withheld from the coach and the scorer" }, `⚠ ${flagged} flagged`)
          : "none"),
        cell("Source", SOURCES[doc.source] || doc.source),
        el("td", { class: "dates", "data-label": "Dates" }, el("div", {},
          el("span", {}, "uploaded ", el("time", { datetime: doc.created_at }, whenText(doc.created_at))),
          doc.updated_at !== doc.created_at
            ? el("span", {}, "updated ", el("time", { datetime: doc.updated_at }, whenText(doc.updated_at)),
              doc.revision > 1 ? ` · version ${doc.revision}` : "")
            : null)),
        el("td", { class: "row-actions", "data-label": "" },
          el("button", { type: "button", class: "secondary replace-document", onclick: (event) => this.askReplace(doc, row, event.target) }, "Replace…"),
          el("button", { type: "button", class: "secondary delete-document", onclick: (event) => this.askDelete(doc, row, event.target) }, "Delete…")),
      );
      return flagged ? [row, flaggedRow(doc)] : [row];
    });
    this.box.replaceChildren(
      el("div", { class: "table-scroll" },
        el("table", { class: "documents", id: "documents-table" },
          el("caption", { text: `${plural(documents.length, "document")}, newest first` }),
          el("thead", {}, el("tr", {}, COLUMNS.map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, rows.length ? rows
            : el("tr", {}, el("td", { colspan: COLUMNS.length, class: "hint" }, "No documents yet: upload the first one above."))))));
  }

  // A form under the document's row (and its flagged passages); one at a
  // time. Escape or `panel.close()` closes it and gives the focus back.
  openPanel(row, opener, ...content) {
    this.box.querySelector("tr.doc-panel")?.remove();
    const next = row.nextElementSibling?.classList.contains("flagged-row") ? row.nextElementSibling : row;
    const panel = el("tr", { class: "doc-panel", "data-for": row.dataset.document },
      el("td", { colspan: COLUMNS.length }, ...content));
    panel.close = () => {
      panel.remove();
      opener.focus();
    };
    panel.addEventListener("keydown", (event) => event.key === "Escape" && panel.close());
    next.after(panel);
    panel.querySelector("input, button")?.focus();
    return panel;
  }

  askReplace(doc, row, opener) {
    const file = el("input", { id: "replace-file", type: "file", accept: ACCEPT, required: true });
    const title = el("input", { id: "replace-title", type: "text", value: doc.title });
    const result = el("div", { id: "replace-result", "aria-live": "polite" });
    const form = el("form", { id: "replace-form" },
      el("div", { class: "field" }, el("label", { for: "replace-file", text: `New version of ${quoted(doc.title)}` }), file),
      el("div", { class: "field" }, el("label", { for: "replace-title", text: "Title" }), title),
      result,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", id: "replace-cancel", onclick: () => panel.close() }, "Cancel"),
        el("button", { type: "submit", id: "replace-submit" }, "Upload the new version")));
    const panel = this.openPanel(row, opener, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!file.files[0]) return result.replaceChildren(errorBox("Choose the file of the new version."));
      const submit = form.querySelector("#replace-submit");
      submit.disabled = true;
      try {
        const replaced = await this.replace(doc, file.files[0], title.value.trim(), result);
        await this.changed(`${quoted(replaced.title)} is replaced: version ${replaced.revision}, ${plural(replaced.chunks, "chunk")}.`, "document-replaced");
      } catch (e) {
        submit.disabled = false;
        this.fail(result, e);
        if (e.status === 409 || e.status === 412) this.load().catch((err) => this.fail(this.status, err));
      }
    });
  }

  // The new file, conditional on the revision the table shows; the title
  // and the rest of the document's metadata stay unless changed.
  replace(doc, file, title, result) {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("metadata", JSON.stringify({ ...(doc.metadata || {}), title: title || doc.title }));
    return this.console.call("PUT", `${this.path}/${encodeURIComponent(doc.id)}`, {
      body: form,
      headers: { "If-Match": `"${doc.revision}"` },
      onProgress: progressIn(result, file.name),
    });
  }

  askDelete(doc, row, opener) {
    const result = el("div", { id: "delete-result", "aria-live": "polite" });
    const confirm = async (event) => {
      event.target.disabled = true;
      try {
        await this.console.call("DELETE", `${this.path}/${encodeURIComponent(doc.id)}`, { headers: { "If-Match": `"${doc.revision}"` } });
        await this.changed(`${quoted(doc.title)} is deleted: the coach no longer draws on it.`, "document-deleted");
      } catch (e) {
        event.target.disabled = false;
        this.fail(result, e);
        if (e.status === 409 || e.status === 412) this.load().catch((err) => this.fail(this.status, err));
      }
    };
    const panel = this.openPanel(row, opener,
      el("div", { class: "confirm", id: "delete-confirmation", role: "alertdialog", "aria-label": "Confirm the deletion" },
        el("p", {}, `Delete ${quoted(doc.title)}? The coach stops drawing on it at once; this cannot be undone.`),
        result,
        el("div", { class: "actions" },
          el("button", { type: "button", class: "secondary", id: "delete-cancel", onclick: () => panel.close() }, "Keep it"),
          el("button", { type: "button", class: "danger", id: "delete-confirm", onclick: confirm }, "Delete for good"))));
    panel.querySelector("#delete-cancel").focus();
  }

  uploadForm() {
    const result = el("div", { id: "upload-result", "aria-live": "polite" });
    const form = el("form", { id: "upload-form" },
      el("h3", { text: "Upload a document" }),
      el("div", { class: "field" }, el("label", { for: "doc-file", text: "File (PDF, Word, PowerPoint, Excel, ODT, HTML, Markdown or text; up to 10 MiB)" }),
        el("input", { id: "doc-file", type: "file", accept: ACCEPT, required: true })),
      el("div", { class: "field" }, el("label", { for: "doc-category", text: "Category" }),
        el("input", { id: "doc-category", type: "text", list: "categories", required: true, value: "career_framework" }),
        el("datalist", { id: "categories" }, CATEGORIES.map((c) => el("option", { value: c })))),
      el("div", { class: "field" }, el("label", { for: "doc-title", text: "Title" }), el("input", { id: "doc-title", type: "text" })),
      result,
      el("button", { type: "submit", id: "upload-submit" }, "Upload"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = form.querySelector("#doc-file").files[0];
      const category = form.querySelector("#doc-category").value.trim();
      const title = form.querySelector("#doc-title").value.trim();
      if (!file) return result.replaceChildren(errorBox("Choose a file to upload."));
      const button = form.querySelector("#upload-submit");
      button.disabled = true;
      result.replaceChildren(el("p", { role: "status" }, `Uploading ${file.name}…`));
      try {
        result.replaceChildren(await this.upload(file, category, title, result));
        form.querySelector("#doc-file").value = "";
        await Promise.all([this.load().catch((e) => this.fail(this.status, e)), this.console.refresh()]);
      } catch (e) {
        this.fail(result, e);
        // A refused upload is in the audit log.
        if (e.code !== "signed_out") this.console.reloadAudit();
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  // Uploads the file; what came of it, as a message.
  async upload(file, category, title, result) {
    const tenant = encodeURIComponent(this.console.tenant.id);
    if (file.size > DIRECT_UPLOAD_BYTES) {
      try {
        const target = await this.console.call("POST", `/api/admin/rag/upload-url/${tenant}`, { body: { category, filename: file.name } });
        const put = await fetch(target.upload_url, { method: target.method || "PUT", body: file });
        if (!put.ok) throw new Error(`The object store refused the upload (${put.status}).`);
        return el("p", { class: "ok", role: "status", id: "upload-ok" },
          `${file.name} is uploaded; it is indexed in the background and shows in the table below (document ${target.document_id}).`);
      } catch (e) {
        // 501: this object store has no presigned uploads; send it through the API.
        if (!(e instanceof ApiError && e.status === 501)) throw e;
      }
    }
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("category", category);
    form.append("metadata", JSON.stringify(title ? { title } : {}));
    const report = await this.console.call("POST", `/api/admin/rag/upload/${tenant}`, {
      body: form,
      onProgress: progressIn(result, file.name),
    });
    if (report.already_indexed) {
      return el("p", { class: "notice warning", role: "status", id: "upload-duplicate" },
        `${file.name} is already in the library as ${quoted(report.title)} (${report.category}): nothing changed.`
        + (title && title !== report.title ? ` To rename it, replace it with a new title.` : ""));
    }
    const flagged = report.flagged_passages?.length || 0;
    return el("p", { class: "ok", role: "status", id: "upload-ok" },
      `${file.name} is indexed as ${quoted(report.title)}: ${plural(report.chunks_created, "chunk")}.`,
      flagged ? el("strong", { class: "flag" }, ` ⚠ ${plural(flagged, "passage")} flagged as addressed to the assistant: see the table.`) : null);
  }
}

function statusText(doc) {
  switch (doc.status) {
    case "indexed":
      return "Indexed";
    case "indexing":
      return "Indexing…";
    case "failed":
      return el("span", { title: doc.failure?.code || "" }, "Failed", doc.failure ? `: ${doc.failure.message}` : "");
    default:
      return doc.status;
  }
}

// The document's flagged passages, open: the admin sees what was withheld.
function flaggedRow(doc) {
  return el("tr", { class: "flagged-row", "data-flags-of": doc.id },
    el("td", { colspan: COLUMNS.length },
      el("details", { class: "flagged-passages", open: true },
        el("summary", {}, `Flagged in ${quoted(doc.title)}: withheld from the coach and the scorer`),
        el("ul", {}, doc.flagged_passages.map((f) =>
          el("li", { class: "passage" },
            el("blockquote", {}, f.excerpt),
            el("span", { class: "hint" }, (f.signals || []).map((s) => SIGNALS[s] || s).join(", "))))))));
}

// An upload's progress bar, in `box`.
function progressIn(box, name) {
  const bar = el("progress", { id: "upload-progress", max: "100", value: "0" });
  const label = el("span", {}, `Sending ${name}…`);
  box.replaceChildren(el("div", { class: "progress-wrap", role: "status" }, label, bar));
  return (sent, total) => {
    const percent = Math.round((sent / total) * 100);
    bar.value = percent;
    label.textContent = percent < 100 ? `Sending ${name}: ${percent}%` : `Reading and indexing ${name}…`;
  };
}
