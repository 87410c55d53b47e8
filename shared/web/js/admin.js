// The admin console: the key lives only in this tab (sessionStorage), then
// the document library (admin-documents.js), usage stats, settings, admin
// keys and the audit log with filters and paging.

import { ApiError } from "./api.js";
import { DocumentsPanel } from "./admin-documents.js";
import { KeysPanel, SettingsPanel } from "./admin-settings.js";
import { el, show, errorBox, score, download, whenText } from "./ui.js";

const KEY_STORAGE = "petraf.admin_key";
// What the audit log records (domain/audit.rs), for the action filter.
const AUDIT_ACTIONS = [
  "session.created", "session.info_updated", "session.resumed", "session.completed", "goal.scored",
  "goal.kept_below_threshold", "phase.restarted", "phase.reopened",
  "rag.document_uploaded", "rag.document_replaced", "rag.document_deleted", "rag.document_failed", "rag.upload_failed",
  "tenant.created", "tenant.status_changed", "tenant.settings_changed", "tenant.settings_previewed", "tenant.limits_changed", "tenant.config_changed",
  "tenant.admin_key_created", "tenant.admin_key_revoked",
  "tenant.token_budget_warning", "tenant.token_budget_exhausted",
  "session.erased", "session.retention_expired", "tenant.data_exported", "tenant.retention_changed",
];
const NO_FILTERS = { action: "", actor: "", from: "", to: "", session_id: "" };
// Session actors that are no employee code.
const NOT_EMPLOYEES = new Set(["anonymous", "system_admin", "platform_admin", "employee", "retention", "[erased]"]);

export class AdminConsole {
  constructor(api, tenant) {
    this.api = api;
    this.tenant = tenant;
    this.audit = { page: 1, limit: 20, ...NO_FILTERS };
  }

  get key() {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  start() {
    return this.key ? this.console() : this.signIn();
  }

  signIn(message) {
    const key = el("input", { id: "admin-key", type: "password", autocomplete: "off", required: true });
    const form = el("form", { id: "admin-login" },
      el("div", { class: "field" }, el("label", { for: "admin-key", text: "Admin key" }), key),
      el("p", { class: "hint", text: "Kept only in this browser tab, and forgotten when you close it." }),
      message && errorBox(message),
      el("button", { type: "submit" }, "Open the console"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!key.value.trim()) return key.focus();
      sessionStorage.setItem(KEY_STORAGE, key.value.trim());
      this.console();
    });
    show(el("section", { class: "card", id: "admin-signin" }, el("h1", { text: `${this.tenant.name} admin` }), form));
  }

  // Switches this tab to another key (a rotation).
  useKey(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  }

  signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
    this.signIn();
  }

  // A 401 or a 403 about the key sends the admin back to the key form; a
  // setting only the platform may change is an answer to show.
  async call(method, path, options) {
    try {
      return await this.api.admin(method, path, this.key, options);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || (e.status === 403 && e.code !== "platform_admin_only"))) {
        sessionStorage.removeItem(KEY_STORAGE);
        this.signIn(e.message);
        throw new ApiError(e.status, "signed_out", "");
      }
      throw e;
    }
  }

  async console() {
    this.statsBox = el("div", { id: "stats", "aria-live": "polite" });
    this.auditBox = el("div", { id: "audit" });
    this.settings = new SettingsPanel(this);
    this.keys = new KeysPanel(this);
    this.documents = new DocumentsPanel(this);
    show(
      el("section", { class: "card", id: "admin" },
        el("div", { class: "row" },
          el("h1", { text: `${this.tenant.name} admin` }),
          el("button", { type: "button", class: "secondary", id: "sign-out", onclick: () => this.signOut() }, "Forget key"),
        ),
        this.documents.view(),
        el("h2", { text: "Usage" }),
        this.statsBox,
        this.settings.view(),
        this.keys.view(),
        this.privacySection(),
        this.stuckSessionsPanel(),
        el("h2", { text: "Audit log" }),
        this.auditFilters(),
        this.auditBox,
      ),
    );
    await this.refresh();
    for (const panel of [this.documents, this.settings, this.keys]) {
      panel.load().catch((e) => e.code !== "signed_out" && panel.box.replaceChildren(errorBox(e.message)));
    }
  }

  // Employees' data: erase a session (by id or employee code), export the
  // tenant's data, and the retention period.
  privacySection() {
    const status = el("div", { id: "privacy-status", "aria-live": "polite" });
    const target = el("input", { id: "erase-target", type: "text", autocomplete: "off", required: true, placeholder: "EMP12345 or a session id" });
    const kind = el("select", { id: "erase-kind" },
      el("option", { value: "employee_code" }, "Employee code"),
      el("option", { value: "session_id" }, "Session id"),
    );
    const erase = el("form", { id: "erase-form" },
      el("div", { class: "row" },
        el("div", { class: "field" }, el("label", { for: "erase-kind", text: "Erase by" }), kind),
        el("div", { class: "field" }, el("label", { for: "erase-target", text: "Value" }), target),
      ),
      el("button", { type: "submit", class: "danger" }, "Erase for good"),
    );
    erase.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!target.value.trim()) return target.focus();
      this.eraseSessions({ [kind.value]: target.value.trim() }, status);
    });
    this.retentionInput = el("input", { id: "retention-days", type: "number", min: "30", max: "3650", inputmode: "numeric" });
    const retention = el("form", { id: "retention-form" },
      el("div", { class: "field" }, el("label", { for: "retention-days", text: "Keep sessions this many days after the last activity (30–3650)" }), this.retentionInput),
      el("button", { type: "submit", class: "secondary" }, "Save retention"),
    );
    retention.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveRetention(status);
    });
    this.loadRetention(status);
    return el("section", { id: "privacy" },
      el("h2", { text: "Employees' data" }),
      erase,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", id: "export-tenant", onclick: (event) => this.exportTenant(event.target, status) }, "Export all data (NDJSON)"),
      ),
      retention,
      status,
    );
  }

  async eraseSessions(body, status) {
    try {
      const report = await this.call("POST", `/api/admin/tenants/${encodeURIComponent(this.tenant.id)}/erasures`, { body });
      const count = report.erased_sessions.length;
      status.replaceChildren(el("p", { class: "notice", role: "status", text: count
        ? `Erased ${count} session${count === 1 ? "" : "s"}: ${report.erased.messages} messages, ${report.erased.goals} goals.`
        : "No session matched." }));
      await this.refresh();
    } catch (e) {
      if (e.code !== "signed_out") status.replaceChildren(errorBox(e.message));
    }
  }

  async exportTenant(button, status) {
    button.disabled = true;
    try {
      const response = await this.call("GET", `/api/admin/tenants/${encodeURIComponent(this.tenant.id)}/export`, { raw: true });
      download(await response.blob(), `petraf-${this.tenant.id}.ndjson`);
    } catch (e) {
      if (e.code !== "signed_out") status.replaceChildren(errorBox(e.message));
    } finally {
      button.disabled = false;
    }
  }

  async loadRetention(status) {
    try {
      const setting = await this.call("GET", `/api/admin/tenants/${encodeURIComponent(this.tenant.id)}/retention`);
      this.retentionInput.value = setting.retention_days;
    } catch (e) {
      if (e.code !== "signed_out") status.replaceChildren(errorBox(e.message));
    }
  }

  async saveRetention(status) {
    try {
      const body = { retention_days: Number(this.retentionInput.value) };
      const setting = await this.call("PUT", `/api/admin/tenants/${encodeURIComponent(this.tenant.id)}/retention`, { body });
      status.replaceChildren(el("p", { class: "notice", role: "status", text: `Sessions are now kept ${setting.retention_days} days after their last activity.` }));
    } catch (e) {
      if (e.code !== "signed_out") status.replaceChildren(errorBox(e.message));
    }
  }

  async refresh() {
    try {
      await Promise.all([this.loadStats(), this.loadAudit()]);
    } catch (e) {
      if (e.code !== "signed_out") this.statsBox.replaceChildren(errorBox(e.message));
    }
  }

  async loadStats() {
    // The month's model tokens against the budget, e.g. "12,400 (0.25% of budget)".
    const tokensLine = (s) => {
      const used = (s.tokens_this_month || 0).toLocaleString();
      const b = s.token_budget;
      if (!b) return used;
      return `${used} (${b.used_percent}% of budget${b.state === "ok" ? "" : `, ${b.state}`})`;
    };
    const s = await this.call("GET", `/api/admin/stats/overview?tenant_id=${encodeURIComponent(this.tenant.id)}`);
    const item = (label, value) => el("div", { class: "stat" }, el("dt", {}, label), el("dd", {}, String(value)));
    this.statsBox.replaceChildren(
      el("dl", { class: "stats" },
        item("Sessions", s.total_sessions),
        item("Active", s.active_sessions),
        item("Completed", s.completed_sessions),
        item("Messages today", s.total_messages_today),
        item("Goals", s.total_goals_created),
        item("Kept below passing score", s.goals_kept_below_threshold ?? 0),
        item("Average score", score(s.avg_score)),
        item("Completion rate", `${Math.round(s.avg_completion_rate)}%`),
        item("Tokens this month", tokensLine(s)),
        item("Refused this month", Object.values(s.refusals_this_month || {}).reduce((a, b) => a + b, 0)),
      ),
    );
  }

  auditFilters() {
    const f = this.audit;
    const input = (id, label, attrs) => {
      const field = el("input", { id, name: id, ...attrs });
      return [field, el("div", { class: "field" }, el("label", { for: id, text: label }), field)];
    };
    const action = el("select", { id: "audit-action" },
      el("option", { value: "" }, "Any action"),
      AUDIT_ACTIONS.map((a) => el("option", { value: a, selected: a === f.action }, a)));
    const [actor, actorField] = input("audit-actor", "Actor", { type: "text", value: f.actor, placeholder: "employee code or admin" });
    const [from, fromField] = input("audit-from", "From", { type: "date", value: f.from });
    const [to, toField] = input("audit-to", "To (inclusive)", { type: "date", value: f.to });
    const [session, sessionField] = input("audit-session", "Session id", { type: "text", value: f.session_id, placeholder: "any session" });
    const limit = el("select", { id: "audit-limit" }, [10, 20, 50, 100].map((n) => el("option", { value: String(n), selected: n === f.limit }, String(n))));
    const form = el("form", { id: "audit-filters", class: "filters" },
      el("div", { class: "field" }, el("label", { for: "audit-action", text: "Action" }), action),
      actorField, fromField, toField, sessionField,
      el("div", { class: "field" }, el("label", { for: "audit-limit", text: "Per page" }), limit),
      el("button", { type: "submit", id: "audit-apply" }, "Filter"),
      el("button", { type: "button", class: "secondary", id: "audit-clear", onclick: () => {
        this.audit = { page: 1, limit: this.audit.limit, ...NO_FILTERS };
        form.replaceWith(this.auditFilters());
        this.reloadAudit();
      } }, "Clear"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.audit = {
        page: 1,
        limit: Number(limit.value),
        action: action.value,
        actor: actor.value.trim(),
        from: from.value,
        to: to.value,
        session_id: session.value.trim(),
      };
      this.reloadAudit();
    });
    return form;
  }

  // --- Stuck sessions: find an employee's sessions by code, reopen a step ---

  stuckSessionsPanel() {
    const code = el("input", { id: "stuck-code", type: "text", autocomplete: "off", placeholder: "EMP12345" });
    const results = el("div", { id: "stuck-results", "aria-live": "polite" });
    const form = el("form", { id: "stuck-form", class: "filters" },
      el("div", { class: "field" }, el("label", { for: "stuck-code", text: "Employee code" }), code),
      el("button", { type: "submit", id: "stuck-find" }, "Find sessions"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!code.value.trim()) return code.focus();
      this.findSessions(code.value.trim(), results)
        .catch((e) => e.code !== "signed_out" && results.replaceChildren(errorBox(e.message)));
    });
    return el("div", { id: "stuck-sessions" },
      el("h2", { text: "Stuck sessions" }),
      el("p", { class: "hint", text: "Find an employee's sessions by their code, and give the step they are in fresh tries." }),
      form,
      results,
    );
  }

  // The employee's sessions, from the audit entries they made (newest first).
  async findSessions(code, results) {
    const q = new URLSearchParams({ tenant_id: this.tenant.id, actor: code, limit: "200" });
    const listing = await this.call("GET", `/api/admin/audit-logs?${q}`);
    const sessions = new Map();
    for (const log of listing.logs) {
      if (!log.session_id) continue;
      if (!sessions.has(log.session_id)) sessions.set(log.session_id, []);
      sessions.get(log.session_id).push(log);
    }
    if (!sessions.size) {
      return results.replaceChildren(el("p", { class: "hint", id: "stuck-none" }, `No session found for ${code}.`));
    }
    results.replaceChildren(el("ul", { class: "stuck-list" },
      [...sessions].map(([id, logs]) => this.stuckSessionItem(id, logs))));
  }

  stuckSessionItem(sessionId, logs) {
    const phase = currentPhaseOf(logs);
    const status = el("span", { class: "stuck-status", role: "status" });
    const reopen = async (event) => {
      const button = event.target;
      button.disabled = true;
      const path = `/api/admin/sessions/${encodeURIComponent(sessionId)}/phases/${phase}/reopen?tenant_id=${encodeURIComponent(this.tenant.id)}`;
      try {
        const view = await this.call("POST", path);
        status.replaceChildren(el("span", { class: "ok" }, `Reopened: ${view.turns_left} tries in “${STEP_NAMES[phase]}”.`));
        this.reloadAudit();
      } catch (e) {
        if (e.code !== "signed_out") status.replaceChildren(errorBox(e.message));
      } finally {
        button.disabled = false;
      }
    };
    return el("li", { class: "stuck-session", "data-session": sessionId },
      el("code", {}, `…${sessionId.slice(-6)}`), " ",
      phase ? `in “${STEP_NAMES[phase]}” ` : "completed ",
      phase && el("button", { type: "button", class: "secondary reopen-phase", onclick: reopen }, "Reopen this step"),
      status,
    );
  }

  reloadAudit() {
    this.loadAudit().catch((e) => e.code !== "signed_out" && this.auditBox.replaceChildren(errorBox(e.message)));
  }

  // Only this session's entries, from a session named in the table.
  filterBySession(sessionId) {
    this.audit = { ...this.audit, page: 1, session_id: sessionId };
    document.getElementById("audit-filters").replaceWith(this.auditFilters());
    this.reloadAudit();
  }

  async loadAudit() {
    const q = new URLSearchParams({ tenant_id: this.tenant.id, page: this.audit.page, limit: this.audit.limit });
    for (const name of Object.keys(NO_FILTERS)) {
      if (this.audit[name]) q.set(name, this.audit[name]);
    }
    const tenant = encodeURIComponent(this.tenant.id);
    const [listing, library] = await Promise.all([
      this.call("GET", `/api/admin/audit-logs?${q}`),
      this.call("GET", `/api/admin/rag/documents/${tenant}`).catch((e) => {
        if (e.code === "signed_out") throw e;
        return { documents: [] };
      }),
    ]);
    const titles = new Map(library.documents.map((d) => [d.id, d.title]));
    // A session is named by the employee code its entries carry, as stored.
    const codes = new Map();
    for (const log of listing.logs) {
      if (log.session_id && !NOT_EMPLOYEES.has(log.actor) && !codes.has(log.session_id)) codes.set(log.session_id, log.actor);
    }
    const pages = Math.max(1, Math.ceil(listing.total / listing.per_page));
    const go = (page) => () => {
      this.audit.page = page;
      this.reloadAudit();
    };
    const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
    this.auditBox.replaceChildren(
      el("div", { class: "table-scroll" },
        el("table", { class: "audit", id: "audit-table" },
          el("caption", { text: `${listing.total} entries, newest first` }),
          el("thead", {}, el("tr", {}, ["When", "Action", "Actor", "Subject", "Session", "Status"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, listing.logs.map((log) =>
            el("tr", { "data-action": log.action },
              cell("When", el("time", { datetime: log.created_at }, whenText(log.created_at))),
              el("td", { class: "action", "data-label": "Action" }, log.action),
              cell("Actor", log.actor_key ? `${log.actor} (key ${log.actor_key})` : log.actor),
              el("td", { class: "subject", "data-label": "Subject" }, subjectOf(log, titles)),
              cell("Session", log.session_id
                ? el("button", { type: "button", class: "link session-name", title: `Only session ${log.session_id}`,
                  onclick: () => this.filterBySession(log.session_id) }, sessionName(log.session_id, codes))
                : "—"),
              cell("Status", log.status === "failure" && log.payload?.reason ? `failure: ${log.payload.reason}` : log.status),
            ))),
        ),
      ),
      el("nav", { class: "pager", "aria-label": "Audit pages" },
        el("button", { type: "button", id: "audit-prev", disabled: listing.page <= 1, onclick: go(listing.page - 1) }, "← Previous"),
        el("span", { id: "audit-page" }, `Page ${listing.page} of ${pages}`),
        el("button", { type: "button", id: "audit-next", disabled: listing.page >= pages, onclick: go(listing.page + 1) }, "Next →"),
      ),
    );
  }
}

// What an entry is about, by name: a document's title, a refused upload's
// file, a goal's phase; ids only when nothing better is known.
function subjectOf(log, titles) {
  const p = log.payload || {};
  switch (log.resource_type) {
    case "rag_corpus":
      return `Document “${p.title || titles.get(log.resource_id) || log.resource_id}”`;
    case "rag_upload":
      return p.filename ? `Upload of ${p.filename}` : "Upload (no file read)";
    case "goal":
      return p.phase ? `Goal (${p.phase}${p.score !== undefined ? `, score ${p.score}` : ""})` : "Goal";
    case "session":
      return "Session";
    case "tenant":
      return "Tenant";
    default:
      return `${log.resource_type} ${log.resource_id}`;
  }
}

const STEP_NAMES = { g4_future: "Your future", g6_values: "Your values", g8_actions: "Your action plan" };

// The step a session is in, from its audit entries: the first whose goal is
// not final yet; null once the session is completed. The server checks it.
function currentPhaseOf(logs) {
  if (logs.some((l) => l.action === "session.completed")) return null;
  const done = new Set(logs
    .filter((l) => l.action === "goal.kept_below_threshold" || (l.action === "goal.scored" && l.payload?.meets_threshold))
    .map((l) => l.payload?.phase));
  return Object.keys(STEP_NAMES).find((p) => !done.has(p)) || null;
}

function sessionName(sessionId, codes) {
  const short = sessionId.slice(-6);
  return codes.has(sessionId) ? `${codes.get(sessionId)} · …${short}` : `Session …${short}`;
}
