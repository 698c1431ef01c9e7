// The supervisor console: the floor at a glance (queues, agents, live
// calls, callbacks, resolution and quality) and the tools to act on it
// (listen, whisper, barge, force a state, find and play recordings).
// Queues and callbacks come from server streams; agents, calls and reports
// are polled every few seconds (they are store reads, cheap and bounded).
import {
  $, clients, clock, connectAudio, describe, follow, h, initialToken, label, ms, requestId, timeOfDay,
} from "./api.js";
import { AgentState, CallStatus, Disposition, Tier } from "./gen/hotline/v1/common_pb.js";
import { MonitorMode } from "./gen/hotline/v1/media_pb.js";
import { CallbackStatus } from "./gen/hotline/v1/callback_pb.js";
import { CaseStatus } from "./gen/hotline/v1/case_pb.js";
import { endSso, offerSso } from "./sso.js";
import { openGrading, signalCells } from "./grading.js";

const TOKEN_KEY = "hotline.supervisor.token";
const POLL_MS = 2000;

const floor = {
  api: null,
  agents: [],
  calls: [],
  monitor: null, // { callId, mode, pc, ctl, stopMeter }
};

function showError(err) {
  $("console-error").textContent = err ? describe(err) : "";
}

async function signIn(token) {
  const api = clients(token);
  const me = await api.session.whoAmI({});
  if (me.role !== "supervisor" && me.role !== "admin") {
    throw new Error(`this is a ${me.role} sign-in; the console needs a supervisor`);
  }
  if (typeof token === "string") sessionStorage.setItem(TOKEN_KEY, token);
  floor.api = api;
  $("who").textContent = me.subject;
  $("signin").hidden = true;
  $("console").hidden = false;
  $("sign-out").disabled = false;
  watchQueues();
  watchCallbacks();
  watchCases();
  poll();
  setInterval(poll, POLL_MS);
  refreshQuality();
  setInterval(refreshQuality, 30000);
  searchRecordings();
}

// ---- wallboard ----

function watchQueues() {
  follow((signal) => floor.api.supervisor.watchQueues({ intervalMs: 1000 }, { signal }), renderWallboard, { onError: showError });
}

function renderWallboard(snap) {
  $("updated").textContent = `Updated ${new Date(ms(snap.atUnixMs)).toLocaleTimeString()}`;
  const tiles = snap.queues.map((q) => {
    const count = (state) => q.agents.find((a) => a.state === state)?.count ?? 0;
    const sl = q.offeredToday ? Math.round(q.serviceLevelToday * 100) : null;
    const oldest = ms(q.oldestWaitMs);
    return h("div", { class: `queue-tile${oldest > 60000 ? " alarm" : oldest > 20000 ? " warn" : ""}`, dataset: { queue: q.queue } },
      h("div", { class: "queue-name" }, q.queue),
      h("div", { class: "figures" },
        figure("Waiting", q.waiting, "waiting"),
        figure("Oldest wait", oldest ? clock(oldest) : "-", "oldest"),
        figure(`Service level (${q.serviceLevelThresholdSecs} s)`, sl === null ? "-" : `${sl}%`, sl !== null && sl < 80 ? "bad" : "sl")),
      h("div", { class: "agents-by-state" },
        chip("Available", count(AgentState.AVAILABLE), "available"),
        chip("On call", count(AgentState.ON_CALL) + count(AgentState.RESERVED), "on_call"),
        chip("Wrap-up", count(AgentState.WRAP_UP), "wrap_up"),
        chip("Not ready", count(AgentState.NOT_READY), "not_ready")),
      staffingLine(q.staffing),
      h("div", { class: "today muted" },
        `Offered ${q.offeredToday} | answered ${q.answeredToday} | abandoned ${q.abandonedToday}`));
  });
  $("wallboard").replaceChildren(...(tiles.length ? tiles : [h("p", { class: "muted" }, "No queues configured")]));
}

