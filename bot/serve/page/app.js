// quoteqa's question page: plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const KO = (navigator.languages && navigator.languages.length ? navigator.languages[0] : navigator.language || "")
  .toLowerCase().startsWith("ko");
const UI = KO ? "ko" : "en";
const TEXT = {
  en: {
    tagline: "Questions about the news, answered with quotes from the articles.",
    label: "Your question", placeholder: "Ask about the news…", send: "Ask", reset: "New conversation",
    followup: "Follow-up questions are read with this conversation's earlier questions.",
    asking: "Looking for quotes…", answer: "Answer", unsure: "Not sure — check the quote", abstain: "No answer",
    confidence: "confidence", paragraph: "paragraph",
    // The twin is the same passage in the other language; which of the two is the original the
    // corpus does not say, so the button names the language it shows.
    twin: { ko: "Show in Korean", en: "Show in English", other: "Show in the other language" }, hide: "Hide",
    followsOn: "following up on:", failed: "The server could not answer", offline: "Cannot reach the server; check the connection and try again.",
    cleared: "New conversation: earlier questions are forgotten.",
  },
  ko: {
    tagline: "뉴스에 대한 질문에 기사 속 문장을 그대로 인용해 답합니다.",
    label: "질문", placeholder: "뉴스에 대해 물어보세요…", send: "질문하기", reset: "새 대화",
    followup: "이어지는 질문은 이 대화의 앞선 질문과 함께 읽습니다.",
    asking: "인용할 문장을 찾는 중…", answer: "답변", unsure: "확실하지 않음 — 인용을 확인하세요", abstain: "답 없음",
    confidence: "신뢰도", paragraph: "문단",
    twin: { ko: "한국어로 보기", en: "영어로 보기", other: "다른 언어로 보기" }, hide: "숨기기",
    followsOn: "이전 질문에 이어서:", failed: "서버가 답하지 못했습니다", offline: "서버에 연결할 수 없습니다. 연결을 확인하고 다시 시도하세요.",
    cleared: "새 대화를 시작했습니다. 앞선 질문은 잊습니다.",
  },
}[UI];
const MAX_HISTORY = 10;
const KEY = "quoteqa.session";

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || { turns: [], answers: [] }; }
  catch (e) { return { turns: [], answers: [] }; }
}
function save(state) {
  try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: keep it in memory */ }
}
let session = load();

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== "") node.append(c);
  return node;
}

// `aligned` (a quote's translation twin) may be one object, a list, or a string: show any of them.
function twinsOf(quote) {
  const a = quote.aligned;
  if (!a || (Array.isArray(a) && a.length === 0)) return [];
  const list = Array.isArray(a) ? a : [a];
  return list.map((t) => (typeof t === "string" ? { text: t } : t)).filter((t) => t && (t.text || t.sentences));
}

function citation(q) {
  const parts = [];
  const title = q.url ? el("a", { href: q.url, rel: "noopener noreferrer", target: "_blank" }, q.title || q.url) : (q.title || q.article);
  parts.push(title);
  const rest = [q.source, q.date, `${TEXT.paragraph} ${q.paragraph}`].filter(Boolean).join(" · ");
  return el("cite", {}, "— ", ...parts, rest ? ` · ${rest}` : "");
}

// A quote that opens with its own quotation mark keeps it; ours would double it (as in the CLI).
const OPENING_MARKS = ["“", '"', "‘", "'", "«", "「", "『", "„", "‚"];
function quoted(text) {
  return OPENING_MARKS.some((m) => text.startsWith(m)) ? text : `“${text}”`;
}

