// The agent softphone: sign in with an agent token, set a state, take
// offered calls (caller, tier, history, callback deadline), talk through
// WebRTC, hold, transfer, hang up, wrap up before the countdown ends.
// Everything the page shows comes from the agent's event stream; buttons
// only send requests.
import {
  $, clients, clock, connectAudio, describe, follow, h, initialToken, label, levelMeter, ms,
  requestId, timeOfDay,
} from "./api.js";
import { endSso, offerSso } from "./sso.js";
import { AgentState, CallStatus, Disposition, Tier } from "./gen/hotline/v1/common_pb.js";
import { RequestedState } from "./gen/hotline/v1/agent_pb.js";
import { CallbackStatus } from "./gen/hotline/v1/callback_pb.js";
import { CaseKind, CaseStatus } from "./gen/hotline/v1/case_pb.js";

const TOKEN_KEY = "hotline.agent.token";

/** Everything the page knows; rendered by `render()`. */
const desk = {
  api: null,
  agentId: "",
  agent: null,
  offer: null, // { call, expiresAt, previous, cases }
  live: null, // Call
  wrapUp: null, // { callId, deadline, ani }
  muted: false,
  stream: null, // the microphone
  pc: null,
  stopMeter: null,
  events: null, // AbortController of the event stream
};

function log(text) {
  const list = $("log");
  list.prepend(h("li", {}, h("time", {}, timeOfDay(Date.now())), " ", text));
  while (list.children.length > 50) list.lastChild.remove();
}

function showError(where, err) {
  $(where).textContent = err ? describe(err) : "";
}

async function signIn(token) {
  showError("signin-error", null);
  const api = clients(token);
  const me = await api.session.whoAmI({});
  if (me.role !== "agent") throw new Error(`this is a ${me.role} sign-in; the softphone needs an agent`);
  desk.api = api;
  desk.agentId = me.subject;
  const agent = await desk.api.agent.login({ agentId: me.subject, startAvailable: false, requestId: requestId() });
  if (typeof token === "string") sessionStorage.setItem(TOKEN_KEY, token);
  desk.agent = agent;
  $("signin").hidden = true;
  $("desk").hidden = false;
  $("state-select").disabled = false;
  $("sign-out").disabled = false;
  $("who").textContent = agent.displayName || agent.agentId;
  log(`Signed in as ${agent.agentId}`);
  await loadChoices();
  render();
  followEvents();
  await startAudio();
  refreshCallbacks();
  setInterval(refreshCallbacks, 15000);
}

/** The not-ready reasons and wrap-up categories the admin catalog offers
 * (active ones); the page's built-in lists stay if the catalog has none or
 * cannot be read (which the desk shows). */
async function loadChoices() {
  try {
    const [reasons, categories] = await Promise.all([
      desk.api.admin.listReasonCodes({ pageSize: 1000 }),
      desk.api.admin.listWrapUpCategories({ pageSize: 1000 }),
    ]);
    // A catalog that defines none leaves the page's own list.
    const active = reasons.reasonCodes.filter((r) => r.active);
    if (active.length) {
      $("state-select").replaceChildren(
        h("option", { value: "available" }, "Available"),
        ...active.map((r) => h("option", { value: r.code }, `Not ready: ${r.label || r.code}`)),
      );
    }
    const kinds = categories.wrapUpCategories.filter((c) => c.active);
    if (kinds.length) {
      $("wrapup-category").replaceChildren(...kinds.map((c) => h("option", { value: c.code }, c.label || c.code)));
    }
  } catch (err) {
    showError("desk-error", err);
    log(`Reason codes and categories could not be read; the built-in lists are shown: ${describe(err)}`);
  }
}

/** The agent's events, resumed after a dropped connection. */
function followEvents() {
  desk.events?.abort();
  const ctl = new AbortController();
  desk.events = ctl;
  follow((signal) => desk.api.agent.events({ agentId: desk.agentId }, { signal }), onEvent, {
    onError: (err) => showError("desk-error", err),
    retryMs: 1000,
    signal: ctl.signal,
  });
}

