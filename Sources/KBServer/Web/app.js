// kb's web page: ask, search, documents, feedback and status over kb's own REST API (same origin).
// Written by hand, no dependencies. Every piece of document text, file name and model output is inserted as
// text (textContent / text nodes), never as HTML.
"use strict";

// ---- Interface text, English and Chinese -------------------------------------------------------------------

const TEXT = {
  en: {
    ask: "Ask", search: "Search", documents: "Documents", feedback: "Feedback", status: "Status",
    askPlaceholder: "Ask a question about your documents…", followUpPlaceholder: "Ask a follow-up…",
    send: "Ask", newConversation: "New conversation", conversations: "Conversations", noConversations: "No conversations yet.",
    writing: "Writing…", retrieving: "Looking for passages…", sources: "Sources", closest: "Closest passages",
    abstained: "kb did not find an answer in the documents.", supported: "supported", unsupported: "not supported",
    groundedness: "Groundedness", relevance: "Relevance", retrieval: "Retrieval confidence", citationAccuracy: "Citation accuracy",
    explain: "Explain", hideExplain: "Hide explanation", why: "Why these passages", sentences: "Sentences and their support",
    keywordRank: "keyword #", vectorRank: "vector #", matched: "matched", support: "support",
    helpful: "Helpful", notHelpful: "Not helpful", comment: "Comment (optional)", sendRating: "Send rating",
    thanks: "Thanks — rating saved.", changed: "kb checked and changed the model's answer.", replaced: "The streamed text was replaced by the checked answer.",
    withdrawn: "kb withdrew the text so far:", repaired: "kb rejected the model's first answer and repaired it:", quoted: "Quoted from the passages (the model's answers did not pass kb's check).",
    attempts: "Attempts", kept: "kept", rejected: "rejected",
    searchPlaceholder: "Search your documents…", mode: "Mode", auto: "auto", hybrid: "hybrid", keyword: "keyword", vector: "vector",
    noResults: "No passages match.", results: "results", seconds: "s",
    allFolders: "All folders", allFormats: "All formats", failed: "Files that could not be ingested", chunks: "chunks",
    path: "Path", format: "Format", size: "Size", title: "Title", lines: "lines", page: "page", openAt: "Open at this place",
    fromChunks: "The file changed since it was ingested; this is the indexed text.", back: "Back",
    answers: "Answers", rated: "Rated", up: "Up", down: "Down", worst: "Lowest-rated answers", byDay: "Ratings by day", none: "None.",
    database: "Database", chunksCount: "Chunks", vectors: "Vectors", models: "Embedding models", lastIngest: "Last ingest", formats: "Formats",
    tokenTitle: "Access token", tokenHelp: "This kb daemon needs its API token (KB_API_TOKEN). It is kept in this browser only.",
    tokenSave: "Continue", tokenWrong: "That token was not accepted.", tokenSet: "Token", error: "Error",
    turn: "Turn", question: "Question",
  },
  zh: {
    ask: "提问", search: "搜索", documents: "文档", feedback: "反馈", status: "状态",
    askPlaceholder: "就你的文档提一个问题……", followUpPlaceholder: "继续追问……",
    send: "提问", newConversation: "新对话", conversations: "对话", noConversations: "还没有对话。",
    writing: "正在生成……", retrieving: "正在检索段落……", sources: "来源", closest: "最接近的段落",
    abstained: "kb 在文档中没有找到答案。", supported: "有依据", unsupported: "无依据",
    groundedness: "依据度", relevance: "相关度", retrieval: "检索置信度", citationAccuracy: "引用准确率",
    explain: "解释", hideExplain: "隐藏解释", why: "为什么检索到这些段落", sentences: "逐句依据",
    keywordRank: "关键词第 ", vectorRank: "向量第 ", matched: "匹配", support: "依据",
    helpful: "有帮助", notHelpful: "没帮助", comment: "评论（可选）", sendRating: "提交评价",
    thanks: "谢谢，评价已保存。", changed: "kb 检查并修改了模型的回答。", replaced: "流式输出的文字已被检查后的回答替换。",
    withdrawn: "kb 撤回了已输出的文字：", repaired: "kb 否决了模型的第一个回答并进行了修复：", quoted: "直接引用段落原文（模型的回答未通过 kb 的检查）。",
    attempts: "尝试", kept: "采用", rejected: "否决",
    searchPlaceholder: "搜索你的文档……", mode: "模式", auto: "自动", hybrid: "混合", keyword: "关键词", vector: "向量",
    noResults: "没有匹配的段落。", results: "条结果", seconds: "秒",
    allFolders: "全部文件夹", allFormats: "全部格式", failed: "未能导入的文件", chunks: "块",
    path: "路径", format: "格式", size: "大小", title: "标题", lines: "行", page: "页", openAt: "在原文中打开",
    fromChunks: "文件在导入后已改变；这里显示的是索引中的文字。", back: "返回",
    answers: "回答", rated: "已评价", up: "赞", down: "踩", worst: "评价最低的回答", byDay: "每日评价", none: "无。",
    database: "数据库", chunksCount: "块", vectors: "向量", models: "嵌入模型", lastIngest: "最近一次导入", formats: "格式",
    tokenTitle: "访问令牌", tokenHelp: "这个 kb 服务需要 API 令牌（KB_API_TOKEN）。令牌只保存在本浏览器中。",
    tokenSave: "继续", tokenWrong: "令牌不正确。", tokenSet: "令牌", error: "错误",
    turn: "轮", question: "问题",
  },
};

