// The sandbox page. Plain JavaScript, no build step, nothing loaded from elsewhere.
// Everything shown comes from /sandbox/api/state (long-polled); every action goes to /sandbox/api/*, where the
// sandbox turns it into the request Slack would send and signs it. Text is only ever set with textContent.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const DECLARER = 'U0SBXDANA';
  const ui = {
    data: null,
    me: new URLSearchParams(location.search).get('as') || DECLARER,
    where: 'channel',            // 'channel' or 'dm'
    thread: null,                // ts of the open thread (in the channel)
    since: 0,
    poll: null,
    seen: {},                    // per person: { channel: n, dm: n }
    lastDmCount: {},
    modalKey: null,
    focusTs: null,
    focusJira: null,
  };

  // ---------- small helpers ----------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  function person(id) {
    const d = ui.data;
    if (!d) return null;
    if (id === d.bot.id) return { id, name: d.bot.name, role: 'app' };
    return d.people.find((p) => p.id === id) || null;
  }
  function nameOf(id) { const p = person(id); return p ? p.name : id; }
  function colorOf(id) {
    let h = 0;
    for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return ['#e01e5a', '#2eb67d', '#ecb22e', '#36c5f0', '#7c3085', '#1264a3', '#d4641b'][h % 7];
  }
  function timeOf(ts) {
    const d = new Date(parseFloat(ts) * 1000);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  async function post(path, body) {
    try {
      const r = await fetch('/sandbox/api/' + path, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      const answer = await r.json().catch(() => ({ ok: false, problem: 'HTTP ' + r.status }));
      if (!answer.ok) toast(answer.problem || 'That did not work.');
      return answer;
    } catch (e) {
      toast('The sandbox is not answering: is it still running?');
      return { ok: false };
    }
  }
  let toastTimer = null;
  function toast(text, onClick) {
    const t = $('toast');
    t.textContent = text;
    t.hidden = false;
    t.onclick = () => { t.hidden = true; if (onClick) onClick(); };
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  // ---------- Slack mrkdwn, into DOM nodes ----------
  const EMOJI = {
    rotating_light: '🚨', white_check_mark: '✅', warning: '⚠️', hourglass: '⌛', hourglass_flowing_sand: '⏳',
    no_entry: '⛔', no_entry_sign: '🚫', memo: '📝', lock: '🔒', x: '❌', '+1': '👍', thumbsup: '👍', tada: '🎉',
    bell: '🔔', calendar: '📅', link: '🔗', eyes: '👀', information_source: 'ℹ️', heavy_check_mark: '✔️', fire: '🔥',
    arrow_upper_right: '↗️', arrow_lower_right: '↘️', arrow_right: '➡️', unlock: '🔓', ticket: '🎫',
    twisted_rightwards_arrows: '🔀', mag: '🔍', bust_in_silhouette: '👤',
  };
  const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

  function mrkdwn(text, parent) {
    const parts = String(text || '').split(/(```[\s\S]*?```|`[^`\n]+`)/);
    for (const part of parts) {
      if (part.length >= 6 && part.startsWith('```') && part.endsWith('```')) parent.append(el('pre', null, decode(part.slice(3, -3))));
      else if (part.length >= 2 && part.startsWith('`') && part.endsWith('`')) parent.append(el('code', null, decode(part.slice(1, -1))));
      else inline(part, parent);
    }
    return parent;
  }

  function inline(text, parent) {
    const re = /<([^<>\n]+)>|\*([^*\n]+)\*|\b_([^_\n]+)_\b|~([^~\n]+)~|:([a-z0-9_+-]+):|\n/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) parent.append(decode(text.slice(last, m.index)));
      last = re.lastIndex;
      if (m[1] !== undefined) parent.append(token(m[1]));
      else if (m[2] !== undefined) parent.append(inline(m[2], el('b')));
      else if (m[3] !== undefined) parent.append(inline(m[3], el('i')));
      else if (m[4] !== undefined) parent.append(inline(m[4], el('s')));
      else if (m[5] !== undefined) parent.append(EMOJI[m[5]] || m[0]);
      else parent.append(el('br'));
    }
    if (last < text.length) parent.append(decode(text.slice(last)));
    return parent;
  }

  // <@U123>, <#C123|name>, <!date^ts^format|fallback>, <!here>, <url|label>
  function token(body) {
    const bar = body.indexOf('|');
    const target = bar < 0 ? body : body.slice(0, bar);
    const label = bar < 0 ? null : decode(body.slice(bar + 1));
    if (target.startsWith('@')) {
      const id = target.slice(1);
      return el('span', 'mention' + (id === ui.me ? ' me' : ''), '@' + nameOf(id));
    }
    if (target.startsWith('#')) {
      const id = target.slice(1);
      const name = label || (ui.data && id === ui.data.channel.id ? ui.data.channel.name : id);
      return el('span', 'mention', '#' + name);
    }
    if (target.startsWith('!date^')) {
      const seconds = parseInt(target.split('^')[1], 10);
      const span = el('time', null, isNaN(seconds) ? (label || '') : new Date(seconds * 1000).toLocaleString([], {
        month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }));
      if (label) span.title = label;
      return span;
    }
    if (target.startsWith('!')) return el('span', 'mention', '@' + (label || target.slice(1)));
    const url = decode(target);
    if (/^https?:\/\//i.test(url)) {
      const a = el('a', null, label || url);
      a.href = url;
      if (new URL(url).origin === location.origin) {
        a.addEventListener('click', (e) => { e.preventDefault(); location.hash = new URL(url).hash || ''; navigate(); });
      } else {
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        a.title = url + ' (outside the sandbox)';
      }
      return a;
    }
    return document.createTextNode(label || url);
  }

  function textOf(obj, parent) {
    if (!obj) return parent;
    if (obj.type === 'mrkdwn') return mrkdwn(obj.text, parent);
    // plain_text shows emoji shortcodes as emoji unless "emoji": false, as Slack does.
    const text = obj.text || '';
    parent.append(obj.emoji === false ? text : text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all));
    return parent;
  }

  // ---------- Block Kit ----------
  function renderBlocks(blocks, ctx) {
    const frag = document.createDocumentFragment();
    for (const b of blocks || []) {
      switch (b.type) {
        case 'header': frag.append(textOf(b.text, el('div', 'bk-header'))); break;
        case 'section': {
          const s = el('div', 'bk-section');
          if (b.text) s.append(textOf(b.text, el('div', 'text')));
          if (b.fields) {
            const f = el('div', 'bk-fields');
            for (const field of b.fields) f.append(textOf(field, el('div', 'text')));
            s.append(f);
          }
          if (b.accessory && b.accessory.type === 'button') s.append(button(b.accessory, ctx));
          frag.append(s);
          break;
        }
        case 'context': {
          const c = el('div', 'bk-context');
          for (const e of b.elements || []) if (e.type === 'mrkdwn' || e.type === 'plain_text') textOf(e, c);
          frag.append(c);
          break;
        }
        case 'divider': frag.append(el('hr', 'bk-divider')); break;
        case 'actions': {
          const row = el('div', 'bk-actions');
          for (const e of b.elements || []) if (e.type === 'button') row.append(button(e, ctx));
          frag.append(row);
          break;
        }
        case 'input': break; // rendered by the modal
        default: frag.append(el('div', 'bk-unknown', '[' + b.type + ' block: not shown in the sandbox]'));
      }
    }
    return frag;
  }

  function button(e, ctx) {
    const b = el('button', 'bk-button' + (e.style ? ' ' + e.style : ''), e.text ? e.text.text : e.action_id);
    b.type = 'button';
    b.dataset.actionId = e.action_id;
    b.addEventListener('click', async () => {
      if (!ctx) return;
      b.disabled = true;
      await post('action', { user: ui.me, channel: ctx.channel, ts: ctx.ts, ephemeralId: ctx.ephemeralId || null, actionId: e.action_id, value: e.value || null });
      b.disabled = false;
    });
    return b;
  }

  // ---------- messages ----------
  function messageRow(m, ctx) {
    const row = el('div', 'msg' + (ctx.ephemeral ? ' ephemeral' : '') + (m.ts === ui.focusTs ? ' focus' : ''));
    row.dataset.ts = m.ts;
    row.dataset.testid = ctx.ephemeral ? 'ephemeral' : 'message';
    const who = m.user || (ctx.ephemeral ? (ui.data && ui.data.bot.id) : '');
    const av = el('div', 'avatar', nameOf(who).split(' ').map((w) => w[0]).join('').slice(0, 2));
    av.style.background = colorOf(who);
    const body = el('div', 'body');
    const meta = el('div', 'meta');
    meta.append(el('span', 'name', nameOf(who)));
    if (m.fromBot || ctx.ephemeral) meta.append(el('span', 'app-badge', 'APP'));
    meta.append(el('span', null, timeOf(m.ts)));
    if (m.edited) meta.append(el('span', 'edited', ' (edited)'));
    body.append(meta);
    if (m.broadcast && m.threadTs) body.append(el('div', 'broadcast-note', 'replied to a thread'));
    const content = el('div', 'content');
    if (m.blocks && m.blocks.length) content.append(renderBlocks(m.blocks, ctx));
    else mrkdwn(m.text, content.appendChild(el('div', 'text')));
    body.append(content);
    if (ctx.ephemeral) {
      const note = el('div', 'ephemeral-note', '👁 Only visible to you');
      const dismiss = el('button', null, 'Dismiss');
      dismiss.type = 'button';
      dismiss.addEventListener('click', () => post('dismiss', { user: ui.me, ephemeralId: m.id }));
      note.append(dismiss);
      body.append(note);
    }
    if (ctx.replies) {
      const r = el('button', 'replies', ctx.replies + (ctx.replies === 1 ? ' reply' : ' replies'));
      r.type = 'button';
      r.addEventListener('click', () => openThread(m.ts));
      body.append(r);
    }
    row.append(av, body);
    return row;
  }

  function channelId() { return ui.where === 'dm' ? ui.data.dm : ui.data.channel.id; }

  function renderConversation() {
    const d = ui.data;
    const channel = channelId();
    const all = d.messages[channel] || [];
    const header = $('conv-header');
    header.replaceChildren();
    const title = el('span', null, ui.where === 'dm' ? d.bot.name : '# ' + d.channel.name);
    title.append(el('span', 'sub', ui.where === 'dm'
      ? 'your direct messages with the bot, as ' + nameOf(ui.me)
      : 'announcements and their threads · typing here runs /breakglass as ' + nameOf(ui.me)));
    header.append(title);

    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    const replies = {};
    for (const m of all) if (m.threadTs) replies[m.threadTs] = (replies[m.threadTs] || 0) + 1;
    const items = all.filter((m) => !m.threadTs || m.broadcast).map((m) => ({ m, ctx: { channel, ts: m.ts, replies: replies[m.ts] || 0 } }));
    for (const e of d.ephemerals) if (e.channel === channel && !e.threadTs) items.push({ m: e, ctx: { channel, ephemeralId: e.id, ephemeral: true } });
    items.sort((a, b) => (a.m.ts < b.m.ts ? -1 : a.m.ts > b.m.ts ? 1 : 0));
    if (!items.length) {
      list.append(el('div', 'empty', ui.where === 'dm'
        ? 'No direct messages yet. Reminders and escalations from the bot arrive here.'
        : 'Nothing here yet. Type /breakglass Roll back payments deploy below to declare an emergency change.'));
    }
    for (const { m, ctx } of items) list.append(messageRow(m, ctx));
    if (atBottom || ui.scrollDown) { list.scrollTop = list.scrollHeight; ui.scrollDown = false; }
    $('composer-input').placeholder = ui.where === 'dm'
      ? 'Message BreakGlassBot — slash commands work here too'
      : 'Message #' + d.channel.name + ' — try /breakglass Roll back payments deploy';
  }

  function renderThread() {
    const pane = $('thread');
    if (!ui.thread || ui.where !== 'channel') { pane.hidden = true; return; }
    const d = ui.data;
    const channel = d.channel.id;
    const all = d.messages[channel] || [];
    const parent = all.find((m) => m.ts === ui.thread);
    if (!parent) { pane.hidden = true; return; }
    pane.hidden = false;
    $('thread-title').textContent = 'Thread · #' + d.channel.name;
    const list = $('thread-messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    const items = [{ m: parent, ctx: { channel, ts: parent.ts } }];
    for (const m of all) if (m.threadTs === ui.thread) items.push({ m, ctx: { channel, ts: m.ts } });
    for (const e of d.ephemerals) if (e.channel === channel && e.threadTs === ui.thread) items.push({ m: e, ctx: { channel, ephemeralId: e.id, ephemeral: true } });
    items.sort((a, b) => (a.m.ts < b.m.ts ? -1 : a.m.ts > b.m.ts ? 1 : 0));
    for (const { m, ctx } of items) list.append(messageRow(m, ctx));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function openThread(ts) {
    ui.where = 'channel';
    ui.thread = ts;
    renderAll();
    $('thread-input').focus();
  }

  // ---------- sidebar ----------
  function seenOf(id) { return ui.seen[id] || (ui.seen[id] = { channel: -1, dm: -1 }); }

  function renderSidebar() {
    const d = ui.data;
    const select = $('person');
    if (!select.options.length) {
      for (const p of d.people) {
        const o = el('option', null, p.name + ' — ' + p.role);
        o.value = p.id;
        select.append(o);
      }
    }
    select.value = ui.me;
    const me = person(ui.me);
    $('person-role').textContent = me ? 'You are ' + me.name + ', ' + me.role + '.' : '';

    const seen = seenOf(ui.me);
    const channelCount = (d.messages[d.channel.id] || []).filter((m) => !m.threadTs).length;
    const dmCount = (d.messages[d.dm] || []).length;
    if (ui.where === 'channel' || seen.channel < 0) seen.channel = channelCount;
    if (ui.where === 'dm' || seen.dm < 0) seen.dm = ui.where === 'dm' ? dmCount : Math.min(seen.dm < 0 ? 0 : seen.dm, dmCount);

    const channels = $('channels');
    channels.replaceChildren(sideItem('# ' + d.channel.name, channelCount - seen.channel, ui.where === 'channel', 'channel-item', () => { ui.where = 'channel'; ui.scrollDown = true; renderAll(); }));
    const dms = $('dms');
    dms.replaceChildren(sideItem(d.bot.name, dmCount - seen.dm, ui.where === 'dm', 'dm-item', () => { ui.where = 'dm'; ui.thread = null; ui.scrollDown = true; renderAll(); }));
  }

  function sideItem(label, unread, active, testid, onClick) {
    const li = el('li', (active ? 'active' : '') + (unread > 0 && !active ? ' unread' : ''));
    li.dataset.testid = testid;
    li.append(el('span', null, label));
    if (unread > 0 && !active) li.append(el('span', 'count', String(unread)));
    li.addEventListener('click', onClick);
    return li;
  }

  // ---------- modal ----------
  function renderModal() {
    const d = ui.data;
    const backdrop = $('modal-backdrop');
    if (!d.view) { backdrop.hidden = true; ui.modalKey = null; return; }
    const key = d.view.id + ':' + d.view.revision;
    if (key === ui.modalKey) return; // keep what is being typed
    // The same modal again (errors, an update): keep what was typed, as Slack does.
    const kept = {};
    if (ui.modalKey && ui.modalKey.split(':')[0] === d.view.id) {
      for (const wrap of document.querySelectorAll('#modal .bk-input')) {
        const field = wrap.querySelector('input, textarea, select');
        if (field) kept[wrap.dataset.blockId] = field.value;
      }
    }
    ui.modalKey = key;
    const v = d.view.view;
    const errors = d.view.errors || {};
    const modal = $('modal');
    modal.replaceChildren();
    const head = el('div', 'modal-head');
    head.append(el('span', null, v.title ? v.title.text : ''), el('span', 'modal-sandbox', 'sandbox'));
    const body = el('div', 'modal-body');
    if (d.view.problem) body.append(el('div', 'modal-problem', d.view.problem));
    for (const b of v.blocks || []) {
      if (b.type === 'input') body.append(inputBlock(b, errors[b.block_id]));
      else body.append(renderBlocks([b], null));
    }
    const foot = el('div', 'modal-foot');
    const close = el('button', null, v.close ? v.close.text : 'Close');
    close.type = 'button';
    close.dataset.testid = 'modal-close';
    close.addEventListener('click', () => { backdrop.hidden = true; post('close', { user: ui.me, viewId: d.view.id }); });
    foot.append(close);
    if (v.submit) {
      const submit = el('button', 'submit', v.submit.text);
      submit.type = 'button';
      submit.dataset.testid = 'modal-submit';
      submit.addEventListener('click', () => submitModal(d.view, body, submit));
      foot.append(submit);
    }
    modal.append(head, body, foot);
    for (const wrap of body.querySelectorAll('.bk-input')) {
      const field = wrap.querySelector('input, textarea, select');
      if (!field) continue;
      if (kept[wrap.dataset.blockId] !== undefined) field.value = kept[wrap.dataset.blockId];
      field.addEventListener('input', () => { wrap.classList.remove('invalid'); wrap.querySelector('.error').hidden = true; });
    }
    backdrop.hidden = false;
    const first = body.querySelector('input, textarea, select');
    if (first) first.focus();
  }

  function inputBlock(b, error) {
    const wrap = el('div', 'bk-input' + (error ? ' invalid' : ''));
    wrap.dataset.blockId = b.block_id;
    const id = 'bk-' + b.block_id;
    const label = el('label', null, b.label ? b.label.text : b.block_id);
    label.htmlFor = id;
    if (b.optional) label.append(el('span', 'optional', ' (optional)'));
    wrap.append(label);
    const e = b.element || {};
    let field;
    if (e.type === 'static_select') {
      field = el('select');
      const none = el('option', null, e.placeholder ? e.placeholder.text : 'Select an option');
      none.value = '';
      field.append(none);
      for (const o of e.options || []) {
        const opt = el('option', null, o.text ? o.text.text : o.value);
        opt.value = o.value;
        field.append(opt);
      }
    } else if (e.type === 'plain_text_input') {
      field = el(e.multiline ? 'textarea' : 'input');
      if (!e.multiline) field.type = 'text';
      if (e.max_length) field.maxLength = e.max_length;
      if (e.placeholder) field.placeholder = e.placeholder.text;
      if (e.initial_value) field.value = e.initial_value;
    } else {
      field = el('div', 'bk-unknown', '[' + e.type + ' element: not shown in the sandbox]');
    }
    field.id = id;
    field.dataset.kind = e.type;
    wrap.append(field);
    if (b.hint) wrap.append(el('div', 'hint', b.hint.text));
    const err = el('div', 'error', error || '');
    err.hidden = !error;
    wrap.append(err);
    return wrap;
  }

  async function submitModal(view, body, submit) {
    const values = {};
    let missing = false;
    for (const wrap of body.querySelectorAll('.bk-input')) {
      const field = wrap.querySelector('input, textarea, select');
      if (!field) continue;
      const value = field.value.trim();
      const optional = !!wrap.querySelector('.optional');
      const err = wrap.querySelector('.error');
      // Slack checks required fields itself before anything is sent.
      if (!optional && !value) {
        wrap.classList.add('invalid');
        err.textContent = 'Please complete this required field.';
        err.hidden = false;
        missing = true;
      }
      values[wrap.dataset.blockId] = value || null;
    }
    if (missing) return;
    submit.disabled = true;
    await post('submit', { user: ui.me, viewId: view.id, values });
    submit.disabled = false;
  }

  // ---------- tools ----------
  function renderTools() {
    const d = ui.data;
    const s = d.sandbox;
    const clock = $('clock');
    clock.replaceChildren();
    clock.append(el('div', null, 'Fast clock: ' + (s.fastClock ? 'on' : 'off')));
    clock.append(el('div', 'note', 'Review window ' + s.reviewWindow + ' · reminders every ' + s.reminderInterval
      + ' · escalation ' + s.escalateAfter + ' after the deadline.'));
    clock.append(el('div', 'note', s.fastClock
      ? 'Chosen at start. Restart with --Sandbox:FastClock=false for the configured policy.'
      : 'Chosen at start. Restart with --fast for a lifecycle of a minute or two.'));
    clock.append(el('div', 'note', s.detection.enabled
      ? 'Detection grace period ' + s.detection.gracePeriod + ' after a merge (--Detection:GracePeriod).'
      : 'Detection of undeclared bypasses is off.'));
    clock.append(el('div', 'note', 'Sandbox started: ' + s.reason + '. Data: ' + s.dataDirectory));
    $('banner-clock').textContent = 'Fast clock ' + (s.fastClock ? 'on' : 'off') + ' · review window ' + s.reviewWindow;

    const jira = $('jira');
    jira.replaceChildren();
    jira.append(el('p', 'note', 'The bot reads these issues through its real Jira client. Link one in a declaration (e.g. SBX-1); it counts as reviewed once Done. The bot looks again at its next check (within the reminder interval).'));
    for (const i of d.jira) {
      const card = el('div', 'card');
      card.dataset.testid = 'jira-' + i.key;
      if (ui.focusJira === i.key) card.style.outline = '2px solid #1264a3';
      const title = el('div', 'title', i.key + ' ');
      title.append(el('span', 'pill ' + (i.done ? 'done' : 'open'), i.status));
      card.append(title, el('div', null, i.summary));
      if (i.labels.length) card.append(el('div', 'note', 'Labels: ' + i.labels.join(', ')));
      const flip = el('button', null, i.done ? 'Reopen (back to review)' : 'Move to Done');
      flip.type = 'button';
      flip.addEventListener('click', () => post('jira/' + encodeURIComponent(i.key), { done: !i.done }));
      card.append(flip);
      for (const c of i.comments.slice(-3)) card.append(el('div', 'comment', c.author + ': ' + c.text));
      jira.append(card);
    }

    const gh = $('github');
    gh.replaceChildren();
    const det = s.detection;
    gh.append(el('p', 'note', 'The bot reads these pull requests through its real GitHub client (a stand-in GitHub on this machine). Link one in a declaration (paste its URL); the bot labels it and comments on it. It counts as reviewed once someone other than its author approves it: Approve PR submits an approving review as ' + (d.pullRequests.length ? d.pullRequests[0].reviewer : 'a reviewer') + '. The bot looks again at its next check (within the reminder interval).'));
    gh.append(el('p', 'note', det.enabled
      ? 'Undeclared bypasses: Merge sends GitHub\u2019s signed pull_request and push webhooks to the bot. A merge into ' + det.repository + ' ' + det.branch
        + ' without an approving review, that nobody declares within the grace period (' + det.gracePeriod + ' here; the bot checks every ' + det.checkInterval
        + '), becomes a detected case: an announcement in #' + d.channel.name + ' and a DM to whoever merged.'
      : 'Undeclared bypasses: detection is off (--Detection:Enabled=false), so a merge nobody declared opens no case.'));
    d.pullRequests.forEach((pr, index) => {
      const card = el('div', 'card');
      card.dataset.testid = 'github-' + index;
      const title = el('div', 'title', pr.ref + ' ');
      const status = pr.merged ? ['merged', 'merged'] : pr.approved ? ['done', 'approved'] : ['open', 'review required'];
      title.append(el('span', 'pill ' + status[0], status[1]));
      card.append(title, el('div', null, pr.title), el('div', 'note', 'by ' + pr.author + ' into ' + pr.base + ' · ' + pr.url));
      if (pr.labels.length) card.append(el('div', 'note', 'Labels: ' + pr.labels.join(', ')));
      if (pr.merged) {
        card.append(el('div', 'note', 'Merged by ' + pr.mergedBy + ' at ' + new Date(pr.mergedAt).toLocaleTimeString()
          + (pr.approved || !det.enabled ? '.' : ' without an approving review: unless someone declares it, a detected case opens ' + det.gracePeriod + ' after the merge.')));
      } else {
        const flip = el('button', null, pr.approved ? 'Dismiss approval' : 'Approve PR');
        flip.type = 'button';
        flip.addEventListener('click', () => post('github/' + index, { done: !pr.approved }));
        const merge = el('button', 'merge', (pr.approved ? 'Merge as ' : 'Merge without review as ') + nameOf(ui.me));
        merge.type = 'button';
        merge.dataset.testid = 'github-merge-' + index;
        merge.addEventListener('click', () => post('github/' + index + '/merge', { user: ui.me }));
        card.append(flip, ' ', merge);
      }
      for (const r of pr.reviews.slice(-3)) card.append(el('div', 'comment', r.user + ': ' + r.state.toLowerCase()));
      for (const c of pr.comments.slice(-3)) card.append(el('div', 'comment', c.author + ': ' + c.text.replace(/<!--[^>]*-->/g, '').trim()));
      gh.append(card);
    });
    const open = el('button', 'new-pr', 'New pull request');
    open.type = 'button';
    open.addEventListener('click', () => post('github/open', {}));
    gh.append(open);

    const wire = $('wire');
    wire.replaceChildren();
    for (const w of d.wire) {
      const li = el('li', w.ok ? null : 'bad');
      const arrow = w.direction === 'to-bot' ? 'sandbox → bot ' : w.direction === 'from-bot' ? 'bot → sandbox ' : 'page ';
      li.append(el('span', 'dir', new Date(w.at).toLocaleTimeString() + ' ' + arrow), w.what);
      wire.append(li);
    }
  }

  // ---------- state ----------
  function renderAll() {
    if (!ui.data) return;
    renderSidebar();
    renderConversation();
    renderThread();
    renderModal();
    renderTools();
  }

  function apply(d) {
    if (d.me !== ui.me) return; // an answer for the person shown before the switch
    const before = ui.lastDmCount[ui.me];
    const now = (d.messages[d.dm] || []).length;
    ui.data = d;
    renderAll();
    if (before !== undefined && now > before && ui.where !== 'dm') {
      toast('BreakGlassBot sent you a direct message', () => { ui.where = 'dm'; ui.thread = null; renderAll(); });
    }
    ui.lastDmCount[ui.me] = now;
  }

  async function pollLoop() {
    for (;;) {
      const controller = new AbortController();
      ui.poll = controller;
      try {
        const r = await fetch('/sandbox/api/state?user=' + encodeURIComponent(ui.me) + '&since=' + ui.since, { signal: controller.signal, cache: 'no-store' });
        if (!r.ok) { await sleep(1000); continue; }
        const text = await r.text();
        if (!text) continue;
        const d = JSON.parse(text);
        if (d.me === ui.me) { ui.since = d.version; apply(d); }
      } catch (e) {
        if (e.name !== 'AbortError') await sleep(1000);
      }
    }
  }

  function switchPerson(id) {
    ui.me = id;
    ui.since = 0;
    ui.modalKey = null;
    ui.thread = null;
    ui.where = 'channel';
    const url = new URL(location.href);
    url.searchParams.set('as', id);
    history.replaceState(null, '', url);
    if (ui.poll) ui.poll.abort();
  }

  function navigate() {
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash.startsWith('thread:')) {
      const [, channel, ts] = hash.split(':');
      ui.focusTs = ts;
      if (ui.data && channel === ui.data.channel.id) openThread(ts);
    } else if (hash.startsWith('jira:')) {
      ui.focusJira = hash.slice(5);
      renderAll();
      const card = document.querySelector('[data-testid="jira-' + CSS.escape(ui.focusJira) + '"]');
      if (card) card.scrollIntoView();
    }
  }

  // ---------- composers ----------
  function wireComposer(form, input, threadTs) {
    const send = async () => {
      const text = input.value;
      if (!text.trim() || !ui.data) return;
      input.value = '';
      const answer = await post('message', { user: ui.me, channel: threadTs() ? ui.data.channel.id : channelId(), threadTs: threadTs(), text });
      if (!answer.ok) input.value = text;
    };
    form.addEventListener('submit', (e) => { e.preventDefault(); send(); });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); }
    });
  }

  wireComposer($('composer'), $('composer-input'), () => null);
  wireComposer($('thread-composer'), $('thread-input'), () => ui.thread);
  $('thread-close').addEventListener('click', () => { ui.thread = null; renderAll(); });
  $('person').addEventListener('change', (e) => switchPerson(e.target.value));
  window.addEventListener('hashchange', navigate);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && ui.data && ui.data.view) { $('modal-backdrop').hidden = true; post('close', { user: ui.me, viewId: ui.data.view.id }); }
  });

  pollLoop();
  (async () => { while (!ui.data) await sleep(50); navigate(); })();
})();