function onEvent(ev) {
  const e = ev.event;
  switch (e.case) {
    case "stateChanged":
      desk.agent = e.value.agent;
      break;
    case "callOffered":
      desk.offer = {
        call: e.value.call,
        expiresAt: ms(e.value.expiresAtUnixMs),
        previous: e.value.previousContacts,
        cases: e.value.openCases,
      };
      log(`Offered a call from ${e.value.call.ani || "unknown number"}`);
      break;
    case "offerRescinded":
      if (desk.offer?.call.callId === e.value.callId) desk.offer = null;
      log("The offer was withdrawn");
      break;
    case "callConnected":
      desk.offer = null;
      desk.live = e.value.call;
      log(`Connected to ${e.value.call.ani || "the caller"}`);
      break;
    case "callEnded":
      if (desk.live?.callId === e.value.call.callId) desk.live = null;
      log(`Call ended (${e.value.call.endReason || "hung up"})`);
      break;
    case "wrapUpStarted":
      desk.wrapUp = { callId: e.value.callId, deadline: ms(e.value.deadlineUnixMs), ani: desk.live?.ani ?? "" };
      desk.live = null;
      break;
    case "wrapUpEnded":
      if (desk.wrapUp?.callId === e.value.callId) desk.wrapUp = null;
      log(`Wrap-up done: ${label(Disposition, e.value.disposition)}`);
      break;
    default:
      break;
  }
  render();
}

const COVER = { 1: "no maintenance contract", 2: "maintenance contract active", 3: "maintenance contract expired" };

/** One of the caller's open cases: what it is, where it stands, and its
 * timeline. */
function caseCard(c) {
  const due = ms(c.dueUnixMs);
  const when = due ? ` · due ${new Date(due).toLocaleString()}${c.overdue ? " (overdue)" : ""}` : "";
  const cover = COVER[c.contract] ? ` · ${COVER[c.contract]}` : "";
  const steps = c.timeline.map((t) =>
    h("li", {}, h("time", {}, new Date(ms(t.atUnixMs)).toLocaleString()), ` ${t.change} by ${t.by}${t.detail ? `: ${t.detail}` : ""}`));
  return h("div", { class: `case${c.overdue ? " overdue" : ""}`, "data-case": c.caseId },
    h("p", {}, h("strong", {}, `${label(CaseKind, c.kind)}: ${c.category}`), ` · ${label(CaseStatus, c.status)}`,
      c.ownerAgentId ? ` · owner ${c.ownerAgentId}` : "", when, cover),
    h("p", { class: "muted" }, c.summary),
    h("ol", { class: "timeline" }, ...steps));
}

function render() {
  const a = desk.agent;
  const state = a ? a.state : AgentState.LOGGED_OUT;
  const pill = $("state");
  const name = AgentState[state] ?? "UNSPECIFIED";
  pill.className = `pill state-${name.toLowerCase()}`;
  pill.textContent = label(AgentState, state) + (a?.notReadyReason && state === AgentState.NOT_READY ? `: ${a.notReadyReason}` : "");
  const select = $("state-select");
  if (state === AgentState.AVAILABLE) select.value = "available";
  else if (state === AgentState.NOT_READY && a?.notReadyReason) {
    if (![...select.options].some((o) => o.value === a.notReadyReason)) {
      select.append(h("option", { value: a.notReadyReason }, `Not ready: ${a.notReadyReason}`));
    }
    select.value = a.notReadyReason;
  }
  $("idle-hint").textContent =
    state === AgentState.AVAILABLE ? "You are available: calls will ring here." : "Set yourself Available to take calls.";

  const offer = desk.offer;
  $("offer").hidden = !offer;
  if (offer) {
    const c = offer.call;
    $("offer-ani").textContent = c.ani || "Unknown number";
    setTier("offer-tier", c.tier);
    $("offer-queue").textContent = c.queue;
    $("offer-customer").textContent = c.customerId || "Not identified";
    $("offer-waited").textContent = clock(Date.now() - ms(c.enqueuedAtUnixMs));
    const due = ms(c.callbackDeadlineUnixMs);
    $("offer-callback").textContent = due ? `${timeOfDay(due)} (${clock(due - Date.now())} left)` : "None";
    // An issue is open when its last contact did not resolve it.
    const open = offer.previous.filter((p) => p.disposition === Disposition.UNRESOLVED || p.disposition === Disposition.CALLBACK_NEEDED);
    const categories = [...new Set(open.map((p) => p.category).filter((c) => c))];
    $("offer-open").textContent = open.length ? `${open.length}${categories.length ? ` (${categories.join(", ")})` : ""}` : "None";
    $("offer-open").className = open.length ? "warn" : "";
    const rows = offer.previous.map((p) =>
      h("tr", {}, h("td", {}, new Date(ms(p.endedAtUnixMs)).toLocaleString()), h("td", {}, p.queue),
        h("td", {}, p.category || "-"), h("td", { class: dispositionClass(p.disposition) }, label(Disposition, p.disposition)),
        h("td", {}, p.agentId)));
    $("offer-history").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "5", class: "muted" }, "First contact"))]));
    const cases = offer.cases.map(caseCard);
    $("offer-cases").replaceChildren(...(cases.length ? cases : [h("p", { class: "muted" }, "None")]));
  }

  const live = desk.live;
  $("live").hidden = !live;
  if (live) {
    $("live-ani").textContent = live.ani || "Unknown number";
    setTier("live-tier", live.tier);
    $("live-queue").textContent = live.queue;
    $("live-customer").textContent = live.customerId || "Not identified";
    $("live-call").textContent = live.callId;
    $("live-hold").hidden = !live.onHold;
    $("hold").textContent = live.onHold ? "Resume" : "Hold";
  }
  $("mute").textContent = desk.muted ? "Unmute" : "Mute";
  $("mute").classList.toggle("active", desk.muted);

  const wrap = desk.wrapUp;
  $("wrapup").hidden = !wrap;
  if (wrap) {
    $("wrapup-call").textContent = wrap.callId;
    $("wrapup-ani").textContent = wrap.ani || "the caller";
  }
  $("idle").hidden = Boolean(offer || live || wrap);
  tick();
}