let lang = localStorage.getItem("kb-lang") || ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");
const t = (key) => (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;

// ---- DOM helpers: text only -----------------------------------------------------------------------------------

/** Makes an element; strings among the children become text nodes. `attrs` are set as properties or attributes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (selector, root = document) => root.querySelector(selector);
const clear = (el) => { while (el.firstChild) el.removeChild(el.firstChild); return el; };

/** Text split at code-point offsets (kb's offsets count Unicode scalars), with the ranges wrapped in <mark>. */
function marked(text, ranges, className) {
  const points = Array.from(text || "");
  const sorted = (ranges || []).map(([s, e]) => [Math.max(0, s), Math.min(points.length, e)]).filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out = [];
  let at = 0;
  for (const [s, e] of sorted) {
    if (s < at) continue;
    if (s > at) out.push(points.slice(at, s).join(""));
    out.push(h("mark", { class: className }, points.slice(s, e).join("")));
    at = e;
  }
  if (at < points.length) out.push(points.slice(at).join(""));
  return out;
}

function place(item) {
  if (item.locator) return item.locator;   // "slide 3", "sheet Budget, rows 4-9", "p. 2, OCR, 91% confidence"
  const lines = item.start_line === item.end_line ? `L${item.start_line}` : `L${item.start_line}-L${item.end_line}`;
  return (item.page ? `p.${item.page} ` : "") + lines;
}

function shortPath(path) {
  const parts = (path || "").split("/");
  return parts.length > 3 ? "…/" + parts.slice(-3).join("/") : path;
}

const number = (value, digits = 2) => (typeof value === "number" ? value.toFixed(digits) : "–");

// ---- API: same origin, bearer token from the user when the daemon has one ------------------------------------

const tokenKey = "kb-token";
let pendingToken = null;

class APIError extends Error {
  constructor(status, message, type) { super(message); this.status = status; this.type = type; }
}

function headers(extra) {
  const out = Object.assign({ Accept: "application/json" }, extra || {});
  const token = localStorage.getItem(tokenKey);
  if (token) out.Authorization = "Bearer " + token;
  return out;
}

/** Asks the user for the token once; resolves when one was entered. */
function askForToken(wrong) {
  if (pendingToken) return pendingToken;
  const dialog = $("#token-dialog");
  $("#token-title").textContent = t("tokenTitle");
  $("#token-help").textContent = t("tokenHelp");
  $("#token-save").textContent = t("tokenSave");
  const error = $("#token-error");
  error.textContent = t("tokenWrong");
  error.hidden = !wrong;
  $("#token-input").value = "";
  pendingToken = new Promise((resolve, reject) => {
    $("#token-form").onsubmit = () => {
      localStorage.setItem(tokenKey, $("#token-input").value.trim());
      pendingToken = null;
      dialog.onclose = null;
      dialog.close();
      renderChrome();
      resolve();
    };
    // Closed without a token (Esc): the request fails with a message; the token button asks again.
    dialog.onclose = () => {
      pendingToken = null;
      dialog.onclose = null;
      reject(new APIError(401, t("tokenTitle")));
    };
  });
  if (!dialog.open) dialog.showModal();
  return pendingToken;
}

/** Calls the API; on 401 asks for the token and tries again. */
async function api(path, options = {}, retried = false) {
  const init = { method: options.method || "GET", headers: headers(options.body ? { "Content-Type": "application/json" } : {}),
                 signal: viewSignal };
  if (options.body) init.body = JSON.stringify(options.body);
  const response = await fetch(path, init);
  if (response.status === 401) {
    await askForToken(retried || !!localStorage.getItem(tokenKey));
    return api(path, options, true);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new APIError(response.status, (body.error && body.error.message) || response.statusText, body.error && body.error.type);
  return body;
}

/** POSTs and reads Server-Sent Events, calling `onEvent(name, data)` for each. */
async function stream(path, body, onEvent, retried = false) {
  const response = await fetch(path, {
    method: "POST", headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }), body: JSON.stringify(body),
    signal: viewSignal,
  });
  if (response.status === 401) {
    await askForToken(retried || !!localStorage.getItem(tokenKey));
    return stream(path, body, onEvent, true);
  }
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    throw new APIError(response.status, (error.error && error.error.message) || response.statusText);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) {
        if (name === "answer" || name === "error") finished = true;
        onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }
  if (!finished) throw new APIError(0, "The answer stream ended before the answer arrived.");
}

