// The "call us" test page: a caller's WebRTC call into a queue, for demos
// and the browser test. The telephony token stands in for the carrier or
// the website's backend that would start the call in production.
import { $, clients, clock, connectAudio, describe, initialToken, label, levelMeter, ms, requestId } from "./api.js";
import { CallOutcome, CallStatus } from "./gen/hotline/v1/common_pb.js";

const TOKEN_KEY = "hotline.caller.token";
let current = null; // { api, callId, pc, stream, stopMeter, watch }

async function call() {
  $("error").textContent = "";
  const token = $("token").value;
  const api = clients(token);
  const me = await api.session.whoAmI({});
  if (me.role !== "telephony" && me.role !== "admin") {
    throw new Error(`this is a ${me.role} token; placing calls needs a telephony token`);
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const started = await api.call.startCall({
    ani: $("ani").value.trim(),
    dnis: $("dnis").value.trim(),
    customerId: $("customer").value.trim(),
    requestId: requestId(),
  });
  const callId = started.callId;
  current = { api, callId, stream, pc: null, stopMeter: null, watch: new AbortController() };
  current.stopMeter = levelMeter(stream, (level) => {
    $("meter-bar").style.width = `${Math.round(level * 100)}%`;
  });
  $("call").disabled = true;
  $("hangup").disabled = false;
  show(started);
  current.pc = await connectAudio({
    api,
    stream,
    audioEl: $("remote"),
    send: async (sdp) => (await api.call.connectCallerMedia({ callId, offer: { sdp } })).sdp,
  });
  watch(current);
}

async function watch(c) {
  try {
    for await (const update of c.api.call.watchCall({ callId: c.callId }, { signal: c.watch.signal })) {
      show(update);
      if (update.status === CallStatus.ENDED) break;
    }
  } catch (err) {
    if (!c.watch.signal.aborted) $("error").textContent = describe(err);
  }
}

function show(c) {
  const status = {
    [CallStatus.QUEUED]: "Waiting for an agent",
    [CallStatus.OFFERING]: "Ringing an agent",
    [CallStatus.CONNECTED]: c.onHold ? "On hold" : "Talking to an agent",
    [CallStatus.ENDED]: "Call ended",
  }[c.status] ?? "Calling";
  $("status").textContent = status;
  $("status").dataset.status = (CallStatus[c.status] ?? "").toLowerCase();
  const waited = clock((ms(c.answeredAtUnixMs) || Date.now()) - ms(c.enqueuedAtUnixMs));
  $("detail").textContent = c.status === CallStatus.ENDED
    ? `${label(CallOutcome, c.outcome)}${c.endReason ? ` (${c.endReason})` : ""}`
    : `Queue ${c.queue}, waited ${waited}`;
  if (c.status === CallStatus.ENDED) finish();
}

function finish() {
  if (!current) return;
  current.watch.abort();
  current.pc?.close();
  current.stream.getTracks().forEach((t) => t.stop());
  current.stopMeter?.();
  current = null;
  $("call").disabled = false;
  $("hangup").disabled = true;
}

$("call-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  call().catch((err) => {
    $("error").textContent = describe(err);
    finish();
  });
});
$("hangup").addEventListener("click", async () => {
  if (!current) return;
  try {
    const ended = await current.api.call.endCall({ callId: current.callId, requestId: requestId() });
    show(ended);
  } catch (err) {
    $("error").textContent = describe(err);
  }
  finish();
});
$("token").value = initialToken(TOKEN_KEY);