function setTier(id, tier) {
  const el = $(id);
  el.textContent = tier ? label(Tier, tier) : "";
  el.className = `tier tier-${(Tier[tier] ?? "").toLowerCase()}`;
}

function dispositionClass(d) {
  return d === Disposition.RESOLVED ? "ok" : d === Disposition.UNRESOLVED ? "warn" : "";
}

/** Countdowns and call timers tick once a second between events. */
function tick() {
  if (desk.offer) {
    const left = desk.offer.expiresAt - Date.now();
    $("offer-countdown").textContent = left > 0 ? `${Math.ceil(left / 1000)} s` : "";
  }
  if (desk.live) {
    const since = ms(desk.live.answeredAtUnixMs) || Date.now();
    $("live-timer").textContent = clock(Date.now() - since);
  }
  if (desk.wrapUp) {
    const left = desk.wrapUp.deadline - Date.now();
    $("wrapup-countdown").textContent = left > 0 ? `${Math.ceil(left / 1000)} s left` : "time is up";
    $("wrapup-countdown").classList.toggle("urgent", left < 15000);
  }
  if (desk.agent) {
    const since = ms(desk.agent.stateSinceUnixMs);
    $("state-for").textContent = since ? `for ${clock(Date.now() - since)}` : "";
  }
}

// ---- audio ----

async function startAudio() {
  try {
    await openMicrophone($("mic").value || undefined);
    await listDevices();
    desk.pc = await connectAudio({
      api: desk.api,
      stream: desk.stream,
      audioEl: $("remote"),
      send: async (sdp) => {
        const answer = await desk.api.agent.connectSoftphone({ agentId: desk.agentId, offer: { sdp } });
        return answer.sdp;
      },
    });
    const show = () => {
      $("audio-status").textContent = `Softphone ${desk.pc.connectionState}`;
    };
    show();
    desk.pc.addEventListener("connectionstatechange", show);
  } catch (err) {
    $("audio-status").textContent = `No audio: ${describe(err)}`;
  }
}

async function openMicrophone(deviceId) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: deviceId ? { deviceId: { exact: deviceId } } : true,
  });
  desk.stream?.getTracks().forEach((t) => t.stop());
  desk.stream = stream;
  const track = stream.getAudioTracks()[0];
  track.enabled = !desk.muted;
  const sender = desk.pc?.getSenders().find((s) => s.track?.kind === "audio" || s.track === null);
  if (sender) await sender.replaceTrack(track);
  desk.stopMeter?.();
  desk.stopMeter = levelMeter(stream, (level) => {
    $("meter-bar").style.width = `${Math.round(level * 100)}%`;
  });
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (id, kind) => {
    const select = $(id);
    const current = select.value;
    const options = devices.filter((d) => d.kind === kind)
      .map((d, i) => h("option", { value: d.deviceId }, d.label || `${kind === "audioinput" ? "Microphone" : "Speaker"} ${i + 1}`));
    select.replaceChildren(...options);
    if (current) select.value = current;
  };
  fill("mic", "audioinput");
  fill("speaker", "audiooutput");
}

// ---- callbacks ----

