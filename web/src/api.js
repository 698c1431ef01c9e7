// The public gRPC API from the browser: grpc-web (tonic-web) on the same
// origin that served the page, every call carrying the signed-in bearer
// token. Shared by the agent, supervisor and caller pages.
import { createClient, ConnectError } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AdminService } from "./gen/hotline/v1/admin_pb.js";
import { AgentService } from "./gen/hotline/v1/agent_pb.js";
import { AuditService } from "./gen/hotline/v1/audit_pb.js";
import { CallService } from "./gen/hotline/v1/call_pb.js";
import { CallbackService } from "./gen/hotline/v1/callback_pb.js";
import { CaseService } from "./gen/hotline/v1/case_pb.js";
import { ReportService } from "./gen/hotline/v1/report_pb.js";
import { SessionService } from "./gen/hotline/v1/session_pb.js";
import { SupervisorService } from "./gen/hotline/v1/supervisor_pb.js";

export { ConnectError };

/** Typed clients for every public service, authenticated with `token`:
 * a string, or a function giving the token to send now (a single sign-on
 * session swaps in fresh tokens). Who the holder is comes from
 * `session.whoAmI`: the server reads the token, the page does not. */
export function clients(token) {
  const current = typeof token === "function" ? token : () => token;
  const auth = (next) => async (req) => {
    req.header.set("authorization", `Bearer ${current().trim()}`);
    return next(req);
  };
  const transport = createGrpcWebTransport({ baseUrl: location.origin, interceptors: [auth] });
  return {
    admin: createClient(AdminService, transport),
    agent: createClient(AgentService, transport),
    audit: createClient(AuditService, transport),
    call: createClient(CallService, transport),
    callback: createClient(CallbackService, transport),
    case: createClient(CaseService, transport),
    report: createClient(ReportService, transport),
    session: createClient(SessionService, transport),
    supervisor: createClient(SupervisorService, transport),
  };
}

/** The token handed in the page's fragment (`#token=...`, never sent to a
 * server) or kept for this tab, if any. */
export function initialToken(key) {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get("token");
  if (fromHash) {
    sessionStorage.setItem(key, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(key) ?? "";
}

/** A user-facing line for an error from the API or the browser. */
export function describe(err) {
  if (err instanceof ConnectError) return `${err.code ? codeName(err.code) + ": " : ""}${err.rawMessage}`;
  return err?.message ?? String(err);
}

function codeName(code) {
  const names = {
    3: "Invalid",
    5: "Not found",
    7: "Not allowed",
    9: "Not now",
    10: "Conflict",
    14: "Unavailable",
    16: "Not signed in",
  };
  return names[code] ?? `Error ${code}`;
}

/** Milliseconds from an int64 field (bigint in generated messages). */
export function ms(v) {
  return Number(v ?? 0);
}

/** "4:07" or "1:02:03" for a duration in milliseconds. */
export function clock(msValue) {
  const s = Math.max(0, Math.floor(msValue / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** Local time of day for an epoch in milliseconds, or "" for none. */
export function timeOfDay(epochMs) {
  if (!epochMs) return "";
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Shortens an enum's generated name for display: `ON_CALL` -> `On call`. */
export function label(enumObject, value) {
  const name = enumObject[value] ?? "UNSPECIFIED";
  const words = name.toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `document.getElementById`, failing loudly when the page lacks it. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el;
}

/** Creates an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * Follows a server stream for as long as the page needs it: each message to
 * `onItem`, errors to `onError`, reopened `retryMs` after it ends or fails,
 * until `signal` aborts.
 */
export async function follow(open, onItem, { onError, retryMs = 2000, signal } = {}) {
  while (!signal?.aborted) {
    try {
      for await (const item of open(signal)) onItem(item);
    } catch (err) {
      if (signal?.aborted) return;
      onError?.(err);
    }
    await new Promise((r) => setTimeout(r, retryMs));
  }
}

/** A random request id, so a retried click is applied once. */
export function requestId() {
  return crypto.randomUUID();
}

/**
 * The RTCPeerConnection settings the server gives this user: its STUN and
 * TURN servers (TURN credentials made for this connection) and whether
 * only relayed candidates may be used. A server that cannot say leaves
 * direct connections only, and the console says why.
 */
export async function rtcConfiguration(api) {
  try {
    const ice = await api.session.getIceServers({});
    return {
      iceServers: ice.iceServers.map((s) => ({ urls: s.urls, username: s.username || undefined, credential: s.credential || undefined })),
      iceTransportPolicy: ice.relayOnly ? "relay" : "all",
    };
  } catch (err) {
    console.warn(`no ICE servers from the server (${describe(err)}); connecting directly`);
    return { iceServers: [] };
  }
}

/**
 * A WebRTC session with hotline: the local microphone out, the remote audio
 * into `audioEl`. Gathers every candidate before sending the offer (hotline
 * answers with all of its own), so one request/response sets it up. Once
 * connected, `audioEl.dataset.path` says how: host, srflx or relay.
 */
export async function connectAudio({ api, stream, audioEl, send }) {
  const pc = new RTCPeerConnection(await rtcConfiguration(api));
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") candidatePath(pc).then((path) => { audioEl.dataset.path = path; });
  });
  if (stream) {
    for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  } else {
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  pc.ontrack = (ev) => {
    audioEl.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
    audioEl.play().catch(() => {});
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await gathered(pc);
  const answerSdp = await send(pc.localDescription.sdp);
  await pc.setRemoteDescription({ type: "answer", sdp: answerSdp });
  return pc;
}

/** The local candidate type of the pair in use: host, srflx or relay. */
async function candidatePath(pc) {
  const stats = await pc.getStats();
  let pairId = null;
  stats.forEach((r) => { if (r.type === "transport" && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId; });
  const pair = pairId ? stats.get(pairId) : [...stats.values()].find((r) => r.type === "candidate-pair" && r.nominated && r.state === "succeeded");
  const local = pair ? stats.get(pair.localCandidateId) : null;
  return local?.candidateType ?? "unknown";
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    // Host candidates on a LAN come at once; don't wait on a slow STUN-less
    // interface for ever.
    setTimeout(resolve, 3000);
  });
}

/** A level meter (0..1) of a media stream, read on each animation frame. */
export function levelMeter(stream, onLevel) {
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  let running = true;
  const tick = () => {
    if (!running) return;
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    onLevel(Math.min(1, Math.sqrt(sum / buf.length) * 4));
    requestAnimationFrame(tick);
  };
  ctx.resume().catch(() => {});
  tick();
  return () => {
    running = false;
    ctx.close().catch(() => {});
  };
}