// Agents needed now against agents on duty, what each gives, and the
// next hour's requirement (empty until the node's first staffing refresh).
function staffingLine(s) {
  if (!s) return h("div", { class: "staffing muted" }, "Staffing: computing");
  const pct = (v) => `${Math.round(v * 100)}%`;
  const short = s.onDutyAgents < s.requiredAgents;
  const basis = s.fromForecast ? `forecast ${s.forecastCalls.toFixed(1)} calls` : `${s.observedCalls} calls in the last ${s.intervalMinutes} min`;
  const model = s.model === "erlang-a" ? `Erlang A, patience ${s.patienceSecs} s` : "Erlang C";
  const ahead = s.ahead.map((a) => `${new Date(ms(a.startUnixMs)).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} ${a.requiredAgents}`).join(" · ");
  return h("div", { class: `staffing${short ? " short" : ""}` },
    h("div", { class: "figures" },
      figure("Required", s.requiredAgents, "required"),
      figure("On duty", s.onDutyAgents, short ? "bad on-duty" : "on-duty"),
      figure(`Expected SL (target ${s.serviceLevelTargetPercent}%)`, s.onDuty ? pct(s.onDuty.serviceLevel) : "-", "expected-sl")),
    h("div", { class: "muted" },
      `${basis}, AHT ${s.handleSecs} s, ${model}; with ${s.requiredAgents}: SL ${pct(s.required?.serviceLevel ?? 0)}, ASA ${s.required?.asaSecs ?? 0} s, occupancy ${pct(s.required?.occupancy ?? 0)}`),
    ahead ? h("div", { class: "muted ahead" }, `Next hour: ${ahead}`) : null);
}

function figure(name, value, cls) {
  return h("div", { class: `figure ${cls}` }, h("div", { class: "value" }, String(value)), h("div", { class: "name" }, name));
}

function chip(name, n, state) {
  return h("span", { class: `chip state-${state}` }, `${name} ${n}`);
}

// ---- agents and calls ----

async function poll() {
  try {
    const [agents, calls] = await Promise.all([
      floor.api.supervisor.listAgents({ pageSize: 500 }),
      floor.api.supervisor.listCalls({ pageSize: 500 }),
    ]);
    floor.agents = agents.agents;
    floor.calls = calls.calls;
    renderAgents();
    renderCalls();
  } catch (err) {
    showError(err);
  }
}

function renderAgents() {
  const order = [AgentState.ON_CALL, AgentState.RESERVED, AgentState.WRAP_UP, AgentState.AVAILABLE, AgentState.NOT_READY, AgentState.LOGGED_OUT];
  const rows = [...floor.agents]
    .sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state) || a.agentId.localeCompare(b.agentId))
    .map((a) => h("tr", { dataset: { agent: a.agentId } },
      h("td", {}, a.displayName || a.agentId),
      h("td", {}, h("span", { class: `pill state-${(AgentState[a.state] ?? "").toLowerCase()}` }, label(AgentState, a.state))),
      h("td", {}, a.notReadyReason || a.stateReason || ""),
      h("td", {}, ms(a.stateSinceUnixMs) ? clock(Date.now() - ms(a.stateSinceUnixMs)) : ""),
      h("td", {}, String(a.callsHandled)),
      h("td", {}, a.state === AgentState.LOGGED_OUT ? "" : h("button", {
        class: "small danger",
        onclick: () => forceLogout(a.agentId),
      }, "Log out"))));
  $("agents").replaceChildren(...rows);
}

async function forceLogout(agentId) {
  if (!confirm(`Log ${agentId} out?`)) return;
  try {
    await floor.api.supervisor.setAgentState({ agentId, state: AgentState.LOGGED_OUT, reason: "logged out by supervisor", requestId: requestId() });
    poll();
  } catch (err) {
    showError(err);
  }
}

function renderCalls() {
  const live = floor.calls.filter((c) => c.status !== CallStatus.ENDED);
  const rows = live.map((c) => {
    const connected = c.status === CallStatus.CONNECTED;
    const since = connected ? ms(c.answeredAtUnixMs) : ms(c.enqueuedAtUnixMs);
    const monitoring = floor.monitor?.callId === c.callId;
    return h("tr", { dataset: { call: c.callId }, class: monitoring ? "selected" : "" },
      h("td", {}, c.ani || "unknown"),
      h("td", {}, c.queue),
      h("td", {}, h("span", { class: `tier tier-${(Tier[c.tier] ?? "").toLowerCase()}` }, c.tier ? label(Tier, c.tier) : "")),
      h("td", {}, c.onHold ? "On hold" : label(CallStatus, c.status)),
      h("td", {}, c.agentId || "-"),
      h("td", {}, since ? clock(Date.now() - since) : ""),
      h("td", { class: "buttons" }, connected ? [
        h("button", { class: "small", onclick: () => monitor(c.callId, MonitorMode.LISTEN) }, "Listen"),
        h("button", { class: "small", onclick: () => monitor(c.callId, MonitorMode.WHISPER) }, "Whisper"),
        h("button", { class: "small", onclick: () => monitor(c.callId, MonitorMode.BARGE) }, "Barge"),
      ] : ""));
  });
  $("calls").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No calls right now"))]));
}