function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, `${t("error")}: ${error.message}`);
}

// ---- Navigation: every view has its own URL ------------------------------------------------------------------

const views = [["/ask", "ask"], ["/search", "search"], ["/documents", "documents"], ["/feedback", "feedback"], ["/status", "status"]];

function go(url, replace = false) {
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  if (location.pathname + location.search === rendered) highlightCurrent(); else route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || link.target) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;   // in-page anchor
  if (!views.some(([path]) => url.pathname === path || url.pathname.startsWith(path + "/"))) return;
  event.preventDefault();
  go(url.pathname + url.search + url.hash);
});
window.addEventListener("popstate", () => {
  if (location.pathname + location.search === rendered) highlightCurrent(); else route();
});

function renderChrome() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  const nav = clear($("#nav"));
  for (const [path, key] of views) {
    const current = location.pathname === path || location.pathname.startsWith(path + "/") || (location.pathname === "/" && path === "/ask");
    nav.appendChild(h("a", { href: path, class: current ? "current" : "", "aria-current": current ? "page" : null }, t(key)));
  }
  $("#lang").textContent = lang === "zh" ? "English" : "中文";
  const button = $("#token-button");
  button.textContent = t("tokenSet");
  button.hidden = false;
}

$("#lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("kb-lang", lang);
  route();
});
$("#token-button").addEventListener("click", () => askForToken(false).then(route));

let rendered = null;      // pathname + search of the view on screen
let viewSignal = null;    // aborts the requests of the view on screen when another replaces it
let viewController = null;
let routeNumber = 0;

function route() {
  rendered = location.pathname + location.search;
  if (viewController) viewController.abort();
  viewController = new AbortController();
  viewSignal = viewController.signal;
  const number = ++routeNumber;
  renderChrome();
  const view = clear($("#view"));
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  let page;
  if (path === "/" || path === "/ask") page = askView(query);
  else if (path === "/search") page = searchView(query);
  else if (path === "/documents") page = query.get("chunk") ? chunkRedirect(query.get("chunk")) : documentsView(query);
  else if (path.startsWith("/documents/")) page = documentView(path.slice("/documents/".length));
  else if (path === "/feedback") page = feedbackView();
  else if (path === "/status") page = statusView();
  else page = Promise.resolve(h("p", {}, "Not found."));
  Promise.resolve(page).then((el) => { if (el && number === routeNumber) view.appendChild(el); })
    .catch((error) => { if (number === routeNumber && error.name !== "AbortError") view.appendChild(errorBox(error)); });
}

// ---- Ask -------------------------------------------------------------------------------------------------------

/** Answer text with its [n] markers as links to the sources. */
function answerText(text, prefix) {
  const out = [];
  let at = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    if (match.index > at) out.push(text.slice(at, match.index));
    out.push(h("a", { class: "cite", href: `#${prefix}-source-${match[1]}` }, `[${match[1]}]`));
    at = match.index + match[0].length;
  }
  out.push(text.slice(at));
  return out;
}

function documentLink(documentID, item, label) {
  const href = documentID ? `/documents/${documentID}#L${item.start_line}-L${item.end_line}` : `/documents?chunk=${encodeURIComponent(item.chunk_id)}`;
  return h("a", { href, class: "place", title: t("openAt") }, label || `${shortPath(item.path)} ${place(item)}`);
}

function qualityBar(quality) {
  const items = [["groundedness", quality.groundedness], ["relevance", quality.relevance], ["retrieval", quality.retrieval_confidence]];
  if (typeof quality.citation_accuracy === "number") items.push(["citationAccuracy", quality.citation_accuracy]);
  return h("dl", { class: "quality" }, items.map(([key, value]) => [
    h("dt", {}, t(key)),
    h("dd", {}, h("meter", { min: 0, max: 1, value: value || 0 }), " ", number(value)),
  ]));
}

