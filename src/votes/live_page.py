"""The big screen of the venue (``GET /events/{id}/live``): server-rendered HTML, a few lines
of JavaScript, nothing from a CDN.

The committee makes a display link (``POST /api/v1/events/{id}/display-links``) and opens it
on the projector: ``/events/{id}/live#display=<secret>``. The secret stays in the fragment
(never sent in a URL, never in a Referer); the page sends it as the ``X-Display-Link`` header
to read the meeting's public view (``GET …/display``: title, times, the check-in QR while the
meeting is open) and to get a stream ticket for an ``EventSource`` on ``…/results/stream``, so
the screen shows only what the visibility rule allows residents, needs no staff token and
never expires mid-meeting. A revoked or expired link blanks the screen with a clear message.

Made for a hall: the layout is in viewport units, so it fills a 1920×1080 or a 1280×720
projector alike (option labels 54 px and figures 108 px at 1080p, two thirds of that at
720p); check-ins and ballots arrive live through the stream; the QR goes once the meeting has
closed and the final page shows the results with the digest of the published receipts. Times
are shown in Asia/Shanghai whatever the projector's zone.
"""

from __future__ import annotations

import html
import json
import uuid

_PAGE = r"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>现场投票 · Live vote</title>
<style>
  :root { color-scheme: light; --k: 1; }
  * { box-sizing: border-box; }
  html, body { height: 100%; margin: 0; overflow: hidden; }
  body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
         background: #f2f4f7; color: #14202b; }
  #screen { height: 100vh; display: flex; flex-direction: column; }
  header { background: #b3261e; color: #fff; padding: 1.6vh 2.5vw 1.4vh; }
  header h1 { margin: 0; font-size: 6vh; line-height: 1.15; white-space: nowrap;
              overflow: hidden; text-overflow: ellipsis; }
  header .meta { display: flex; gap: 2.5vw; margin-top: .6vh; font-size: 3vh; opacity: .95; }
  header .meta #clock { margin-left: auto; font-variant-numeric: tabular-nums; }
  main { flex: 1; min-height: 0; display: grid; grid-template-columns: 1fr 30vw;
         gap: 2vw; padding: 2.2vh 2.5vw 1vh; }
  .card { background: #fff; border-radius: 1.2vh; box-shadow: 0 .2vh .8vh rgba(0,0,0,.08); }
  #board { display: flex; flex-direction: column; min-height: 0; padding: 1.6vh 2vw; }
  .figures { display: flex; justify-content: space-between; gap: 2vw;
             border-bottom: .25vh solid #e4e7eb; padding-bottom: 1vh; }
  .figure b { display: block; font-size: 10vh; line-height: 1.05; color: #b3261e;
              font-variant-numeric: tabular-nums; }
  .figure span { font-size: 2.8vh; color: #3e4c59; }
  #options { flex: 1; min-height: 0; display: flex; flex-direction: column;
             justify-content: space-evenly; }
  .option { display: grid; grid-template-columns: 1fr calc(19vh * var(--k)); column-gap: 2vw;
            align-items: center; }
  .option .name { font-size: calc(5vh * var(--k)); line-height: 1.2; font-weight: 600;
                  overflow: hidden; display: -webkit-box; -webkit-line-clamp: 2;
                  -webkit-box-orient: vertical; }
  .option .bar { grid-column: 1; height: calc(4.2vh * var(--k)); background: #e4e7eb;
                 border-radius: .8vh; overflow: hidden; margin-top: .6vh; }
  .option .bar i { display: block; height: 100%; width: 0; background: #d64545;
                   transition: width .6s; }
  .option .count { grid-column: 2; grid-row: 1 / span 2; text-align: right; }
  .option .count b { display: block; font-size: calc(10vh * var(--k)); line-height: 1;
                     font-variant-numeric: tabular-nums; color: #14202b; }
  .option .count span { font-size: calc(3.2vh * var(--k)); color: #3e4c59; }
  .note { font-size: 3vh; color: #3e4c59; margin: .8vh 0 0; }
  aside { display: flex; flex-direction: column; min-height: 0; padding: 2vh 1.6vw;
          align-items: center; justify-content: center; text-align: center; }
  #qr p { margin: 0 0 1vh; font-size: 4vh; font-weight: 600; }
  #qr img { width: min(26vw, 56vh); aspect-ratio: 1; image-rendering: pixelated; display: block; }
  #qr .code { margin-top: 1vh; font-size: 4.5vh; letter-spacing: .5vw; font-weight: 700;
              font-family: "Noto Sans Mono", "DejaVu Sans Mono", monospace; }
  #final h2 { margin: 0 0 1.5vh; font-size: 6vh; line-height: 1.2; color: #0b6e4f; }
  #final h2 small { display: block; font-size: 3.4vh; }
  #final .quorum { font-size: 3.4vh; margin: 0 0 3vh; }
  #final .label { font-size: 3vh; color: #3e4c59; margin: 0 0 1vh; }
  #digest { font-family: "Noto Sans Mono", "DejaVu Sans Mono", monospace; font-size: 3.6vh;
            line-height: 1.35; white-space: pre-line; margin: 0; }
  #final .hint { font-size: 2.4vh; color: #52606d; margin-top: 2vh; }
  footer { font-size: 2.2vh; color: #52606d; padding: 0 2.5vw 1vh; }
  #notice { position: fixed; inset: 0; display: flex; flex-direction: column;
            align-items: center; justify-content: center; background: #1d2a36; color: #fff;
            text-align: center; padding: 5vw; }
  #notice b { font-size: 7vh; }
  #notice p { font-size: 3.4vh; opacity: .85; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<div id="screen">
  <header>
    <h1 id="title">现场投票</h1>
    <div class="meta"><span id="venue"></span><span id="when"></span><span id="clock"></span></div>
  </header>
  <main>
    <section id="board" class="card">
      <div class="figures">
        <div class="figure"><b id="participants">0</b><span>已投票 · Voted</span></div>
        <div class="figure"><b id="turnout">0%</b><span>投票率 · Turnout</span></div>
        <div class="figure"><b id="checkins">0</b><span>已签到 · Checked in</span></div>
      </div>
      <div id="options"></div>
      <p id="hidden" class="note" hidden>各方案票数将在投票结束后公布
        · Results are shown when the vote closes</p>
    </section>
    <aside class="card">
      <div id="qr" hidden><p>扫码签到 · Scan to check in</p>
        <img id="qr-img" alt="签到二维码"><div class="code" id="qr-code"></div></div>
      <div id="final" hidden>
        <h2>投票已结束<small>最终结果 · Final results</small></h2>
        <p class="quorum" id="quorum"></p>
        <p class="label">回执摘要 SHA-256 · Receipts digest</p>
        <p id="digest"></p>
        <p class="hint">居民可下载全部回执自行核对 · Anyone can recount the published receipts</p>
      </div>
    </aside>
  </main>
  <footer id="status">连接中… · connecting</footer>
</div>
<div id="notice" hidden><b id="notice-title"></b><p id="notice-detail"></p></div>
<script>
"use strict";
const EVENT_ID = __EVENT_ID__;
const ZONE = "Asia/Shanghai";
const link = new URLSearchParams(location.hash.slice(1)).get("display") || "";
const headers = { "X-Display-Link": link, "Accept-Language": "zh-CN" };
const api = "/api/v1/events/" + EVENT_ID;
const $ = (id) => document.getElementById(id);
let stopped = false, source = null, timer = null, final = false;

function parts(date) {
  const out = {};
  const f = new Intl.DateTimeFormat("zh-CN", { timeZone: ZONE, hourCycle: "h23",
    year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
    second: "2-digit" });
  for (const p of f.formatToParts(date)) out[p.type] = p.value;
  return out;
}
function hm(date) { const p = parts(date); return p.hour + ":" + p.minute; }
function day(date) { const p = parts(date); return p.month + "月" + p.day + "日"; }
function tick() { const p = parts(new Date()); $("clock").textContent =
  "北京时间 " + p.hour + ":" + p.minute + ":" + p.second; }

function stop(title, detail) {
  stopped = true;
  if (source) source.close();
  clearTimeout(timer);
  $("screen").hidden = true;
  $("qr-img").removeAttribute("src");
  $("notice-title").textContent = title;
  $("notice-detail").textContent = detail || "";
  $("notice").hidden = false;
}

async function refused(r) {
  let body = {};
  try { body = await r.json(); } catch (e) { /* not problem+json */ }
  const titles = { display_link_revoked: "投屏链接已撤销", display_link_expired: "投屏链接已过期",
                   display_link_required: "需要投屏链接", display_link_invalid: "投屏链接无效" };
  stop(titles[body.code] || ("无法读取会议 (" + r.status + ")"), body.detail);
}

function show(t) {
  $("participants").textContent = t.participants;
  $("turnout").textContent = Math.round(t.turnout * 1000) / 10 + "%";
  $("checkins").textContent = t.check_in_count;
  $("hidden").hidden = !t.hidden;
  const box = $("options");
  document.documentElement.style.setProperty("--k", Math.min(1, 4 / Math.max(1, t.options.length)));
  for (const o of t.options) {
    let row = box.querySelector('[data-id="' + o.id + '"]');
    if (!row) {
      row = document.createElement("div");
      row.className = "option";
      row.dataset.id = o.id;
      row.innerHTML = '<div class="name"></div><div class="count"><b></b><span></span></div>' +
                      '<div class="bar"><i></i></div>';
      box.append(row);
    }
    row.querySelector(".name").textContent = o.title;
    row.querySelector(".count b").textContent = o.votes === null ? "—" : o.votes;
    row.querySelector(".count span").textContent =
      o.votes === null ? "" : "票 · " + Math.round(o.share * 1000) / 10 + "%";
    row.querySelector(".bar i").style.width = (o.share === null ? 0 : o.share * 100) + "%";
  }
  if (t.final) {
    final = true;
    $("qr").hidden = true;
    $("qr-img").removeAttribute("src");
    $("final").hidden = false;
    $("digest").textContent = (t.digest || "").replace(/(.{16})(?=.)/g, "$1\n");
    $("quorum").textContent = t.quorum === null ? "" :
      (t.quorum_met ? "已达到法定人数 " : "未达到法定人数 ") + t.quorum;
    $("status").textContent = "已结束 · closed";
  }
}

async function load() {
  if (stopped) return;
  clearTimeout(timer);
  let r;
  try { r = await fetch(api + "/display", { headers, cache: "no-store" }); }
  catch (e) { $("status").textContent = "网络中断，重新连接… · reconnecting";
              timer = setTimeout(load, 5000); return; }
  if (r.status === 401 || r.status === 404) { await refused(r); return; }
  if (!r.ok) { timer = setTimeout(load, 5000); return; }
  const d = await r.json();
  $("title").textContent = d.title;
  document.title = d.title + " · 现场投票";
  $("venue").textContent = d.venue || "";
  const start = new Date(d.starts_at), end = new Date(d.ends_at);
  $("when").textContent = day(start) + " " + hm(start) + "–" + hm(end);
  show(d.results);
  const c = d.check_in;
  if (c && !final) {
    $("qr-img").src = c.image;
    $("qr-code").textContent = c.code;
    $("qr").hidden = false;
    // A fresh code a few seconds before this one's window ends.
    timer = setTimeout(load, Math.max(5000, new Date(c.expires_at) - Date.now() - 5000));
  } else {
    $("qr").hidden = true;
  }
  if (!source && !d.results.final) follow();
}

async function follow() {
  if (stopped || final) return;
  let r;
  try { r = await fetch(api + "/results/stream-tickets", { method: "POST", headers }); }
  catch (e) { setTimeout(follow, 3000); return; }
  if (r.status === 401 || r.status === 404) { await refused(r); return; }
  if (!r.ok) { setTimeout(follow, 3000); return; }
  const { ticket } = await r.json();
  source = new EventSource(api + "/results/stream?ticket=" + encodeURIComponent(ticket));
  source.onopen = () => { $("status").textContent = "实时更新中 · live"; };
  source.addEventListener("tally", (e) => {
    const t = JSON.parse(e.data);
    show(t);
    if (t.final) { source.close(); load(); }
  });
  source.addEventListener("revoked", (e) => {
    const body = JSON.parse(e.data);
    stop(body.code === "display_link_expired" ? "投屏链接已过期" : "投屏链接已撤销", body.detail);
  });
  source.onerror = () => {
    if (stopped || final) return;
    $("status").textContent = "重新连接… · reconnecting";
    if (source.readyState === EventSource.CLOSED) {  // refused (an old ticket): a new one
      source = null;
      setTimeout(follow, 2000);
    }
  };
}

// Another link pasted into the address bar changes only the fragment: start again with it.
window.addEventListener("hashchange", () => location.reload());
tick();
setInterval(tick, 1000);
load();
</script>
</body>
</html>
"""


def render(event_id: uuid.UUID) -> str:
    return _PAGE.replace("__EVENT_ID__", html.escape(json.dumps(str(event_id)), quote=False))