// ---- listen / whisper / barge ----

/**
 * Plays the monitor stream's frames (caller left, agent right) through Web
 * Audio, a little behind real time so network jitter does not click.
 */
function framePlayer() {
  const ctx = new AudioContext();
  let next = 0;
  return {
    push(frame) {
      const rate = frame.sampleRate || 8000;
      const caller = pcm(frame.callerPcm);
      const agent = pcm(frame.agentPcm);
      const n = Math.max(caller.length, agent.length);
      if (n === 0) return 0;
      const buf = ctx.createBuffer(2, n, rate);
      const left = buf.getChannelData(0);
      const right = buf.getChannelData(1);
      let sum = 0;
      for (let i = 0; i < n; i++) {
        left[i] = (caller[i] ?? 0) / 32768;
        right[i] = (agent[i] ?? 0) / 32768;
        sum += left[i] * left[i] + right[i] * right[i];
      }
      const src = ctx.createBufferSource();
      src.buffer = buf;
      src.connect(ctx.destination);
      // Start 100 ms ahead; after a gap, start again from now.
      next = Math.max(next, ctx.currentTime + 0.1);
      src.start(next);
      next += n / rate;
      return Math.sqrt(sum / (2 * n));
    },
    close() {
      ctx.close().catch(() => {});
    },
  };
}

/** Little-endian 16-bit samples from a frame's bytes. */
function pcm(bytes) {
  if (!bytes || bytes.length < 2) return new Int16Array(0);
  const copy = bytes.slice(0, bytes.length - (bytes.length % 2));
  return new Int16Array(copy.buffer);
}

async function monitor(callId, mode) {
  stopMonitor();
  showError(null);
  const ctl = new AbortController();
  const session = { callId, mode, ctl, pc: null, stream: null, player: null };
  floor.monitor = session;
  const speaks = mode !== MonitorMode.LISTEN;
  try {
    // Everyone hears the call from the stream's frames; whisper and barge
    // also open a WebRTC leg to speak on (its incoming audio is muted: the
    // frames already carry the call).
    session.player = framePlayer();
    let giveOffer = () => {};
    const offerSdp = new Promise((r) => { giveOffer = r; });
    if (speaks) {
      session.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      $("monitor-audio").muted = true;
    }
    const started = new Promise((resolve, reject) => {
      (async () => {
        try {
          const req = { callId, mode, offer: speaks ? { sdp: await offerSdp } : undefined };
          for await (const ev of floor.api.supervisor.monitor(req, { signal: ctl.signal })) {
            if (ev.event.case === "started") resolve(ev.event.value);
            if (ev.event.case === "frame") {
              session.frames = (session.frames ?? 0) + 1;
              $("monitor").dataset.frames = String(session.frames);
              const level = session.player.push(ev.event.value);
              $("monitor-bar").style.width = `${Math.min(100, Math.round(level * 400))}%`;
            }
          }
          resolve(null);
          if (floor.monitor === session) stopMonitor();
        } catch (err) {
          reject(err);
          if (!ctl.signal.aborted) showError(err);
          if (floor.monitor === session) stopMonitor();
        }
      })();
    });
    if (speaks) {
      session.pc = await connectAudio({
        api: floor.api,
        stream: session.stream,
        audioEl: $("monitor-audio"),
        send: async (sdp) => {
          giveOffer(sdp);
          const s = await started;
          if (!s?.answer) throw new Error("the server did not answer the monitor offer");
          return s.answer.sdp;
        },
      });
      const show = () => { $("monitor").dataset.connection = session.pc.connectionState; };
      show();
      session.pc.addEventListener("connectionstatechange", show);
    } else {
      await started;
    }
    $("monitor").hidden = false;
    $("monitor").dataset.mode = (MonitorMode[mode] ?? "").toLowerCase();
    const verb = { [MonitorMode.LISTEN]: "Listening", [MonitorMode.WHISPER]: "Whispering", [MonitorMode.BARGE]: "Barging in" }[mode];
    $("monitor-what").textContent = `${verb} on call ${callId}`;
    renderCalls();
  } catch (err) {
    showError(err);
    stopMonitor();
  }
}