function explanation(answer) {
  return h("div", { class: "explain" },
    h("h4", {}, t("why")),
    h("ol", {}, (answer.passages || []).map((hit) => h("li", {},
      documentLink(hit.document_id, hit), " ", whyLine(hit)))),
    (answer.attempts || []).length > 1 ? h("h4", {}, t("attempts")) : null,
    (answer.attempts || []).length > 1 ? h("ol", {}, answer.attempts.map((attempt) => h("li", { class: attempt.rejected ? "bad" : "ok" },
      `${attempt.strategy} · ${(attempt.passages || []).map((n) => `[${n}]`).join("")} · ${number(attempt.seconds)} ${t("seconds")} · `,
      attempt.rejected ? `${t("rejected")}: ${attempt.rejected}` : t("kept"),
      h("div", { class: "muted" }, attempt.text)))) : null,
    h("h4", {}, t("sentences")),
    h("ol", {}, (answer.sentences || []).map((sentence) => h("li", { class: sentence.supported ? "ok" : "bad" },
      sentence.text, " ",
      h("span", { class: "muted" }, `${t("support")} ${number(sentence.support)} · ${sentence.citations.map((n) => `[${n}]`).join(" ") || "–"}`)))));
}

function whyLine(hit) {
  const parts = [];
  const why = hit.explanation || {};
  if (why.keyword_rank) parts.push(`${t("keywordRank")}${why.keyword_rank}`);
  if (why.vector_rank) parts.push(`${t("vectorRank")}${why.vector_rank}` + (typeof why.vector_score === "number" ? ` (${number(why.vector_score)})` : ""));
  if ((hit.matched_terms || []).length) parts.push(`${t("matched")}: ${hit.matched_terms.slice(0, 8).join(", ")}`);
  return h("span", { class: "muted" }, parts.join(" · "));
}

function ratingForm(answerID) {
  const comment = h("textarea", { rows: 2, placeholder: t("comment"), class: "comment", "aria-label": t("comment") });
  const status = h("span", { class: "muted", role: "status" });
  let rating = null;
  const send = async () => {
    try {
      await api("/v1/feedback", { method: "POST", body: { answer_id: answerID, rating, comment: comment.value.trim() || undefined } });
      status.textContent = t("thanks");
      form.classList.add("sent");
      for (const control of form.querySelectorAll("button, textarea")) control.disabled = true;
    } catch (error) { status.textContent = `${t("error")}: ${error.message}`; }
  };
  const pick = (value) => () => {
    rating = value;
    upButton.classList.toggle("chosen", value === "up");
    downButton.classList.toggle("chosen", value === "down");
    sendButton.disabled = false;
  };
  const upButton = h("button", { type: "button", class: "rate up", title: t("helpful"), "aria-label": t("helpful"), onclick: pick("up") }, "▲ " + t("helpful"));
  const downButton = h("button", { type: "button", class: "rate down", title: t("notHelpful"), "aria-label": t("notHelpful"), onclick: pick("down") }, "▼ " + t("notHelpful"));
  const sendButton = h("button", { type: "button", class: "send-rating", disabled: true, onclick: send }, t("sendRating"));
  const form = h("div", { class: "rating" }, upButton, downButton, comment, sendButton, status);
  return form;
}

/** The checked answer: text with citation links, sources with the supporting sentence highlighted, scores, rating. */
function renderAnswer(answer, card) {
  const prefix = answer.answer_id;
  const body = $(".answer-text", card);
  const streamed = body.textContent;
  clear(body);
  if (answer.abstained) {
    card.classList.add("abstained");
    append(body, [h("strong", {}, t("abstained")), answer.abstain_reason ? h("span", { class: "muted" }, " " + answer.abstain_reason) : null]);
  } else {
    append(body, answerText(answer.answer, prefix));
  }
  // Say in one line what kb changed: a withheld answer replaces what streamed; a corrected one differs in words.
  const words = (text) => (text || "").replace(/\[\d+\]/g, "").replace(/[\s\p{P}]+/gu, " ").trim();
  const withdrawn = $(".note.withdrawn", card);
  if (withdrawn) withdrawn.remove();
  const attempts = answer.attempts || [];
  const kept = attempts.length > 1 && !answer.abstained ? attempts[attempts.length - 1] : null;
  if (kept && kept.strategy === "extractive") card.appendChild(h("p", { class: "note replaced" }, t("quoted")));
  else if (kept) card.appendChild(h("p", { class: "note replaced" }, `${t("repaired")} ${attempts[0].rejected || ""} → ${kept.strategy}`));
  else if (answer.abstained && (streamed.trim() || answer.replaced)) card.appendChild(h("p", { class: "note replaced" }, t("replaced")));
  else if (!answer.abstained && answer.generated_text && words(answer.generated_text) !== words(answer.answer)) card.appendChild(h("p", { class: "note" }, t("changed")));

  const byChunk = new Map((answer.passages || []).map((hit) => [hit.chunk_id, hit]));
  if (answer.abstained) {
    const hits = (answer.passages || []).slice(0, 5);
    if (hits.length) card.appendChild(h("section", { class: "sources" }, h("h3", {}, t("closest")),
      hits.map((hit) => h("div", { class: "source" }, documentLink(hit.document_id, hit), h("p", { class: "passage" }, marked(hit.snippet, hit.highlights))))));
  } else if ((answer.citations || []).length) {
    card.appendChild(h("section", { class: "sources" }, h("h3", {}, t("sources")), answer.citations.map((citation) => {
      const evidence = [];
      for (const sentence of answer.sentences || []) {
        for (const span of sentence.evidence || []) if (span.passage === citation.id) evidence.push([span.start, span.end]);
      }
      const hit = byChunk.get(citation.chunk_id);
      return h("div", { class: "source", id: `${prefix}-source-${citation.id}` },
        h("div", { class: "source-head" }, h("span", { class: "num" }, `[${citation.id}]`), " ",
          documentLink(hit && hit.document_id, citation), citation.heading ? h("span", { class: "muted" }, " · " + citation.heading) : null, " ",
          h("span", { class: citation.supported ? "badge ok" : "badge bad" }, citation.supported ? t("supported") : t("unsupported"))),
        h("p", { class: "passage" }, marked(citation.text, evidence, "evidence")));
    })));
  }
  card.appendChild(qualityBar(answer.quality || {}));
  const explainBox = h("div", { hidden: true }, explanation(answer));
  const toggle = h("button", { type: "button", class: "plain explain-toggle", onclick: () => {
    explainBox.hidden = !explainBox.hidden;
    toggle.textContent = explainBox.hidden ? t("explain") : t("hideExplain");
  } }, t("explain"));
  card.appendChild(h("div", { class: "row" }, toggle));
  card.appendChild(explainBox);
  card.appendChild(ratingForm(answer.answer_id));
  card.dataset.answerId = answer.answer_id;
}

