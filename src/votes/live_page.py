"""The big screen of the venue (``GET /events/{id}/live``): server-rendered HTML, a few lines
of JavaScript, nothing from a CDN. The committee opens it on the projector with its token in
the fragment (``#token=…``, never sent to the server in the URL); the page reads the meeting,
shows the check-in QR (refreshed before the code expires) and follows the results stream with
``audience=public``, so the screen shows only what the visibility rule allows residents."""

from __future__ import annotations

import html
import json
import uuid

_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>现场投票 · Live vote</title>
<style>
  :root { color-scheme: light; }
  body { margin: 0; font-family: "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei",
         sans-serif; background: #f4f6f8; color: #1d2a36; }
  header { background: #b3261e; color: #fff; padding: 18px 32px; }
  header h1 { margin: 0; font-size: 34px; }
  header p { margin: 6px 0 0; font-size: 18px; opacity: .9; }
  main { display: grid; grid-template-columns: 1fr 340px; gap: 28px; padding: 28px 32px; }
  .card { background: #fff; border-radius: 12px; padding: 22px 26px;
          box-shadow: 0 1px 4px rgba(0,0,0,.08); }
  .figures { display: flex; gap: 36px; margin-bottom: 18px; }
  .figure b { display: block; font-size: 44px; color: #b3261e; }
  .figure span { font-size: 16px; color: #52606d; }
  .option { margin: 16px 0; }
  .option .label { display: flex; justify-content: space-between; font-size: 22px; }
  .bar { height: 30px; background: #e4e7eb; border-radius: 6px; overflow: hidden; margin-top: 6px; }
  .bar i { display: block; height: 100%; width: 0; background: #d64545; transition: width .6s; }
  .hidden-note { color: #52606d; font-size: 18px; }
  #qr img { width: 100%; image-rendering: pixelated; }
  #qr .code { text-align: center; font-size: 30px; letter-spacing: 4px; font-weight: bold; }
  #status { font-size: 14px; color: #7b8794; margin-top: 8px; }
  .final { color: #0b6e4f; font-weight: bold; }
</style>
</head>
<body>
<header><h1 id="title">现场投票</h1><p id="venue"></p></header>
<main>
  <section class="card">
    <div class="figures">
      <div class="figure"><b id="participants">0</b><span>已投票 / Voted</span></div>
      <div class="figure"><b id="turnout">0%</b><span>投票率 / Turnout</span></div>
      <div class="figure"><b id="checkins">0</b><span>已签到 / Checked in</span></div>
    </div>
    <div id="options"></div>
    <p id="hidden" class="hidden-note" style="display:none">结果将在投票结束后公布
      · Results are shown when the vote closes</p>
    <p id="final" class="final" style="display:none">投票已结束，结果为最终结果 · Final results</p>
    <p id="status">连接中… · connecting</p>
  </section>
  <aside class="card" id="qr"><p>扫码签到 · Scan to check in</p>
    <img id="qr-img" alt="check-in QR"><div class="code" id="qr-code"></div></aside>
</main>
<script>
"use strict";
const EVENT_ID = __EVENT_ID__;
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const auth = { "Authorization": "Bearer " + token, "Accept-Language": "zh-CN" };
const api = "/api/v1/events/" + EVENT_ID;
const $ = (id) => document.getElementById(id);
let titles = {};

function show(t) {
  $("participants").textContent = t.participants;
  $("turnout").textContent = Math.round(t.turnout * 1000) / 10 + "%";
  $("hidden").style.display = t.hidden ? "" : "none";
  $("final").style.display = t.final ? "" : "none";
  const box = $("options");
  box.replaceChildren();
  for (const o of t.options) {
    const row = document.createElement("div");
    row.className = "option";
    const label = document.createElement("div");
    label.className = "label";
    const name = document.createElement("span");
    name.textContent = o.title;
    const votes = document.createElement("span");
    votes.textContent = o.votes === null
      ? "—" : o.votes + " 票 · " + Math.round(o.share * 100) + "%";
    label.append(name, votes);
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("i");
    fill.style.width = (o.share === null ? 0 : o.share * 100) + "%";
    bar.append(fill);
    row.append(label, bar);
    box.append(row);
  }
}

async function meeting() {
  const r = await fetch(api, { headers: auth });
  if (!r.ok) { $("status").textContent = "无法读取会议 (" + r.status + ")"; return null; }
  const e = await r.json();
  $("title").textContent = e.title;
  $("venue").textContent = (e.venue || "") + "  " + new Date(e.starts_at).toLocaleString("zh-CN");
  $("checkins").textContent = e.check_in_count;
  return e;
}

async function qr() {
  const r = await fetch(api + "/check-in-code", { headers: auth });
  if (!r.ok) { $("qr").style.display = "none"; return; }
  const c = await r.json();
  const img = await fetch(api + "/check-in-code.png?code=" + encodeURIComponent(c.code),
                          { headers: auth });
  if (img.ok) { $("qr-img").src = URL.createObjectURL(await img.blob()); }
  $("qr-code").textContent = c.code;
  const wait = Math.max(5000, new Date(c.expires_at) - Date.now() - 5000);
  setTimeout(qr, wait);
}

async function follow() {
  for (;;) {
    try {
      const r = await fetch(api + "/results/stream?audience=public",
                            { headers: { ...auth, "Accept": "text/event-stream" } });
      if (!r.ok) { $("status").textContent = "无法读取结果 (" + r.status + ")"; return; }
      $("status").textContent = "实时更新中 · live";
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = (buffer + value).replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:"))
                            .map((l) => l.slice(5).trim()).join("\n");
          if (data) {
            const t = JSON.parse(data);
            show(t);
            if (t.final) { $("status").textContent = "已结束 · closed"; return; }
          }
        }
      }
    } catch (err) { $("status").textContent = "重新连接… · reconnecting"; }
    await new Promise((ok) => setTimeout(ok, 2000));
    meeting();
  }
}

meeting().then((e) => { if (e) { qr(); follow(); setInterval(meeting, 15000); } });
</script>
</body>
</html>
"""


def render(event_id: uuid.UUID) -> str:
    return _PAGE.replace("__EVENT_ID__", html.escape(json.dumps(str(event_id)), quote=False))