function stopMonitor() {
  const m = floor.monitor;
  if (!m) return;
  floor.monitor = null;
  m.ctl.abort();
  m.pc?.close();
  m.stream?.getTracks().forEach((t) => t.stop());
  m.player?.close();
  $("monitor").hidden = true;
  delete $("monitor").dataset.connection;
  delete $("monitor").dataset.frames;
  $("monitor-bar").style.width = "0%";
  renderCalls();
}

// ---- callbacks ----

function watchCallbacks() {
  follow((signal) => floor.api.callback.watchCallbacks({ intervalMs: 5000 }, { signal }), (board) => {
    renderCallbackBoard(board);
    refreshCallbackList();
  }, { onError: showError, retryMs: 5000 });
}

function renderCallbackBoard(b) {
  $("callback-board").replaceChildren(
    figure("Overdue", b.overdue, b.overdue > 0 ? "bad" : "ok"),
    figure("Due now", b.dueNow, "due"),
    figure("Due within 30 min", b.dueSoon, b.dueSoon > 0 ? "warn" : "ok"),
    figure("Pending", b.pending, "pending"),
    figure("Met / missed", `${b.met} / ${b.missed}`, b.missed > 0 ? "warn" : "ok"));
}

async function refreshCallbackList() {
  try {
    const res = await floor.api.callback.listCallbacks({ statuses: [CallbackStatus.DUE, CallbackStatus.SCHEDULED], pageSize: 20 });
    const rows = res.callbacks
      .sort((a, b) => ms(a.deadlineUnixMs) - ms(b.deadlineUnixMs))
      .map((cb) => {
        const left = ms(cb.deadlineUnixMs) - Date.now();
        return h("tr", { class: left < 0 ? "overdue" : left < 30 * 60000 ? "soon" : "" },
          h("td", {}, cb.number), h("td", {}, cb.queue), h("td", {}, cb.ownerAgentId || "-"),
          h("td", {}, `${timeOfDay(ms(cb.deadlineUnixMs))} (${left < 0 ? `${clock(-left)} late` : clock(left)})`),
          h("td", {}, label(CallbackStatus, cb.status)));
      });
    $("callbacks").replaceChildren(...rows);
  } catch (err) {
    showError(err);
  }
}

// ---- cases ----

function watchCases() {
  follow((signal) => floor.api.case.watchCases({ intervalMs: 2000 }, { signal }), renderCaseBoard,
    { onError: showError, retryMs: 5000 });
}

function renderCaseBoard(b) {
  $("case-board").replaceChildren(
    figure("Overdue", b.overdue, b.overdue > 0 ? "bad" : "ok"),
    figure("Due soon", b.dueSoon, b.dueSoon > 0 ? "warn" : "ok"),
    figure("Unassigned", b.unassigned, b.unassigned > 0 ? "warn" : "ok"),
    figure("Awaiting confirmation", b.awaitingConfirmation, "pending"),
    figure("Reopened", b.reopened, b.reopened > 0 ? "warn" : "ok"),
    figure("Open", b.open, "pending"));
  const rows = b.attention.map((c) => {
    const due = ms(c.dueUnixMs);
    const left = due - Date.now();
    return h("tr", { class: c.overdue ? "overdue" : c.dueWarned ? "soon" : "", "data-case": c.caseId },
      h("td", {}, c.caseId), h("td", {}, c.category), h("td", {}, c.target?.name || "-"),
      h("td", {}, c.ownerAgentId || "-"),
      h("td", {}, due ? `${timeOfDay(due)} (${left < 0 ? `${clock(-left)} late` : clock(left)})` : "-"),
      h("td", {}, c.overdue ? "Overdue" : label(CaseStatus, c.status)));
  });
  $("cases").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "6", class: "muted" }, "Nothing wants attention"))]));
  const tally = (t) =>
    h("tr", { class: t.overdue > 0 ? "overdue" : "" }, h("td", {}, t.name), h("td", {}, String(t.open)), h("td", {}, String(t.overdue)));
  $("case-categories").replaceChildren(...b.byCategory.map(tally));
  $("case-targets").replaceChildren(...b.byTarget.map(tally));
}

// ---- resolution and quality ----

