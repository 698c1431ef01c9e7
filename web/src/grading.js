// Grading a recording in the supervisor console: the recording plays while
// its quality signals show (talk share, overtalk, longest silence, holds,
// each long hold flagged for the grader), and the scorecard is filled in,
// A-F per criterion, with the grades the signals suggest already chosen
// (efficiency, holds, etiquette) and their reasons beside them. Saved
// through GradeCall; the grade then counts in the agent's report.
import { $, clock, h, ms } from "./api.js";

const LETTERS = ["A", "B", "C", "D", "E", "F"];

const FLAG_TEXT = {
  "fine": "hold up to 6 s",
  "apology-to-check": "hold over 6 s, apology to check",
  "no-apology": "hold over 6 s, no word soon after",
};

const pct = (v) => `${Math.round(v * 100)}%`;
const secs = (v) => `${(Number(v) / 1000).toFixed(1)} s`;

// The signals' cells of a recordings row.
export function signalCells(r) {
  const s = r.signals;
  if (!s) return [h("td", { class: "muted" }, r.live ? "" : "-"), h("td", {}), h("td", {}), h("td", {})];
  const long = s.holds.filter((x) => x.flag !== "fine");
  const toCheck = long.filter((x) => x.flag === "apology-to-check").length;
  return [
    h("td", { class: "talk-share" }, pct(s.agentTalkShare)),
    h("td", {}, secs(s.overtalkMs)),
    h("td", {}, secs(s.longestSilenceMs)),
    h("td", { class: long.length ? "warn" : "" }, long.length ? `${long.length} long (${toCheck} to check)` : String(s.holds.length)),
  ];
}

// What the signals say, in lines a grader reads while listening.
function signalSummary(s, seek) {
  if (!s) return [h("p", { class: "muted" }, "No quality signals for this recording.")];
  const lines = [
    h("li", {}, `Talk: agent ${pct(s.agentTalkShare)} (${secs(s.agentTalkMs)}), caller ${secs(s.callerTalkMs)}`),
    h("li", {}, `Overtalk: ${secs(s.overtalkMs)}`),
    h("li", {}, `Longest silence: ${secs(s.longestSilenceMs)} at `,
      h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); seek(ms(s.longestSilenceAtMs)); } }, clock(ms(s.longestSilenceAtMs)))),
  ];
  for (const x of s.holds) {
    lines.push(h("li", { class: `hold ${x.flag}` },
      `${FLAG_TEXT[x.flag] ?? x.flag}: ${clock(ms(x.startMs))}-${clock(ms(x.endMs))} (${secs(Number(x.endMs - x.startMs))})`,
      x.agentSpokeAfterMs !== undefined ? `, agent spoke ${secs(x.agentSpokeAfterMs)} after resuming ` : " ",
      h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); seek(ms(x.endMs)); } }, "listen")));
  }
  return [h("ul", { class: "signals" }, ...lines)];
}

// Opens the grading panel for a recording (and plays it).
export async function openGrading(api, recordingId, { play, showError, onGraded }) {
  const sheet = await api.supervisor.getGradingSheet({ recordingId });
  const rec = sheet.recording;
  const card = sheet.scorecard;
  const suggested = new Map(sheet.suggestions.map((s) => [s.criterion, s]));
  const audio = $("playback");
  const seek = (msAt) => { audio.currentTime = msAt / 1000; audio.play(); };
  const rows = card.criteria.map((c) => {
    const s = suggested.get(c.name);
    const select = h("select", { name: c.name, dataset: { criterion: c.name } },
      h("option", { value: "" }, "-"),
      ...LETTERS.map((l) => h("option", { value: l }, l)));
    if (s) select.value = s.grade;
    return h("tr", { dataset: { criterion: c.name } },
      h("td", {}, c.name), h("td", {}, String(c.weight)), h("td", {}, select),
      h("td", { class: "muted suggestion" }, s ? `suggested ${s.grade}: ${s.reason}` : ""));
  });
  const comments = h("textarea", { id: "grade-comments", rows: "2", placeholder: "Comments for the agent" });
  const result = h("p", { id: "grade-result" });
  const save = h("button", { id: "grade-save", type: "submit" }, "Save grade");
  const form = h("form", { id: "grade-form" },
    h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", {}, "Criterion"), h("th", {}, "Weight"), h("th", {}, "Grade"), h("th", {}, "Signals"))),
      h("tbody", {}, ...rows)),
    comments, save, result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const grades = [...form.querySelectorAll("select")].map((s) => ({ criterion: s.dataset.criterion, grade: s.value }));
    const missing = grades.filter((g) => !g.grade).map((g) => g.criterion);
    if (missing.length) {
      result.textContent = `Grade every criterion (missing: ${missing.join(", ")})`;
      return;
    }
    try {
      const g = await api.supervisor.gradeCall({ callId: rec.callId, grades, comments: comments.value });
      result.textContent = `Graded ${g.score.toFixed(1)} / 100 for ${g.agentId}`;
      onGraded?.(g);
    } catch (err) {
      showError(err);
    }
  });
  $("grading").replaceChildren(
    h("h3", {}, `Grading ${rec.callId}: ${rec.agentId || "no agent"}, ${rec.queue}, ${clock(ms(rec.durationMs))}`),
    ...signalSummary(rec.signals, seek),
    form);
  $("grading").hidden = false;
  $("grading").dataset.recording = rec.recordingId;
  $("grading").scrollIntoView({ block: "start" });
  await play(rec.recordingId);
}
