// The employee's journey: welcome and profile, the three conversations with
// the coach, the goal's score and its edit, the dashboard, resume.

import { ApiError } from "./api.js";
import { el, show, errorBox, download, score } from "./ui.js";

const PHASES = [
  { id: "g4_future", title: "Your future", ask: "Where do you see yourself in two years? Think about the role you want, the skills you want to build and the impact you want to make." },
  { id: "g6_values", title: "Your values", ask: "Which 3 to 5 values matter most to you at work, and what does each mean in practice?" },
  { id: "g8_actions", title: "Your action plan", ask: "What will you do in the next six months? List concrete steps with numbers and deadlines." },
];
const PHASE_LABELS = {
  g4_future: "Where I will be in two years",
  g6_values: "My core values",
  g8_actions: "My six-month action plan",
};
const LINK_LABELS = { contributes_to: "Contributes to", aligns_with: "Aligns with" };
// What the server accepts (MAX_USER_MESSAGE_CHARS in domain/message.rs,
// MAX_GOAL_CHARS in domain/goal.rs; a test in http/web.rs keeps them equal).
const MAX_MESSAGE_CHARS = 4000;
const MAX_GOAL_CHARS = 300;

// Characters as the server counts them (code points, not UTF-16 units).
function characters(text) {
  return [...text].length;
}

// Copies the link in `input`; false when the browser allows neither way.
async function copyText(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch (_) {
    input.select();
    try {
      return document.execCommand("copy");
    } catch (_) {
      return false;
    }
  }
}

export class Employee {
  constructor(api, tenant) {
    this.api = api;
    this.tenant = tenant;
    this.storageKey = `petraf.session.${tenant.id}`;
    this.session = null; // {id, token}
  }