async function refreshQuality() {
  const from = new Date();
  from.setHours(0, 0, 0, 0);
  try {
    const report = await floor.api.report.getQueueStats({ fromUnixMs: BigInt(from.getTime()), toUnixMs: BigInt(Date.now()) });
    const pct = (v) => (v === undefined || v === null || Number.isNaN(v) ? "-" : `${Math.round(v * 100)}%`);
    const rows = report.queues.map((q) => {
      const c = q.common;
      const fcr = c?.fcr;
      return h("tr", {},
        h("td", {}, q.queue),
        h("td", {}, String(c?.handled ?? 0)),
        h("td", {}, fcr?.contacts ? pct(fcr.declaredRate) : "-"),
        h("td", {}, fcr?.issues ? `${pct(fcr.observedRate)}${fcr.provisional ? " (provisional)" : ""}` : "-"),
        h("td", {}, c?.qualityAverage !== undefined ? `${c.qualityAverage.toFixed(0)} / 100` : "-"),
        h("td", {}, c?.satisfactionAverage !== undefined ? `${c.satisfactionAverage.toFixed(1)} / 5` : "-"));
    });
    $("quality").replaceChildren(...rows);
    const agents = await floor.api.report.getAgentStats({ fromUnixMs: BigInt(from.getTime()), toUnixMs: BigInt(Date.now()) });
    $("agent-quality").replaceChildren(...agents.agents.map((a) => {
      const c = a.common;
      const s = c?.signals;
      return h("tr", { dataset: { agent: a.agentId } },
        h("td", {}, a.agentId),
        h("td", {}, String(c?.handled ?? 0)),
        h("td", { class: "quality" }, c?.qualityAverage !== undefined ? `${c.qualityAverage.toFixed(0)} / 100 (${c.graded} graded)` : "-"),
        h("td", {}, s?.agentTalkShare !== undefined ? pct(s.agentTalkShare) : "-"),
        h("td", {}, s ? String(s.longHoldsToCheck + s.longHoldsWithoutApology) : "-"));
    }));
  } catch (err) {
    showError(err);
  }
}

// ---- recordings ----

async function searchRecordings() {
  try {
    const res = await floor.api.supervisor.listRecordings({
      agentId: $("rec-agent").value.trim(),
      queue: $("rec-queue").value.trim(),
      ani: $("rec-ani").value.trim(),
      pageSize: 25,
    });
    const rows = res.recordings.map((r) => h("tr", { dataset: { recording: r.recordingId, call: r.callId } },
      h("td", {}, new Date(ms(r.startedAtUnixMs)).toLocaleString()),
      h("td", {}, r.ani), h("td", {}, r.queue), h("td", {}, r.agentId),
      h("td", {}, r.live ? "live" : clock(ms(r.durationMs))),
      h("td", {}, label(Disposition, r.disposition)),
      ...signalCells(r),
      h("td", {}, r.live ? "" : [
        h("button", { class: "small", onclick: () => play(r.recordingId) }, "Play"),
        h("button", { class: "small grade", onclick: () => grade(r.recordingId) }, "Grade")])));
    $("recordings").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "11", class: "muted" }, "No recordings match"))]));
  } catch (err) {
    showError(err);
  }
}

async function grade(recordingId) {
  try {
    await openGrading(floor.api, recordingId, { play, showError, onGraded: refreshQuality });
  } catch (err) {
    showError(err);
  }
}

async function play(recordingId) {
  try {
    const parts = [];
    for await (const chunk of floor.api.supervisor.getRecording({ recordingId })) parts.push(chunk.data);
    const el = $("playback");
    if (el.src) URL.revokeObjectURL(el.src);
    el.src = URL.createObjectURL(new Blob(parts, { type: "audio/wav" }));
    el.dataset.recording = recordingId;
    el.hidden = false;
    await el.play();
  } catch (err) {
    showError(err);
  }
}

// ---- page ----

$("signin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  signIn($("token").value).catch((err) => { $("signin-error").textContent = describe(err); });
});
$("recording-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  searchRecordings();
});
$("monitor-stop").addEventListener("click", stopMonitor);
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  endSso("supervisor");
  location.reload();
});
const token = initialToken(TOKEN_KEY);
const signInError = (err) => { $("signin-error").textContent = describe(err); };
if (token) {
  $("token").value = token;
  signIn(token).catch(signInError);
} else {
  offerSso("supervisor", { button: $("sso"), signIn, showError: signInError });
}
