// The public API, as the page uses it: JSON calls with clear errors, the chat
// turn as server-sent events read from a fetch stream (EventSource cannot
// POST), and downloads that carry the resume token.

export class ApiError extends Error {
  // `nextSteps`: the ways forward the refusal names ({action, method, href}),
  // e.g. keep_best and start_over when a phase's attempts ran out.
  constructor(status, code, message, nextSteps = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.nextSteps = nextSteps;
  }
}

async function failure(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "The request failed";
  let nextSteps = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      nextSteps = Array.isArray(body.error.next_steps) ? body.error.next_steps : null;
    }
  } catch (_) {
    // Not JSON: keep the status text.
  }
  return new ApiError(response.status, code, message, nextSteps);
}

// Splits an SSE byte stream into {event, data} records as they arrive.
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    buffer = buffer.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const record = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of record.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) {
        let parsed;
        try {
          parsed = JSON.parse(data.join("\n"));
        } catch (_) {
          parsed = { raw: data.join("\n") };
        }
        yield { event, data: parsed };
      }
    }
    if (done) return;
  }
}

// A request through XMLHttpRequest, whose upload reports progress (fetch's
// does not); answers a fetch Response.
function sendWithProgress(url, init, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(init.method, url);
    xhr.withCredentials = init.credentials === "include";
    for (const [name, value] of Object.entries(init.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener("load", () => {
      const empty = xhr.status === 204 || xhr.status === 304;
      resolve(new Response(empty ? null : xhr.responseText, {
        status: xhr.status,
        statusText: xhr.statusText,
        headers: { "Content-Type": xhr.getResponseHeader("Content-Type") || "" },
      }));
    });
    xhr.addEventListener("error", () => reject(new TypeError("Failed to fetch")));
    xhr.addEventListener("abort", () => reject(new TypeError("The upload was stopped")));
    xhr.send(init.body ?? null);
  });
}

export class Api {
  constructor(config, tenantId) {
    this.base = config.api_base || "";
    this.chatBase = config.chat_base || this.base;
    this.tenantId = tenantId;
  }

  headers(extra = {}, token) {
    const h = { ...extra };
    if (this.tenantId) h["X-Tenant-ID"] = this.tenantId;
    if (token) h["Authorization"] = "Bearer " + token;
    return h;
  }

  // `onProgress(sent, total)`: the request body's upload progress (a form).
  async call(method, path, { body, token, headers = {}, raw = false, onProgress } = {}) {
    const init = { method, headers: this.headers(headers, token), credentials: "include" };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = onProgress
      ? await sendWithProgress(this.base + path, init, onProgress)
      : await fetch(this.base + path, init);
    if (!response.ok) throw await failure(response);
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }

  tenant() {
    return this.call("GET", "/api/tenant");
  }

  createSession() {
    return this.call("POST", "/api/session/create", {
      body: { metadata: { source: "web", device: matchMedia("(max-width: 600px)").matches ? "mobile" : "desktop" } },
    });
  }

  resume(token) {
    return this.call("POST", "/api/session/resume", { body: { resume_token: token } });
  }

  saveProfile(sessionId, token, profile) {
    return this.call("PUT", `/api/session/${encodeURIComponent(sessionId)}/info`, { token, body: profile });
  }

  complete(sessionId, token) {
    return this.call("POST", `/api/session/${encodeURIComponent(sessionId)}/complete`, { token });
  }

  // One page of the session's conversation, oldest first.
  messages(sessionId, token, cursor) {
    const query = new URLSearchParams({ limit: "200" });
    if (cursor) query.set("cursor", cursor);
    return this.call("GET", `/api/session/${encodeURIComponent(sessionId)}/messages?${query}`, { token });
  }

  // The whole conversation, page after page.
  async transcript(sessionId, token) {
    const all = [];
    let cursor = null;
    do {
      const page = await this.messages(sessionId, token, cursor);
      all.push(...page.messages);
      cursor = page.next_cursor;
    } while (cursor);
    return all;
  }

  // The current phase's standing: {turns_left, next_steps?} (the
  // transcript's first page carries it).
  async phaseStanding(sessionId, token) {
    const page = await this.call("GET", `/api/session/${encodeURIComponent(sessionId)}/messages?limit=1`, { token });
    return { turns_left: page.turns_left, draft_editable: page.draft_editable, next_steps: page.next_steps || null };
  }

  // The ways forward of a phase whose attempts ran out.
  keepBest(sessionId, token, phase) {
    return this.call("POST", `/api/session/${encodeURIComponent(sessionId)}/phases/${encodeURIComponent(phase)}/keep-best`, { token });
  }

  startOver(sessionId, token, phase) {
    return this.call("POST", `/api/session/${encodeURIComponent(sessionId)}/phases/${encodeURIComponent(phase)}/start-over`, { token });
  }

  goals(sessionId, token, finalOnly) {
    return this.call("GET", `/api/goals/session/${encodeURIComponent(sessionId)}?final_only=${finalOnly}`, { token });
  }

  async exportGoals(sessionId, token, format) {
    const response = await this.call(
      "GET",
      `/api/goals/session/${encodeURIComponent(sessionId)}/export?format=${format}`,
      { token, raw: true },
    );
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = /filename="([^"]+)"/.exec(disposition);
    return { blob: await response.blob(), filename: name ? name[1] : `goals.${format}` };
  }

  // Everything stored about the session, as a JSON file.
  async exportMyData(sessionId, token) {
    const response = await this.call("GET", `/api/session/${encodeURIComponent(sessionId)}/export`, { token, raw: true });
    return { blob: await response.blob(), filename: `petraf-session-${sessionId}.json` };
  }

  // Erases the session and everything derived from it, for good.
  eraseMyData(sessionId, token) {
    return this.call("DELETE", `/api/session/${encodeURIComponent(sessionId)}`, { token });
  }

  // Drops the HttpOnly resume cookie, which the page's script cannot reach.
  leaveThisBrowser() {
    return this.call("DELETE", "/api/session/cookie");
  }

  // One chat turn; yields the SSE events as they arrive.
  async *chat(phase, token, body, signal) {
    const response = await fetch(`${this.chatBase}/api/chat/${encodeURIComponent(phase)}/stream`, {
      method: "POST",
      headers: this.headers({ "Content-Type": "application/json", Accept: "text/event-stream" }, token),
      body: JSON.stringify(body),
      credentials: "include",
      signal,
    });
    if (!response.ok) throw await failure(response);
    yield* readEvents(response.body);
  }

  admin(method, path, key, options = {}) {
    return this.call(method, path, { ...options, headers: { ...(options.headers || {}), "X-Admin-Key": key } });
  }
}
