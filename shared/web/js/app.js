// Entry point: read /config.json, find the tenant, then show the employee's
// coach or (at #/admin) the admin console.

import { Api } from "./api.js";
import { Employee } from "./employee.js";
import { AdminConsole } from "./admin.js";
import { el, show, errorBox } from "./ui.js";

async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-cache" });
    if (response.ok) return await response.json();
  } catch (_) {}
  return { api_base: "", chat_base: "", default_tenant: null };
}

function applyBranding(tenant) {
  document.title = `${tenant.name} · Goal setting`;
  document.getElementById("brand-name").textContent = tenant.name;
}

async function main() {
  const config = await loadConfig();
  const params = new URLSearchParams(location.search);
  // ?tenant= picks a tenant; without it the API resolves the Host's domain,
  // else the configured default.
  const tenantId = params.get("tenant") || config.default_tenant || null;
  const api = new Api(config, tenantId);
  let tenant;
  try {
    tenant = await api.tenant();
  } catch (e) {
    show(el("section", { class: "card" }, el("h1", { text: "This page is not set up" }), errorBox(e.message)));
    return;
  }
  applyBranding(tenant);
  const resumeToken = params.get("resume");
  if (resumeToken) {
    // Keep the token out of the address bar and history once read.
    params.delete("resume");
    history.replaceState(null, "", `${location.pathname}${params.size ? "?" + params : ""}${location.hash}`);
  }
  const employee = new Employee(api, tenant);
  const admin = new AdminConsole(api, tenant);
  const route = () => {
    const isAdmin = location.hash === "#/admin";
    document.getElementById("nav-coach").toggleAttribute("aria-current", !isAdmin);
    document.getElementById("nav-admin").toggleAttribute("aria-current", isAdmin);
    return isAdmin ? admin.start() : employee.start(resumeToken);
  };
  window.addEventListener("hashchange", () => {
    if (location.hash === "#/admin" || location.hash === "#/") route();
  });
  await route();
}

main().catch((e) => show(el("section", { class: "card" }, el("h1", { text: "Something went wrong" }), errorBox(e.message))));