/** A stored turn of a conversation (from the database: citations without their text). */
function renderTurn(turn) {
  const prefix = turn.id;
  const card = h("article", { class: "turn", dataset: { answerId: turn.id } },
    h("p", { class: "question" }, turn.question),
    h("div", { class: "answer-text" }, answerText(turn.answer, prefix)));
  if (turn.abstained) card.classList.add("abstained");
  if ((turn.citations || []).length) {
    card.appendChild(h("section", { class: "sources" }, h("h3", {}, t("sources")), turn.citations.map((citation) =>
      h("div", { class: "source", id: `${prefix}-source-${citation.rank}` }, h("span", { class: "num" }, `[${citation.rank}]`), " ",
        documentLink(null, citation), " ",
        h("span", { class: citation.supported === false ? "badge bad" : "badge ok" }, citation.supported === false ? t("unsupported") : t("supported"))))));
  }
  card.appendChild(qualityBar(turn.quality || {}));
  card.appendChild(ratingForm(turn.id));
  return card;
}

/** The conversation list, the current one marked; loaded again after each answer. */
function loadConversations(side, currentID) {
  api("/v1/conversations").then((list) => {
    for (const old of side.querySelectorAll(".list")) old.remove();
    const items = list.conversations || [];
    side.appendChild(items.length ? h("ul", { class: "list" }, items.map((c) => h("li", { class: c.id === currentID ? "current" : "" },
      h("a", { href: `/ask?conversation=${encodeURIComponent(c.id)}` }, c.title), h("span", { class: "muted" }, ` · ${c.turns}`))))
      : h("p", { class: "muted list" }, t("noConversations")));
  }).catch(() => {});
}

async function askView(query) {
  const conversationID = query.get("conversation");
  const question = query.get("q");
  const thread = h("div", { class: "thread", id: "thread" });
  const input = h("textarea", { id: "question", rows: 2, placeholder: conversationID ? t("followUpPlaceholder") : t("askPlaceholder"), "aria-label": t("ask") });
  const form = h("form", { class: "ask-form", onsubmit: (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const params = new URLSearchParams({ q: text });
    const current = thread.dataset.conversation;
    if (current) params.set("conversation", current);
    history.pushState(null, "", "/ask?" + params.toString());
    rendered = location.pathname + location.search;
    input.value = "";
    ask(text, current, thread, input);
  } }, input, h("button", { type: "submit", id: "ask-button" }, t("send")));
  input.addEventListener("keydown", (event) => { if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); } });

  const side = h("aside", { class: "conversations" }, h("h3", {}, t("conversations")),
    h("p", {}, h("a", { href: "/ask", class: "new" }, "+ " + t("newConversation"))));
  loadConversations(side, conversationID);

  const page = h("div", { class: "ask-page" }, side, h("section", { class: "ask-main" }, thread, form));
  if (conversationID) {
    thread.dataset.conversation = conversationID;
    try {
      const conversation = await api(`/v1/conversations/${encodeURIComponent(conversationID)}`);
      for (const turn of conversation.turns || []) thread.appendChild(renderTurn(turn));
    } catch (error) { thread.appendChild(errorBox(error)); }
  }
  if (question) setTimeout(() => ask(question, conversationID, thread, input), 0);
  setTimeout(() => input.focus(), 0);
  return page;
}