  remember(id, token) {
    this.session = { id, token };
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(this.session));
    } catch (_) {
      // Storage may be disabled: the resume link still works.
    }
  }

  forget() {
    this.session = null;
    try {
      localStorage.removeItem(this.storageKey);
    } catch (_) {}
  }

  resumeLink() {
    const url = new URL(location.href);
    url.hash = "";
    url.search = "";
    url.searchParams.set("tenant", this.tenant.id);
    url.searchParams.set("resume", this.session.token);
    return url.toString();
  }

  // The session saved in this browser: {id, token}, or null.
  saved() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || "null");
      return saved && saved.token ? saved : null;
    } catch (_) {
      return null;
    }
  }

  // A token from the link (`?resume=`) wins over the one stored in this
  // browser; a link that fails leaves the stored session alone.
  async start(linkToken) {
    const saved = this.saved();
    if (linkToken && linkToken !== saved?.token) {
      try {
        return await this.resumeWith(linkToken);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status >= 500) throw e;
        if (e.code === "token_expired") return this.expired(saved);
        return this.welcome("That link is not valid any more.", saved);
      }
    }
    const token = linkToken || saved?.token;
    if (!token) return this.welcome();
    try {
      return await this.resumeWith(token);
    } catch (e) {
      // The stored token itself failed: it can never work again.
      if (e instanceof ApiError && e.status < 500) this.forget();
      if (e instanceof ApiError && e.code === "token_expired") return this.expired();
      if (e instanceof ApiError && e.status < 500) return this.welcome("That link is not valid any more.");
      throw e;
    }
  }

  async resumeWith(token) {
    const view = await this.api.resume(token);
    this.remember(view.id, token);
    return this.route(view);
  }

  // Offers the session saved in this browser after a link failed.
  continueSaved(saved) {
    if (!saved) return null;
    return el("button", {
      type: "button", id: "continue-saved",
      onclick: () => this.start(null).catch((e) => show(el("section", { class: "card" }, el("h1", { text: "Something went wrong" }), errorBox(e.message)))),
    }, "Continue the session saved in this browser");
  }

  route(view) {
    if (view.status === "completed" || view.current_phase === "completed") return this.dashboard();
    if (view.current_phase === "g2_basic") return this.welcome();
    return this.conversation(view.current_phase, view.completion_percentage);
  }

  expired(saved) {
    show(
      el("section", { class: "card", id: "expired" },
        el("h1", { text: "Your session link has expired" }),
        el("p", { text: "For your privacy, saved sessions are kept for a limited time. Your earlier answers can no longer be opened from this link." }),
        saved && el("p", { text: "The session saved in this browser is kept." }),
        el("div", { class: "actions" },
          this.continueSaved(saved),
          el("button", { type: "button", id: "start-over", onclick: () => this.welcome() }, "Start a new session"),
        ),
      ),
    );
  }

  // `notice` says why this screen shows (a link that failed); `saved`, the
  // session this browser keeps, is offered beside a new one.
  welcome(notice, saved) {
    const flags = this.tenant.ui_flags;
    const field = (id, label, attrs = {}) =>
      el("div", { class: "field" },
        el("label", { for: id, text: label }),
        el("input", { id, name: id, type: "text", autocomplete: "off", ...attrs }),
      );
    const errors = el("div", { id: "profile-errors" });
    const form = el("form", { id: "profile-form", novalidate: true },
      field("employee_code", "Employee code", { required: true, placeholder: "EMP12345" }),
      field("department", "Department", { required: true }),
      field("position", "Position", { required: true }),
      flags.show_grade && field("grade", "Grade"),
      flags.show_years_of_service && field("years_of_service", "Years of service", { type: "number", min: "0", max: "60", inputmode: "numeric" }),
      flags.show_age_field && field("age_range", "Age range", { placeholder: "28-32" }),
      el("div", { class: "field" },
        el("label", { for: "job_type", text: "Job type" }),
        el("select", { id: "job_type", name: "job_type" },
          el("option", { value: "" }, "Choose…"),
          el("option", { value: "full_time" }, "Full-time"),
          el("option", { value: "part_time" }, "Part-time"),
          el("option", { value: "contract" }, "Contract"),
          el("option", { value: "intern" }, "Intern"),
        ),
      ),
      errors,
      el("button", { type: "submit", id: "profile-submit" }, "Continue →"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveProfile(form, errors);
    });
    show(
      el("section", { class: "card", id: "welcome" },
        el("h1", { text: "Welcome to Goal Setting!" }),
        notice && el("p", { class: "notice warning", role: "alert" },
          notice, saved ? " The session saved in this browser is kept." : " Start a new session below."),
        this.continueSaved(saved),
        el("p", { text: `${this.tenant.name}'s coach will help you set three goals: your future, your values and your next six months. It takes about fifteen minutes, and you can come back later.` }),
        form,
      ),
    );
  }

  async saveProfile(form, errors) {
    const value = (id) => form.querySelector("#" + id)?.value.trim();
    const profile = {
      employee_code: value("employee_code") || "",
      department: value("department") || "",
      position: value("position") || "",
    };
    if (value("grade")) profile.grade = value("grade");
    if (value("years_of_service")) profile.years_of_service = Number(value("years_of_service"));
    if (value("age_range")) profile.age_range = value("age_range");
    if (value("job_type")) profile.job_type = value("job_type");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    errors.replaceChildren();
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    try {
      if (!this.session) {
        const created = await this.api.createSession();
        this.remember(created.session_id, created.resume_token);
      }
      const view = await this.api.saveProfile(this.session.id, this.session.token, profile);
      this.route(view);
    } catch (e) {
      // The API names the field first ("employee_code: …"): mark it.
      const field = /^(\w+):/.exec(e.message || "");
      const input = field && form.querySelector("#" + field[1]);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", "profile-error");
      }
      const box = errorBox(e.message);
      box.id = "profile-error";
      errors.replaceChildren(box);
      (input || box).focus?.();
    } finally {
      button.disabled = false;
    }
  }

  progress(percent) {
    return el("div", { class: "progress-wrap" },
      el("label", { for: "progress", text: `Progress: ${percent}%` , id: "progress-label"}),
      el("progress", { id: "progress", max: "100", value: String(percent) }, `${percent}%`),
    );
  }

  setProgress(percent) {
    const bar = document.getElementById("progress");
    if (bar) {
      bar.value = percent;
      document.getElementById("progress-label").textContent = `Progress: ${percent}%`;
    }
  }

  async conversation(phaseId, percent) {
    const phase = PHASES.find((p) => p.id === phaseId) || PHASES[0];
    const index = PHASES.indexOf(phase);
    this.phase = phase.id;
    const earlier = await this.earlierTurns(phase.id);
    const goalsSoFar = index > 0 ? await this.goalsSoFar(phase.id) : null;
    const transcript = el("ol", { id: "transcript", class: "transcript", "aria-live": "polite", "aria-label": "Conversation" },
      el("li", { class: "bubble coach" }, phase.ask),
      earlier,
    );
    const goalPanel = el("div", { id: "goal-panel" });
    const message = el("textarea", { id: "message", name: "message", rows: "4", required: true, "aria-describedby": "message-hint message-count" });
    const send = el("button", { type: "submit", id: "send" }, "Send");
    const count = this.characterCounter(message, MAX_MESSAGE_CHARS, "message-count");
    const composer = el("form", { id: "composer", class: "composer" },
      el("label", { for: "message", text: "Your answer" }),
      message,
      el("div", { class: "actions" }, this.enterHint("message-hint"), count, send),
    );
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = message.value.trim();
      if (!text || characters(text) > MAX_MESSAGE_CHARS) return message.focus();
      message.value = "";
      count.update();
      this.turn({ message: text, step: "collect" }, { transcript, goalPanel, composer });
    });
    this.sendOnEnter(message, composer);
    show(
      el("section", { class: "card", id: "conversation", "data-phase": phase.id },
        el("p", { class: "eyebrow", text: `Step ${index + 1} of 3` }),
        el("h1", { text: phase.title }),
        this.progress(percent),
        goalsSoFar,
        transcript,
        goalPanel,
        composer,
        this.resumeLinkPanel(),
      ),
    );
    await this.showLastAttempt(phase.id, { transcript, goalPanel, composer });
    await this.loadStanding({ transcript, goalPanel, composer });
  }

  // The final goals of the steps before this one, folded away: the
  // employee can reread them while writing the next.
  async goalsSoFar(phaseId) {
    let data;
    try {
      data = await this.api.goals(this.session.id, this.session.token, true);
    } catch (_) {
      return null;
    }
    const before = PHASES.slice(0, PHASES.findIndex((p) => p.id === phaseId)).map((p) => p.id);
    const goals = data.goals.filter((g) => before.includes(g.phase));
    if (!goals.length) return null;
    return el("details", { id: "goals-so-far", class: "goals-so-far" },
      el("summary", { text: `Your goals so far (${goals.length})` }),
      el("ul", {}, ...goals.map((g) => el("li", { "data-phase": g.phase },
        el("strong", { text: `${PHASE_LABELS[g.phase] || g.phase}: ` }),
        g.content,
        g.below_threshold ? el("span", { class: "meta below-threshold", text: " (kept below the passing score)" }) : null,
      ))),
    );
  }

  // The turns this phase already had (the server keeps them), as bubbles:
  // a reload or a resume continues the conversation where it was.
  async earlierTurns(phaseId) {
    let messages;
    try {
      messages = await this.api.transcript(this.session.id, this.session.token);
    } catch (_) {
      return [];
    }
    return messages.filter((m) => m.phase === phaseId).map((m) => {
      if (m.role === "user") {
        return el("li", { class: "bubble me", "data-restored": "" }, m.step === "refine" ? `Edited goal: ${m.text}` : m.text);
      }
      if (!m.text && !m.goal) return null;
      return el("li", { class: "bubble coach", "data-step": m.step, "data-restored": "" },
        m.text,
        m.goal && el("span", { class: "turn-goal meta" },
          `Draft goal (score ${score(m.goal.score)} / 10): ${m.goal.refined_goal}`),
      );
    });
  }

  // On resume, show the latest goal of this phase that fell short, so it can be edited.
  async showLastAttempt(phaseId, parts) {
    try {
      const all = await this.api.goals(this.session.id, this.session.token, false);
      const attempts = all.goals.filter((g) => g.phase === phaseId);
      const last = attempts[attempts.length - 1];
      if (last && !last.is_final) this.showGoal(last.content, { ...last.score_details, goal_id: last.id }, parts);
    } catch (_) {
      // Nothing to show: the conversation starts fresh.
    }
  }

  async turn(request, parts) {
    const { transcript, goalPanel, composer } = parts;
    const mine = request.step === "collect" ? el("li", { class: "bubble me" }, request.message) : null;
    if (mine) transcript.append(mine);
    transcript.querySelectorAll(".bubble.error").forEach((n) => n.remove());
    let bubble = null;
    let bubbleStep = null;
    let refined = null;
    let nextPhase = null;
    let percent = null;
    let heard = false; // any event: the server took the message
    let completed = false;
    let standing = null; // the step's tries left and ways forward, from `complete`
    let failure = null;
    composer.setAttribute("aria-busy", "true");
    this.showTyping(transcript);
    composer.querySelectorAll("button, textarea").forEach((n) => (n.disabled = true));
    goalPanel.querySelectorAll("button, textarea").forEach((n) => (n.disabled = true));
    try {
      const events = this.api.chat(this.phase, this.session.token, { session_id: this.session.id, message: request.message, step: request.step });
      for await (const { event, data } of events) {
        heard = true;
        if (event === "message") {
          this.hideTyping(transcript);
          if (!bubble || bubbleStep !== data.step) {
            bubble = el("li", { class: "bubble coach", "data-step": data.step });
            bubbleStep = data.step;
            transcript.append(bubble);
          }
          bubble.textContent += data.content;
          bubble.scrollIntoView({ block: "nearest" });
          // Let the browser paint each piece as it arrives.
          await new Promise((resolve) => setTimeout(resolve, 0));
        } else if (event === "state") {
          percent = data.completion_percentage;
          this.setProgress(percent);
          if (data.phase !== this.phase) nextPhase = data.phase;
        } else if (event === "refined") {
          refined = data.goal;
        } else if (event === "score") {
          this.showGoal(refined, data, parts);
        } else if (event === "complete") {
          completed = true;
          standing = data;
        } else if (event === "error") {
          failure = `${data.message} Your message is saved.`;
        }
      }
      if (!completed && !failure) failure = "The answer was cut off.";
    } catch (e) {
      if (e instanceof ApiError && e.code === "token_expired") return this.expired();
      if (e instanceof ApiError && e.nextSteps) return this.attemptsRanOut(e, request, parts, mine);
      failure = e instanceof ApiError ? e.message : "Could not reach the server; check your connection.";
    } finally {
      this.hideTyping(transcript);
      composer.removeAttribute("aria-busy");
      composer.querySelectorAll("button, textarea").forEach((n) => (n.disabled = false));
      goalPanel.querySelectorAll("button, textarea").forEach((n) => (n.disabled = false));
    }
    if (failure && !nextPhase) return this.failedTurn(request, parts, failure, heard ? null : mine);
    if (nextPhase === "completed") {
      try {
        await this.api.complete(this.session.id, this.session.token);
      } catch (_) {
        // Already confirmed: the dashboard shows the goals either way.
      }
      return this.dashboard();
    }
    if (nextPhase) {
      const passed = el("p", { class: "passed", role: "status" }, "Goal saved. On to the next conversation…");
      goalPanel.append(passed);
      const next = el("button", { type: "button", id: "next-phase", onclick: () => this.conversation(nextPhase, percent) }, "Continue →");
      goalPanel.append(next);
      composer.hidden = true;
      next.focus();
    } else {
      this.showStanding(standing, parts);
      // After a short score, the edit box is the likely next step.
      (goalPanel.querySelector("#refine-goal") || composer.querySelector("textarea")).focus();
    }
  }

  // --- Every step can end: tries left, keep the best draft, start over ---

  // Shows the step's tries left and, once they ran out, the ways forward.
  // `standing`: {turns_left, draft_editable, next_steps?} from a turn's
  // `complete` event or the transcript.
  showStanding(standing, parts) {
    if (!standing) return;
    this.showTriesLeft(standing.turns_left, parts);
    if (standing.draft_editable === false) parts.goalPanel.querySelector("#refine-form")?.remove();
    if (standing.next_steps?.length) this.showWayForward(standing.next_steps, parts);
    else document.getElementById("way-forward")?.remove();
  }

  async loadStanding(parts) {
    try {
      this.showStanding(await this.api.phaseStanding(this.session.id, this.session.token), parts);
    } catch (_) {
      // Without it the step still works; the server refuses past the cap.
    }
  }

  showTriesLeft(turnsLeft, { composer }) {
    let line = document.getElementById("tries-left");
    if (turnsLeft === null || turnsLeft === undefined) return line?.remove();
    if (!line) {
      line = el("p", { id: "tries-left", class: "meta tries-left", "aria-live": "polite" });
      composer.before(line);
    }
    line.dataset.left = String(turnsLeft);
    line.classList.toggle("low", turnsLeft <= 3);
    line.textContent = turnsLeft === 0
      ? "No tries left in this step."
      : `${turnsLeft} ${turnsLeft === 1 ? "try" : "tries"} left in this step`;
  }

  // The server refused the message: this step's tries are used up. The
  // typed text goes back into its box; the ways forward are offered.
  attemptsRanOut(refusal, request, parts, unsent) {
    unsent?.remove();
    const box = request.step === "collect" ? parts.composer.querySelector("#message") : parts.goalPanel.querySelector("#refine-goal");
    if (box && !box.value.trim()) box.value = request.message;
    this.showTriesLeft(0, parts);
    this.showWayForward(refusal.nextSteps, parts, "You have used all the tries for this step.");
  }

  showWayForward(nextSteps, parts, notice) {
    const actions = new Set(nextSteps.map((s) => s.action));
    document.getElementById("way-forward")?.remove();
    const canKeep = actions.has("keep_best");
    const panel = el("div", { id: "way-forward", class: "way-forward", role: "group", "aria-labelledby": "way-forward-title" },
      el("h2", { id: "way-forward-title", text: "Ready to move on?" }),
      el("p", {},
        notice ? `${notice} ` : "",
        canKeep
          ? "You can keep your best draft and go on to the next step (it is saved, marked as below the passing score), or start this step over with fresh tries."
          : "You can start this step over with fresh tries."),
      el("div", { class: "actions" },
        canKeep && el("button", { type: "button", id: "keep-best", onclick: () => this.keepBestDraft(parts) }, "Keep my best draft"),
        actions.has("start_over") && el("button", { type: "button", id: "restart-step", class: "secondary", onclick: () => this.restartStep(parts) }, "Start this step over"),
      ),
    );
    parts.composer.before(panel);
    (panel.querySelector("#keep-best") || panel.querySelector("#restart-step"))?.focus();
  }

  async keepBestDraft(parts) {
    const panel = document.getElementById("way-forward");
    panel.querySelectorAll("button").forEach((b) => (b.disabled = true));
    let view;
    try {
      view = await this.api.keepBest(this.session.id, this.session.token, this.phase);
    } catch (e) {
      return this.wayForwardFailed(e, panel);
    }
    this.setProgress(view.completion_percentage);
    if (view.current_phase === "completed") {
      try {
        await this.api.complete(this.session.id, this.session.token);
      } catch (_) {
        // Already confirmed: the dashboard shows the goals either way.
      }
      return this.dashboard();
    }
    document.getElementById("tries-left")?.remove();
    parts.composer.hidden = true;
    parts.goalPanel.querySelector("#refine-form")?.remove();
    const next = el("button", { type: "button", id: "next-phase", onclick: () => this.conversation(view.current_phase, view.completion_percentage) }, "Continue →");
    panel.replaceChildren(
      el("p", { class: "passed", role: "status", id: "kept-best" }, "Your best draft is saved as this step's goal (below the passing score). On to the next conversation…"),
      next,
    );
    next.focus();
  }

  async restartStep() {
    const panel = document.getElementById("way-forward");
    panel.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      const view = await this.api.startOver(this.session.id, this.session.token, this.phase);
      return this.conversation(view.current_phase, view.completion_percentage);
    } catch (e) {
      return this.wayForwardFailed(e, panel);
    }
  }

  wayForwardFailed(e, panel) {
    if (e instanceof ApiError && e.code === "token_expired") return this.expired();
    panel.querySelectorAll("button").forEach((b) => (b.disabled = false));
    panel.querySelector(".error")?.remove();
    panel.append(errorBox(e.message));
  }

  // A turn that did not finish: the typed text goes back into its box (the
  // edit box keeps its own), and a button sends it again.
  failedTurn(request, parts, failure, unsent) {
    const { transcript, goalPanel, composer } = parts;
    unsent?.remove();
    const box = request.step === "collect" ? composer.querySelector("#message") : goalPanel.querySelector("#refine-goal");
    if (box && !box.value.trim()) {
      box.value = request.message;
      box.dispatchEvent(new Event("input"));
    }
    const form = request.step === "collect" ? composer : goalPanel.querySelector("#refine-form");
    const retry = el("button", { type: "button", id: "retry-send", onclick: () => form?.requestSubmit() }, "Try again");
    transcript.append(
      el("li", { class: "bubble error", role: "alert" },
        `${failure} Your answer is kept below. `, retry),
    );
    retry.focus();
  }

  scoreCard(goal, card) {
    return el("div", { class: "score-card", id: "score-card", "data-meets": String(card.meets_threshold) },
      el("h2", { text: "Your SMART goal" }),
      el("blockquote", { id: "refined-goal" }, goal || ""),
      el("p", { class: card.meets_threshold ? "verdict pass" : "verdict fail", id: "verdict" },
        el("strong", { text: `Score ${score(card.overall)} / 10` }),
        ` — passing score ${score(card.threshold)}. `,
        card.meets_threshold ? "This goal is final." : "This goal falls short; edit it below or keep talking with the coach.",
      ),
      el("table", { class: "criteria" },
        el("caption", { text: "Score by criterion" }),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Criterion"), el("th", { scope: "col" }, "Score"), el("th", { scope: "col" }, "Weight"), el("th", { scope: "col" }, "Why"))),
        el("tbody", {}, (card.criteria || []).map((c) =>
          el("tr", {}, el("th", { scope: "row" }, c.name.replace(/_/g, " ")), el("td", { "data-label": "Score" }, score(c.score)), el("td", { "data-label": "Weight" }, String(c.weight)), el("td", { "data-label": "Why" }, c.reasoning)))),
      ),
      card.feedback && el("p", { class: "feedback" }, card.feedback),
      card.suggestions?.length ? el("ul", { class: "suggestions", "aria-label": "Suggestions" }, card.suggestions.map((s) => el("li", {}, s))) : null,
    );
  }

  showGoal(goal, card, parts) {
    const { goalPanel } = parts;
    goalPanel.replaceChildren(this.scoreCard(goal, card));
    if (card.meets_threshold) return;
    const edit = el("textarea", { id: "refine-goal", rows: "3", "aria-describedby": "refine-hint refine-count" });
    edit.value = goal || "";
    const count = this.characterCounter(edit, MAX_GOAL_CHARS, "refine-count");
    const form = el("form", { id: "refine-form", class: "refine" },
      el("label", { for: "refine-goal", text: `Edit your goal (at most ${MAX_GOAL_CHARS} characters)` }),
      edit,
      el("div", { class: "actions" }, this.enterHint("refine-hint"), count, el("button", { type: "submit", id: "refine-submit" }, "Score my edited goal")),
    );
    this.sendOnEnter(edit, form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = edit.value.trim();
      if (!text || characters(text) > MAX_GOAL_CHARS) return edit.focus();
      parts.transcript.append(el("li", { class: "bubble me" }, `Edited goal: ${text}`));
      this.turn({ message: text, step: "refine" }, parts);
    });
    goalPanel.append(form);
  }

  async dashboard() {
    let data;
    try {
      data = await this.api.goals(this.session.id, this.session.token, true);
    } catch (e) {
      if (e instanceof ApiError && e.code === "token_expired") return this.expired();
      return show(el("section", { class: "card" }, el("h1", { text: "Your goals" }), errorBox(e.message)));
    }
    const byId = Object.fromEntries(data.goals.map((g) => [g.id, g]));
    const exportButton = (format, label) =>
      el("button", {
        type: "button", id: `download-${format}`,
        onclick: async (event) => {
          event.target.disabled = true;
          try {
            const file = await this.api.exportGoals(this.session.id, this.session.token, format);
            download(file.blob, file.filename);
          } catch (e) {
            event.target.after(errorBox(e.message));
          } finally {
            event.target.disabled = false;
          }
        },
      }, label);
    show(
      el("section", { class: "card", id: "dashboard" },
        el("h1", { text: "Your goals are set!" }),
        this.progress(100),
        el("p", { text: `${data.completed} final goals · average score ${score(data.summary.avg_score)} / 10 · ${data.summary.duration_minutes} minutes` }),
        el("ol", { class: "goals" }, data.goals.map((g) =>
          el("li", { class: "goal", id: `goal-${g.phase}` },
            el("h2", { text: PHASE_LABELS[g.phase] || g.phase }),
            el("p", { class: "content" }, g.content),
            el("p", { class: "meta" }, `Score ${score(g.score)} / 10 · ${new Date(g.created_at).toLocaleDateString()}`),
            g.below_threshold && el("p", { class: "meta below-threshold" }, "Kept below the passing score: the tries for this step ran out."),
            g.links.length ? el("ul", { class: "links" }, g.links.map((l) =>
              el("li", {}, `${LINK_LABELS[l.link_type] || l.link_type} `, el("a", { href: `#goal-${byId[l.parent_goal_id]?.phase}` }, PHASE_LABELS[byId[l.parent_goal_id]?.phase] || "another goal"), ` (strength ${l.strength}/10)`))) : null,
          ))),
        el("div", { class: "actions" }, exportButton("pdf", "Download PDF"), exportButton("md", "Download Markdown")),
        this.resumeLinkPanel("Your link to come back to these goals (keep it private)"),
        this.myDataActions(),
        this.sessionControls(),
      ),
    );
  }

  // The private resume link and a button that copies it, shown from the
  // first conversation on, so a closed tab never loses the session.
  resumeLinkPanel(label = "Your private link to come back later (keep it private)") {
    const link = el("input", { id: "resume-link", type: "text", readonly: true, value: this.resumeLink(), onfocus: (event) => event.target.select() });
    const status = el("span", { id: "copy-status", class: "meta", role: "status" });
    const copy = el("button", {
      type: "button", id: "copy-resume-link", class: "secondary",
      onclick: async () => {
        status.textContent = (await copyText(link)) ? "Link copied." : "Select the link and copy it.";
      },
    }, "Copy link");
    return el("div", { class: "field resume-panel" },
      el("label", { for: "resume-link", text: label }),
      el("div", { class: "copy-row" }, link, copy),
      status,
    );
  }

  // Enter sends the form; Shift+Enter adds a line (and Enter that picks an
  // input method's word is left alone).
  sendOnEnter(box, form) {
    box.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      form.requestSubmit();
    });
  }

  enterHint(id) {
    return el("span", { class: "hint", id }, "Enter sends · Shift+Enter adds a line");
  }

  // "n / max" under an answer box. Past the limit the box is marked and
  // says by how much, and its form refuses to send: nothing is cut off.
  characterCounter(box, max, id) {
    const count = el("span", { class: "count", id, "aria-live": "polite" });
    count.update = () => {
      const used = characters(box.value.trim());
      const over = used - max;
      count.textContent = over > 0 ? `${used} / ${max}: ${over} too many, shorten it to send` : `${used} / ${max}`;
      count.classList.toggle("over", over > 0);
      if (over > 0) box.setAttribute("aria-invalid", "true");
      else box.removeAttribute("aria-invalid");
    };
    box.addEventListener("input", count.update);
    count.update();
    return count;
  }

  // Dots in the transcript until the coach's first words arrive.
  showTyping(transcript) {
    this.hideTyping(transcript);
    transcript.append(el("li", { class: "bubble typing", id: "typing", role: "status", "aria-label": "The coach is writing" },
      el("span"), el("span"), el("span")));
  }

  hideTyping(transcript) {
    transcript.querySelector("#typing")?.remove();
  }

  // Ending the session in this browser: a new one, or nothing left behind.
  sessionControls() {
    return el("div", { class: "actions", id: "session-controls" },
      el("button", { type: "button", class: "secondary", id: "new-session", onclick: () => this.startNewSession() }, "Start a new session"),
      el("button", { type: "button", class: "secondary", id: "leave-computer", onclick: () => this.leaveThisComputer() }, "Leave this computer"),
    );
  }

  startNewSession() {
    this.forget();
    this.welcome();
  }

  async leaveThisComputer() {
    this.forget();
    let cookieKept = false;
    try {
      await this.api.leaveThisBrowser();
    } catch (_) {
      cookieKept = true;
    }
    show(
      el("section", { class: "card", id: "left-computer" },
        el("h1", { text: "This browser no longer keeps your session" }),
        el("p", { text: "Your goals are safe. To come back to them, open your private link. You can close this page now." }),
        cookieKept
          ? el("p", { class: "notice warning", role: "alert", text: "This browser could not be signed out completely: clear its cookies for this site, or close every window of it, before you leave." })
          : null,
        el("div", { class: "actions" },
          el("button", { type: "button", id: "start-fresh", onclick: () => this.welcome() }, "Start a new session"),
        ),
      ),
    );
  }

  // "Your data": download everything stored about the session, or erase it.
  myDataActions() {
    const status = el("div", { id: "my-data-status", "aria-live": "polite" });
    const retention = this.tenant.retention_days;
    return el("section", { id: "my-data" },
      el("h2", { text: "Your data" }),
      el("p", { class: "hint", text: retention
        ? `Your session is deleted ${retention} days after your last visit.`
        : "Your session is deleted after a period set by your company." }),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", id: "export-my-data", onclick: (event) => this.exportMyData(event.target, status) }, "Download my data"),
        el("button", { type: "button", class: "danger", id: "erase-my-data", onclick: (event) => this.confirmErase(event.target, status) }, "Erase my data"),
      ),
      status,
    );
  }

  async exportMyData(button, status) {
    button.disabled = true;
    try {
      const file = await this.api.exportMyData(this.session.id, this.session.token);
      download(file.blob, file.filename);
    } catch (e) {
      status.replaceChildren(errorBox(e.message));
    } finally {
      button.disabled = false;
    }
  }

  // Erasing cannot be undone: a second, explicit click confirms it.
  confirmErase(button, status) {
    const confirm = el("button", { type: "button", class: "danger", id: "confirm-erase", onclick: () => this.eraseMyData(confirm, status) }, "Yes, erase everything");
    status.replaceChildren(
      el("p", { text: "This erases your profile, your conversation and your goals, for good. Your company keeps only the fact that a session was erased." }),
      el("div", { class: "actions" },
        confirm,
        el("button", { type: "button", class: "secondary", id: "cancel-erase", onclick: () => {
          status.replaceChildren();
          button.disabled = false;
          button.focus();
        } }, "Keep my data"),
      ),
    );
    button.disabled = true;
    confirm.focus();
  }

  async eraseMyData(button, status) {
    button.disabled = true;
    try {
      await this.api.eraseMyData(this.session.id, this.session.token);
    } catch (e) {
      button.disabled = false;
      return status.append(errorBox(e.message));
    }
    this.forget();
    this.welcome("Your data has been erased.");
  }
}