// `a.open`: the quotes whose twin the reader opened, kept with the answer in sessionStorage so
// a reload leaves them open.
function renderQuote(a, q, i) {
  const block = el("blockquote", { lang: q.language === "ko" ? "ko" : q.language === "en" ? "en" : null, "data-quote": String(i) },
    el("p", {}, quoted(q.text || "")), citation(q));
  const twins = twinsOf(q);
  if (twins.length) {
    const label = TEXT.twin[twins[0].language] || TEXT.twin.other;
    const isOpen = Array.isArray(a.open) && a.open.includes(i);
    const box = el("div", { class: "original", hidden: isOpen ? null : "" });
    for (const t of twins) {
      const text = t.text || (Array.isArray(t.sentences) ? t.sentences.join(" ") : String(t.sentences));
      const where = [t.title || t.article, t.paragraph ? `${TEXT.paragraph} ${t.paragraph}` : ""].filter(Boolean).join(" · ");
      box.append(el("p", { lang: t.language || null }, text, where ? el("small", {}, where) : null));
    }
    const button = el("button", { type: "button", class: "quiet twin-toggle", "aria-expanded": String(isOpen) },
      isOpen ? TEXT.hide : label);
    button.addEventListener("click", () => {
      const open = box.hidden;
      box.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? TEXT.hide : label;
      const opened = new Set(Array.isArray(a.open) ? a.open : []);
      if (open) opened.add(i); else opened.delete(i);
      a.open = [...opened];
      save(session);
    });
    block.append(el("div", { class: "twin" }, button, box));
  }
  return block;
}

function renderAnswer(a) {
  const verdict = ["answer", "unsure", "abstain"].includes(a.verdict) ? a.verdict : "abstain";
  const head = el("div", {},
    el("span", { class: `verdict ${verdict}` }, TEXT[verdict]),
    el("span", { class: "confidence" }, `${TEXT.confidence} ${Math.round((a.confidence || 0) * 100)}%`));
  const card = el("article", { class: "reply", "data-verdict": verdict }, el("h2", {}, a.question), head);
  if (a.context) card.append(el("p", { class: "context" }, `${TEXT.followsOn} ${a.context}`));
  if (a.message) card.append(el("p", { class: "message" }, a.message));
  (a.quotes || []).forEach((q, i) => card.append(renderQuote(a, q, i)));
  return card;
}

function renderAll() {
  const box = document.getElementById("answers");
  box.replaceChildren(...session.answers.slice().reverse().map(renderAnswer));
  document.getElementById("followup").hidden = session.turns.length === 0;
}

// What the next question is read with: the question, and where its first quote stood (the
// server finds the quote's sentences again from its passage and text, for "What next?").
function turnOf(a) {
  const first = a.quotes && a.quotes.length ? a.quotes[0] : null;
  const turn = { question: a.question, articles: first ? [first.article] : [], answered: !!a.answered };
  if (first && Number.isInteger(first.passage)) { turn.passage = first.passage; turn.quote = first.text; }
  return turn;
}

function status(text) { document.getElementById("status").textContent = text; }

async function ask(question) {
  const send = document.getElementById("send");
  send.disabled = true;
  status(TEXT.asking);
  try {
    const res = await fetch("/v1/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, history: session.turns.slice(-MAX_HISTORY), language: UI }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { status(`${TEXT.failed}: ${body.message || res.status}`); return false; }
    session.answers.push(body);
    session.answers = session.answers.slice(-30);
    session.turns.push(turnOf(body));
    session.turns = session.turns.slice(-MAX_HISTORY);
    save(session);
    document.getElementById("answers").prepend(renderAnswer(body));  // earlier cards keep their state
    document.getElementById("followup").hidden = false;
    status("");
    return true;
  } catch (e) {
    status(TEXT.offline);
    return false;
  } finally {
    send.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.lang = UI;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = TEXT[node.dataset.i18n];
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = TEXT[node.dataset.i18nPlaceholder];
  const form = document.getElementById("ask");
  const input = document.getElementById("question");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    if (await ask(question)) input.value = "";
  });
  input.addEventListener("keydown", (event) => {  // Enter asks; Shift+Enter is a new line
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("reset").addEventListener("click", () => {
    session = { turns: [], answers: [] };
    save(session);
    renderAll();
    status(TEXT.cleared);
  });
  renderAll();
});