async function ask(question, conversationID, thread, input) {
  const started = performance.now();
  const status = h("p", { class: "muted working" }, t("retrieving"));
  const card = h("article", { class: "turn live" }, h("p", { class: "question" }, question), h("div", { class: "answer-text", "aria-live": "polite" }), status);
  thread.appendChild(card);
  card.scrollIntoView({ block: "end" });
  const body = $(".answer-text", card);
  try {
    await stream("/v1/ask", { question, conversation_id: conversationID || undefined, stream: true }, (name, data) => {
      if (name === "token") {
        if (!card.dataset.firstTokenMs) {
          card.dataset.firstTokenMs = String(Math.round(performance.now() - started));
          status.textContent = t("writing");
        }
        body.appendChild(document.createTextNode(data.text));
      } else if (name === "replaced") {
        // The text so far is withdrawn; its replacement streams next.
        clear(body);
        const note = $(".note.withdrawn", card) || card.insertBefore(h("p", { class: "note withdrawn" }), body.nextSibling);
        note.textContent = `${t("withdrawn")} ${data.reason}`;
      } else if (name === "answer") {
        status.remove();
        renderAnswer(data, card);
        card.classList.remove("live");
        card.dataset.totalMs = String(Math.round(performance.now() - started));
        if (data.conversation_id && card.isConnected) {
          thread.dataset.conversation = data.conversation_id;
          history.replaceState(null, "", "/ask?conversation=" + encodeURIComponent(data.conversation_id));
          rendered = location.pathname + location.search;
          input.placeholder = t("followUpPlaceholder");
          const side = $(".conversations");
          if (side) loadConversations(side, data.conversation_id);
        }
      } else if (name === "error") {
        status.remove();
        card.appendChild(errorBox(data.error || {}));
      }
    });
  } catch (error) {
    status.remove();
    if (error.name !== "AbortError") card.appendChild(errorBox(error));
  }
}

// ---- Search ----------------------------------------------------------------------------------------------------

async function searchView(query) {
  const q = query.get("q") || "";
  const mode = query.get("mode") || "";
  const explain = query.get("explain") === "1";
  const input = h("input", { type: "search", id: "search-input", value: q, placeholder: t("searchPlaceholder"), "aria-label": t("search") });
  const select = h("select", { id: "mode", "aria-label": t("mode") }, ["", "hybrid", "keyword", "vector"].map((m) => h("option", { value: m, selected: m === mode }, t(m || "auto"))));
  const check = h("input", { type: "checkbox", id: "explain", checked: explain });
  const submit = () => {
    const params = new URLSearchParams({ q: input.value.trim() });
    if (select.value) params.set("mode", select.value);
    if (check.checked) params.set("explain", "1");
    go("/search?" + params.toString());
  };
  const form = h("form", { class: "search-form", onsubmit: (event) => { event.preventDefault(); if (input.value.trim()) submit(); } },
    input, select, h("label", {}, check, " ", t("explain")), h("button", { type: "submit" }, t("search")));
  select.addEventListener("change", () => { if (input.value.trim()) submit(); });
  check.addEventListener("change", () => { if (input.value.trim()) submit(); });
  const page = h("div", { class: "search-page" }, form);
  if (!q) return page;
  try {
    const response = await api("/v1/search", { method: "POST", body: { query: q, mode: mode || undefined, k: 20 } });
    page.appendChild(h("p", { class: "muted" }, `${response.results.length} ${t("results")} · ${t(response.mode)} · ${number(response.seconds, 3)} ${t("seconds")}`,
      (response.warnings || []).map((w) => h("span", { class: "note" }, " " + w))));
    if (!response.results.length) page.appendChild(h("p", {}, t("noResults")));
    page.appendChild(h("ol", { class: "results" }, response.results.map((hit) => h("li", { class: "result" },
      h("div", { class: "source-head" }, documentLink(hit.document_id, hit), hit.heading ? h("span", { class: "muted" }, " · " + hit.heading) : null,
        h("span", { class: "muted score" }, " " + number(hit.score, 4))),
      h("p", { class: "passage" }, marked(hit.snippet, hit.highlights)),
      explain ? h("p", { class: "why" }, whyLine(hit)) : null))));
  } catch (error) { page.appendChild(errorBox(error)); }
  return page;
}

// ---- Documents -------------------------------------------------------------------------------------------------

function folderOf(path) { return path.slice(0, path.lastIndexOf("/")) || "/"; }

