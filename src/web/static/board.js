// The journey board: moves one token per message (per recipient, once they part ways)
// from box to box as transcript events arrive on /events. Plain JavaScript, no framework.
"use strict";

const lang = document.body.dataset.lang === "id" ? "?lang=id" : "";
const slow = document.getElementById("slow");
const status = document.getElementById("status");
const tokens = new Map();   // "ID" or "ID|recipient" -> element
const queue = [];
let holding = false;

// Who an event is about: `<bob@localhost> is local`, `delivered to bob: …`, `read by bob …`.
function recipient(text) {
  let m = text.match(/^<([^>@]+)(?:@[^>]*)?>/);
  if (m) return m[1].split("+")[0].toLowerCase();
  m = text.match(/^(?:delivered to|read by|deleted by) ([^:\s]+)/);
  return m ? m[1].toLowerCase() : null;
}

function outcome(text) {
  if (/\b(failed|bounce[sd]?|refused)\b/i.test(text) && !/^bounce \S+ sent/.test(text)) return "failed";
  if (/\b(deferred|will retry|not delivered|next attempt)\b/i.test(text)) return "deferred";
  return "";
}

function makeToken(id, who) {
  const a = document.createElement("a");
  a.className = "token";
  a.href = "/journey/" + encodeURIComponent(id) + lang;
  a.dataset.id = id;
  if (who) a.dataset.recipient = who;
  a.textContent = id.slice(-6);
  if (who) {
    const small = document.createElement("small");
    small.textContent = who;
    a.appendChild(small);
  }
  return a;
}

function place(token, ev) {
  const box = document.querySelector("#box" + ev.step + " .tokens");
  if (!box) return;
  const kind = outcome(ev.text);
  token.classList.remove("deferred", "failed");
  if (kind) token.classList.add(kind);
  token.dataset.step = ev.step;
  token.title = "[" + ev.step + " " + ev.label + "] " + ev.text;
  box.appendChild(token);
  token.classList.add("arrived");
  setTimeout(() => token.classList.remove("arrived"), 500);
}

function apply(ev) {
  status.textContent = ev.stamp + "  " + ev.id + ": " + ev.text;
  const who = recipient(ev.text);
  if (who) {
    const key = ev.id + "|" + who;
    let token = tokens.get(key);
    if (!token) {
      // The recipients part ways: the message's single token gives way to one per recipient.
      const whole = tokens.get(ev.id);
      if (whole) { whole.remove(); tokens.delete(ev.id); }
      token = makeToken(ev.id, who);
      tokens.set(key, token);
    }
    place(token, ev);
    return;
  }
  const mine = [...tokens.entries()].filter(([k]) => k === ev.id || k.startsWith(ev.id + "|"));
  if (mine.length === 0) {
    const token = makeToken(ev.id, null);
    tokens.set(ev.id, token);
    // A message is born in the SMTP dialogue; its client (step 1) came just before.
    if (ev.step === 2) place(token, { step: 1, label: "MUA", text: "a mail client connected" });
    place(token, ev);
    return;
  }
  // An event about the whole message moves those recipients still on their way, forwards only.
  for (const [, token] of mine) {
    const at = Number(token.dataset.step);
    if (at < 6 && ev.step >= at && !token.classList.contains("failed")) place(token, ev);
  }
}

// Slow motion: each step is held a moment, so a class can follow it.
function pump() {
  if (holding) return;
  const ev = queue.shift();
  if (!ev) return;
  apply(ev);
  if (slow.checked) {
    holding = true;
    setTimeout(() => { holding = false; pump(); }, 1500);
  } else {
    pump();
  }
}

const source = new EventSource("/events");
source.addEventListener("step", (e) => {
  try { queue.push(JSON.parse(e.data)); } catch (_) { return; }
  pump();
});
source.addEventListener("dropped", (e) => {
  status.textContent = e.data + " events were skipped (too many at once); open a token for its whole journey.";
});
source.addEventListener("open", () => document.body.classList.add("live"));