async function refreshCallbacks() {
  if (!desk.api) return;
  try {
    const open = [CallbackStatus.SCHEDULED, CallbackStatus.DUE];
    const res = await desk.api.callback.listCallbacks({ ownerAgentId: desk.agentId, statuses: open, pageSize: 50 });
    const rows = res.callbacks.map((cb) => {
      const due = ms(cb.deadlineUnixMs);
      const left = due - Date.now();
      return h("tr", { class: left < 0 ? "overdue" : left < 30 * 60000 ? "soon" : "" },
        h("td", {}, cb.number), h("td", {}, cb.queue), h("td", {}, `${timeOfDay(due)} (${left < 0 ? "overdue" : clock(left)})`),
        h("td", {}, label(CallbackStatus, cb.status)));
    });
    $("callbacks").replaceChildren(...rows);
    $("callbacks-empty").hidden = rows.length > 0;
  } catch (err) {
    $("callbacks-empty").textContent = `Callbacks unavailable: ${describe(err)}`;
  }
}

// ---- actions ----

async function act(fn) {
  showError("desk-error", null);
  try {
    await fn();
  } catch (err) {
    showError("desk-error", err);
  }
}

function wire() {
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("token").value).catch((err) => showError("signin-error", err));
  });
  $("state-select").addEventListener("change", () => act(async () => {
    const v = $("state-select").value;
    const req = v === "available"
      ? { agentId: desk.agentId, state: RequestedState.AVAILABLE, requestId: requestId() }
      : { agentId: desk.agentId, state: RequestedState.NOT_READY, reason: v, requestId: requestId() };
    desk.agent = await desk.api.agent.setState(req);
    render();
  }));
  $("sign-out").addEventListener("click", () => act(async () => {
    await desk.api.agent.logout({ agentId: desk.agentId, requestId: requestId() });
    desk.events?.abort();
    desk.pc?.close();
    sessionStorage.removeItem(TOKEN_KEY);
    endSso("agent");
    location.reload();
  }));
  const call = () => ({ agentId: desk.agentId, callId: (desk.offer?.call ?? desk.live)?.callId ?? "", requestId: requestId() });
  $("accept").addEventListener("click", () => act(async () => {
    const c = await desk.api.agent.accept(call());
    if (c.status === CallStatus.CONNECTED) {
      desk.offer = null;
      desk.live = c;
      render();
    }
  }));
  $("decline").addEventListener("click", () => act(async () => {
    await desk.api.agent.decline(call());
    desk.offer = null;
    render();
  }));
  $("hangup").addEventListener("click", () => act(() => desk.api.agent.hangup(call())));
  $("hold").addEventListener("click", () => act(async () => {
    const c = desk.live?.onHold ? await desk.api.agent.resume(call()) : await desk.api.agent.hold(call());
    desk.live = c;
    render();
  }));
  $("mute").addEventListener("click", () => {
    desk.muted = !desk.muted;
    desk.stream?.getAudioTracks().forEach((t) => { t.enabled = !desk.muted; });
    render();
  });
  $("transfer").addEventListener("click", () => act(async () => {
    const target = $("transfer-target").value.trim();
    if (!target) throw new Error("name a queue or an agent to transfer to");
    const kind = $("transfer-kind").value;
    await desk.api.agent.transfer({
      ...call(),
      target: kind === "queue" ? { case: "queue", value: target } : { case: "toAgentId", value: target },
    });
    log(`Transferred to ${kind} ${target}`);
  }));
  $("wrapup").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(async () => {
      const choice = new FormData($("wrapup")).get("disposition");
      const disposition = { resolved: Disposition.RESOLVED, unresolved: Disposition.UNRESOLVED, callback: Disposition.CALLBACK_NEEDED }[choice];
      desk.agent = await desk.api.agent.completeWrapUp({
        agentId: desk.agentId,
        callId: desk.wrapUp?.callId ?? "",
        disposition,
        category: $("wrapup-category").value,
        notes: $("wrapup-notes").value,
        requestId: requestId(),
      });
      desk.wrapUp = null;
      $("wrapup-notes").value = "";
      render();
    });
  });
  $("mic").addEventListener("change", () => act(() => openMicrophone($("mic").value)));
  $("speaker").addEventListener("change", () => act(async () => {
    const el = $("remote");
    if (typeof el.setSinkId !== "function") throw new Error("this browser cannot choose a speaker");
    await el.setSinkId($("speaker").value);
  }));
  navigator.mediaDevices?.addEventListener?.("devicechange", () => listDevices().catch(() => {}));
  setInterval(tick, 1000);
}

wire();
const token = initialToken(TOKEN_KEY);
if (token) {
  $("token").value = token;
  signIn(token).catch((err) => showError("signin-error", err));
} else {
  offerSso("agent", { button: $("sso"), signIn, showError: (err) => showError("signin-error", err) });
}