async function documentsView(query) {
  const list = await api("/v1/documents");
  const documents = list.documents || [];
  const folder = query.get("folder") || "";
  const format = query.get("format") || "";
  const folders = [...new Set(documents.map((d) => folderOf(d.path)))].sort();
  const formats = [...new Set(documents.map((d) => d.format))].sort();
  const update = () => {
    const params = new URLSearchParams();
    if (folderSelect.value) params.set("folder", folderSelect.value);
    if (formatSelect.value) params.set("format", formatSelect.value);
    go("/documents" + (params.toString() ? "?" + params : ""), true);
  };
  const folderSelect = h("select", { id: "folder", onchange: update, "aria-label": t("allFolders") }, h("option", { value: "" }, t("allFolders")),
    folders.map((f) => h("option", { value: f, selected: f === folder }, shortPath(f + "/x").replace(/\/x$/, "/"))));
  const formatSelect = h("select", { id: "format", onchange: update, "aria-label": t("allFormats") }, h("option", { value: "" }, t("allFormats")),
    formats.map((f) => h("option", { value: f, selected: f === format }, f)));
  const shown = documents.filter((d) => (!folder || folderOf(d.path) === folder || d.path.startsWith(folder + "/")) && (!format || d.format === format));
  const page = h("div", { class: "documents-page" }, h("div", { class: "row filters" }, folderSelect, formatSelect,
    h("span", { class: "muted" }, `${shown.length} / ${documents.length}`)));
  page.appendChild(h("table", { class: "documents" },
    h("thead", {}, h("tr", {}, h("th", {}, t("path")), h("th", {}, t("title")), h("th", {}, t("format")), h("th", {}, t("chunks")), h("th", {}, t("size")))),
    h("tbody", {}, shown.map((d) => h("tr", {},
      h("td", {}, h("a", { href: `/documents/${d.id}` }, shortPath(d.path))), h("td", {}, d.title || ""), h("td", {}, d.format),
      h("td", { class: "num" }, d.chunkCount), h("td", { class: "num" }, bytes(d.size)))))));
  const failed = list.failed || [];
  if (failed.length) {
    page.appendChild(h("section", { class: "failed" }, h("h3", {}, `${t("failed")} (${failed.length})`),
      h("ul", {}, failed.map((f) => h("li", {}, h("code", {}, shortPath(f.path)), " — ", f.error)))));
  }
  return page;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

async function chunkRedirect(chunkID) {
  const excerpt = await api("/v1/read", { method: "POST", body: { chunk_id: String(chunkID) } });
  go(`/documents/${excerpt.document_id}#chunk-${chunkID}`, true);
  return null;
}

/** The document's text with line numbers (or its chunks when lines are the source's), chunks marked; the place in
 *  the hash (#L12-L20 or #chunk-42) is highlighted and scrolled to. */
async function documentView(id) {
  const doc = await api(`/v1/documents/${encodeURIComponent(id)}`);
  const record = doc.document;
  const page = h("div", { class: "document-page" },
    h("p", {}, h("a", { href: "/documents" }, "← " + t("documents"))),
    h("h2", {}, record.title || shortPath(record.path)),
    h("p", { class: "muted" }, record.path, ` · ${record.format} · ${record.chunkCount} ${t("chunks")}`));
  if (doc.source === "chunks") page.appendChild(h("p", { class: "note" }, t("fromChunks")));
  const chunks = doc.chunks || [];
  const body = h("div", { class: "doc-text", lang: "" });
  if (doc.lines_match) {
    const lines = doc.text.split("\n");
    if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
    const owner = new Array(lines.length + 1).fill(null);
    for (const chunk of chunks) for (let n = chunk.start_line; n <= chunk.end_line && n <= lines.length; n++) if (owner[n] === null) owner[n] = chunk;
    const firstLine = new Map();
    for (const c of chunks) firstLine.set(c.start_line, (firstLine.get(c.start_line) || []).concat([c]));
    lines.forEach((line, index) => {
      const n = index + 1;
      const chunk = owner[n];
      const row = h("div", { class: "line" + (chunk ? ` in-chunk c${chunk.ordinal % 2}` : ""), id: `L${n}`, dataset: chunk ? { chunk: chunk.chunk_id } : {} },
        h("a", { class: "ln", href: `#L${n}` }, String(n)), h("span", { class: "lt" }, line || " "));
      for (const starts of firstLine.get(n) || []) {
        row.insertBefore(h("span", { class: "chunk-anchor", id: `chunk-${starts.chunk_id}`, title: starts.heading }, ""), row.firstChild);
      }
      body.appendChild(row);
    });
  } else {
    // Source line numbers that are not the text's lines (HTML, PDF pages): one block per chunk, overlaps left out.
    const points = Array.from(doc.text);
    let at = 0;
    for (const chunk of chunks.slice().sort((a, b) => a.start_offset - b.start_offset)) {
      const start = Math.max(at, chunk.start_offset);
      const text = points.slice(start, chunk.end_offset).join("");
      at = Math.max(at, chunk.end_offset);
      body.appendChild(h("section", { class: `chunk-block c${chunk.ordinal % 2}`, id: `chunk-${chunk.chunk_id}`, dataset: { start: chunk.start_line, end: chunk.end_line } },
        h("div", { class: "chunk-label muted" }, place(chunk) + (chunk.heading ? ` · ${chunk.heading}` : "")),
        h("div", { class: "lt" }, text)));
    }
  }
  page.appendChild(body);
  body.chunks = chunks;
  setTimeout(highlightCurrent, 0);
  return page;
}

function highlightCurrent() {
  const body = $(".doc-text");
  if (body) highlightPlace(body, !!body.querySelector(".line"), body.chunks || []);
}

function highlightPlace(body, linesMatch, chunks) {
  for (const el of body.querySelectorAll(".target")) el.classList.remove("target");
  const hash = decodeURIComponent(location.hash.slice(1));
  let first = null;
  const lines = /^L(\d+)(?:-L?(\d+))?$/.exec(hash);
  const chunk = /^chunk-(\d+)$/.exec(hash);
  if (lines) {
    const from = Number(lines[1]), to = Number(lines[2] || lines[1]);
    if (linesMatch) {
      for (let n = from; n <= to; n++) { const el = body.querySelector(`#L${n}`); if (el) { el.classList.add("target"); first = first || el; } }
    } else {
      for (const block of body.querySelectorAll(".chunk-block")) {
        if (Number(block.dataset.end) >= from && Number(block.dataset.start) <= to) { block.classList.add("target"); first = first || block; }
      }
    }
  } else if (chunk) {
    const id = chunk[1];
    const span = chunks.find((c) => c.chunk_id === id);
    if (linesMatch && span) {
      for (let n = span.start_line; n <= span.end_line; n++) { const el = body.querySelector(`#L${n}`); if (el) { el.classList.add("target"); first = first || el; } }
    } else {
      const block = body.querySelector(`#chunk-${id}`);
      if (block) { block.classList.add("target"); first = block; }
    }
  }
  if (first) first.scrollIntoView({ block: "center" });
}
window.addEventListener("hashchange", highlightCurrent);

// ---- Feedback and status ---------------------------------------------------------------------------------------

async function feedbackView() {
  const report = await api("/v1/feedback?worst=20");
  return h("div", { class: "feedback-page" },
    h("dl", { class: "counts" }, [["answers", report.answers], ["rated", report.rated], ["up", report.up], ["down", report.down]]
      .map(([key, value]) => [h("dt", {}, t(key)), h("dd", { id: `count-${key}` }, String(value))])),
    h("h3", {}, t("byDay")),
    report.days.length ? h("table", {}, h("tbody", {}, report.days.map((d) => h("tr", {}, h("td", {}, d.date), h("td", {}, `▲ ${d.up}`), h("td", {}, `▼ ${d.down}`)))))
      : h("p", { class: "muted" }, t("none")),
    h("h3", {}, t("worst")),
    report.worst.length ? h("ol", { class: "worst" }, report.worst.map((item) => h("li", {},
      h("p", { class: "question" }, item.answer.question), h("p", {}, item.answer.answer),
      h("p", { class: "muted" }, `▲ ${item.up} · ▼ ${item.down}`, item.comments.map((c) => h("span", { class: "comment-text" }, " · " + c))))))
      : h("p", { class: "muted" }, t("none")));
}

async function statusView() {
  const status = await api("/v1/status");
  const rows = [["database", status.database], ["documents", status.documents], ["chunksCount", status.chunks], ["vectors", status.embeddings],
    ["formats", Object.entries(status.formats || {}).map(([k, v]) => `${k} ${v}`).join(", ")]];
  const page = h("div", { class: "status-page" }, h("dl", { class: "counts" }, rows.map(([key, value]) => [h("dt", {}, t(key)), h("dd", { id: `status-${key}` }, String(value))])));
  page.appendChild(h("h3", {}, t("models")));
  page.appendChild((status.embedding_models || []).length
    ? h("ul", {}, status.embedding_models.map((m) => h("li", {}, `${m.model}: ${m.vectors} × ${m.dimension}`)))
    : h("p", { class: "muted" }, t("none")));
  page.appendChild(h("h3", {}, t("lastIngest")));
  const last = status.last_ingest;
  page.appendChild(last ? h("p", {}, `${last.started_at} · ${last.status} · +${last.added} ~${last.updated} −${last.removed} ✗${last.failed}`) : h("p", { class: "muted" }, t("none")));
  if ((status.failed || []).length) {
    page.appendChild(h("h3", {}, t("failed")));
    page.appendChild(h("ul", {}, status.failed.map((f) => h("li", {}, h("code", {}, shortPath(f.path)), " — ", f.error))));
  }
  return page;
}

route();
