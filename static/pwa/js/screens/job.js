// #/job/ID: one job on site — customer and address, contact, check-in/out with the live
// position, photos by kind, the close form with the category's checklist, the feedback QR.
import { t, register, distance, dateTime, time, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { h, clear, button, chip, field, staleNote, toast, showFieldErrors, errorState, loading } from '../ui.js';
import { flagText, isDecided, fixOfFlag } from '../flags.js';
import { prepare } from '../photo.js';
import { priorityTone, visitTone, word, metresBetween, fixOf, openVisits, telHref } from '../fieldwork.js';

register({
  en: {
    'job.title': 'Job', 'job.customer': 'Customer', 'job.site': 'Site', 'job.address': 'Address',
    'job.open_map': 'Open in maps', 'job.contact': 'I contacted the customer', 'job.contacted': 'Customer contacted {when}',
    'job.contact_saved': 'Contact recorded.', 'job.description': 'Problem',
    'job.position': 'Position', 'job.accuracy': 'Accuracy', 'job.to_site': 'To the site', 'job.locating': 'Finding your position…',
    'job.no_position': 'Position unavailable: allow location access.', 'job.inside': 'Inside the site area', 'job.outside': 'Outside the site area',
    'job.check_in': 'Check in', 'job.check_out': 'Check out', 'job.checked_in_since': 'Checked in at {time}',
    'job.checked_in': 'Checked in.', 'job.checked_out': 'Checked out.', 'job.no_flags': 'No issues: the visit is verified.',
    'job.visits': 'Visits', 'job.visit_row': '{start} – {end}', 'job.visit_open': 'open',
    'job.photos': 'Photos', 'job.kind': 'Kind of photo', 'kind.before': 'Before', 'kind.after': 'After',
    'kind.other': 'Other', 'kind.signature': 'Signature',
    'job.take_photo': 'Take a photo', 'job.pick_photo': 'Choose a photo', 'job.no_photos': 'No photos yet.',
    'job.photo_saved': 'Photo uploaded.', 'job.photo_waiting': 'Photo saved on the phone: waiting to send.',
    'job.photo_shrunk': 'Large picture made smaller before upload.', 'job.uploading': 'Uploading {pct}%',
    'job.photo_alt': '{kind} photo {n}', 'job.photo_flags': 'Photo flagged',
    'job.close': 'Close the job', 'job.resolution': 'What was done', 'job.fixed': 'Is it fixed?',
    'job.checklist': 'Checklist', 'job.close_submit': 'Close job', 'job.close_need_after': 'Add at least one “after” photo first.',
    'job.close_need_checkout': 'Check out of the visit first.', 'job.close_need_resolution': 'Describe what was done.',
    'job.close_need_fixed': 'Say whether it is fixed.',
    'job.closed': 'Closed {when}', 'job.closed_waiting': 'Close saved on the phone: waiting to send.',
    'job.closed_ok': 'Job closed.', 'job.resolution_was': 'Resolution', 'job.fixed_yes': 'Fixed', 'job.fixed_no': 'Not fixed',
    'job.feedback': 'Customer rating', 'job.feedback_make': 'Show the customer’s rating link',
    'job.feedback_help': 'Let the customer scan this code or open the link to rate the visit.',
    'job.feedback_until': 'Valid until {when}', 'job.qr_alt': 'QR code of the rating link', 'job.copy': 'Copy link',
    'job.copied': 'Link copied.', 'job.share': 'Share link',
    'job.case': 'Share what you learned as a knowledge case', 'job.not_found': 'This job is not in your list.',
    'check.ppe_worn': 'Protective equipment worn', 'check.power_isolated': 'Power isolated',
    'check.area_cleaned': 'Work area cleaned', 'check.customer_briefed': 'Customer briefed',
    'job.apple_maps': 'Apple Maps', 'job.copy_address': 'Copy address', 'job.address_copied': 'Address copied.',
    'job.call': 'Call {name}', 'job.contact_person': 'Contact',
    'job.warn_title': 'This check-in will be flagged', 'job.warn_far': 'You are {distance} from the site (its area is {radius}).',
    'job.warn_accuracy': 'Your position is imprecise (±{accuracy}); waiting a moment in the open may help.',
    'job.warn_open': 'Your visit at “{title}” is still open: check out there first, or both visits will be flagged.',
    'job.warn_reason': 'Reason (optional)',
    'job.checked_out_at': 'Checked out at {time}', 'job.next_close': 'Next: add the “after” photos and close the job below.',
    'job.check_in_again': 'Check in again (a new visit)', 'job.my_visits': 'My visits', 'job.dispute_link': 'Rejected: open My visits to dispute',
    'job.signature': 'Customer’s signature', 'job.signature_help': 'Ask the customer to sign with a finger in the box.',
    'job.signature_pad': 'Signature box: draw the signature here', 'job.signature_clear': 'Clear', 'job.signature_save': 'Save signature',
    'job.signature_empty': 'The box is empty: ask the customer to sign first.', 'job.signature_saved': 'Signature saved.',
    'job.signature_waiting': 'Signature saved on the phone: waiting to send.', 'job.signature_done': 'Signed',
    'job.signature_again': 'Sign again', 'job.close_need_signature': 'Add the customer’s signature first.',
    'job.signature_alt': 'The customer’s signature',
  },
  'zh-CN': {
    'job.title': '工单', 'job.customer': '客户', 'job.site': '现场', 'job.address': '地址',
    'job.open_map': '在地图中打开', 'job.contact': '我已联系客户', 'job.contacted': '已于 {when} 联系客户',
    'job.contact_saved': '已记录联系。', 'job.description': '问题描述',
    'job.position': '位置', 'job.accuracy': '精度', 'job.to_site': '距现场', 'job.locating': '正在定位…',
    'job.no_position': '无法获取位置：请允许定位权限。', 'job.inside': '在现场范围内', 'job.outside': '在现场范围外',
    'job.check_in': '签到', 'job.check_out': '签退', 'job.checked_in_since': '{time} 签到',
    'job.checked_in': '已签到。', 'job.checked_out': '已签退。', 'job.no_flags': '无异常：此次上门已核实。',
    'job.visits': '上门记录', 'job.visit_row': '{start} – {end}', 'job.visit_open': '未签退',
    'job.photos': '照片', 'job.kind': '照片类型', 'kind.before': '维修前', 'kind.after': '维修后',
    'kind.other': '其他', 'kind.signature': '签名',
    'job.take_photo': '拍照', 'job.pick_photo': '从相册选择', 'job.no_photos': '暂无照片。',
    'job.photo_saved': '照片已上传。', 'job.photo_waiting': '照片已保存在手机上：等待发送。',
    'job.photo_shrunk': '大图片已在上传前压缩。', 'job.uploading': '上传中 {pct}%',
    'job.photo_alt': '{kind}照片 {n}', 'job.photo_flags': '照片被标记',
    'job.close': '关闭工单', 'job.resolution': '处理内容', 'job.fixed': '是否修好？',
    'job.checklist': '检查清单', 'job.close_submit': '关闭工单', 'job.close_need_after': '请先添加至少一张“维修后”照片。',
    'job.close_need_checkout': '请先签退。', 'job.close_need_resolution': '请填写处理内容。',
    'job.close_need_fixed': '请选择是否修好。',
    'job.closed': '已于 {when} 关闭', 'job.closed_waiting': '关闭操作已保存在手机上：等待发送。',
    'job.closed_ok': '工单已关闭。', 'job.resolution_was': '处理结果', 'job.fixed_yes': '已修好', 'job.fixed_no': '未修好',
    'job.feedback': '客户评价', 'job.feedback_make': '显示客户评价链接',
    'job.feedback_help': '请客户扫描二维码或打开链接为此次服务评分。',
    'job.feedback_until': '有效期至 {when}', 'job.qr_alt': '评价链接二维码', 'job.copy': '复制链接',
    'job.copied': '链接已复制。', 'job.share': '分享链接',
    'job.case': '把经验分享为知识案例', 'job.not_found': '此工单不在您的列表中。',
    'check.ppe_worn': '已穿戴防护装备', 'check.power_isolated': '已断电隔离',
    'check.area_cleaned': '已清理作业区域', 'check.customer_briefed': '已向客户说明',
    'job.apple_maps': '苹果地图', 'job.copy_address': '复制地址', 'job.address_copied': '地址已复制。',
    'job.call': '致电 {name}', 'job.contact_person': '联系人',
    'job.warn_title': '此次签到将被标记待审核', 'job.warn_far': '您距离现场 {distance}（现场范围 {radius}）。',
    'job.warn_accuracy': '定位精度较差（±{accuracy}）；在空旷处稍等片刻可能会改善。',
    'job.warn_open': '您在“{title}”的上门仍未签退：请先在那里签退，否则两次上门都会被标记。',
    'job.warn_reason': '原因（选填）',
    'job.checked_out_at': '{time} 已签退', 'job.next_close': '下一步：在下方添加“维修后”照片并关闭工单。',
    'job.check_in_again': '再次签到（新的上门）', 'job.my_visits': '我的上门记录', 'job.dispute_link': '已驳回：在“我的上门记录”中申诉',
    'job.signature': '客户签名', 'job.signature_help': '请客户用手指在框内签名。',
    'job.signature_pad': '签名框：请在此处签名', 'job.signature_clear': '清除', 'job.signature_save': '保存签名',
    'job.signature_empty': '签名框是空的：请客户先签名。', 'job.signature_saved': '签名已保存。',
    'job.signature_waiting': '签名已保存在手机上：等待发送。', 'job.signature_done': '已签名',
    'job.signature_again': '重新签名', 'job.close_need_signature': '请先添加客户签名。',
    'job.signature_alt': '客户签名',
  },
});

export const roles = ['engineer'];
export const title = 'job.title';
const KINDS = ['before', 'after', 'other'];

function checkLabel(key) { const k = `check.${key}`; const s = t(k); return s === k ? key.replace(/_/g, ' ') : s; }
function geoUri(site) {
  const label = encodeURIComponent(site.name);
  return `geo:${site.lat},${site.lon}?q=${site.lat},${site.lon}(${label})`;
}
// Apple Maps: the maps: scheme opens the Maps app on an iPhone, iPad or Mac (Apple's "Map
// Links"), with a pin named after the site; no web page of another host is involved.
function appleMapsUrl(site) {
  return `maps:?q=${encodeURIComponent(site.name)}&ll=${site.lat},${site.lon}`;
}
// Which maps link the phone can open: geo: on Android, Apple Maps on an iPhone or iPad;
// both where the platform is unknown (a laptop), the phone's own first.
export function mapLinks(site, ua = navigator.userAgent, touchPoints = navigator.maxTouchPoints || 0) {
  const apple = { href: appleMapsUrl(site), label: 'job.apple_maps' };
  const geo = { href: geoUri(site), label: 'job.open_map' };
  if (/iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && touchPoints > 1)) return [{ ...apple, label: 'job.open_map' }];
  if (/Android/.test(ua)) return [geo];
  return [geo, apple];
}
async function copyText(text) {
  try { await navigator.clipboard.writeText(text); return true; } catch { /* no permission: the old way */ }
  const area = h('textarea', { class: 'visually-hidden', readonly: true, value: text });
  document.body.append(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  area.remove();
  return ok;
}
const SIG_W = 600, SIG_H = 300;
// A signature pad: finger, pen or mouse on a canvas (pointer events); `pad.blank` until drawn.
function signaturePad(label) {
  const canvas = h('canvas', { class: 'sig-pad', width: SIG_W, height: SIG_H, role: 'img', 'aria-label': label });
  const g = canvas.getContext('2d');
  const pad = { canvas, blank: true };
  pad.clear = () => {
    g.fillStyle = '#fff';
    g.fillRect(0, 0, SIG_W, SIG_H);
    g.lineWidth = 4; g.lineCap = 'round'; g.lineJoin = 'round'; g.strokeStyle = '#111';
    pad.blank = true;
  };
  pad.clear();
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * (SIG_W / r.width), (ev.clientY - r.top) * (SIG_H / r.height)];
  };
  let drawing = false;
  canvas.addEventListener('pointerdown', (ev) => {
    ev.preventDefault();
    drawing = true;
    try { canvas.setPointerCapture(ev.pointerId); } catch { /* synthetic pointer */ }
    const [x, y] = at(ev);
    g.beginPath(); g.moveTo(x, y); g.lineTo(x + 0.1, y + 0.1); g.stroke();
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!drawing) return;
    const [x, y] = at(ev);
    g.lineTo(x, y); g.stroke();
    pad.blank = false;
  });
  const end = () => { drawing = false; };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  pad.toBlob = () => new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  return pad;
}

export default async function render(ctx) {
  const id = Number(ctx.params[0]);
  const s = { job: null, site: null, visits: [], mine: [], photos: [], category: null, fix: null, fixError: null, outcome: null, feedback: null, stale: false,
    reason: '', busy: false, armedAt: 0, openElsewhere: [] };
  const urls = [];
  ctx.onCleanup(() => urls.forEach((u) => URL.revokeObjectURL(u)));

  async function loadAll() {
    const [job, visits, photos, categories, mine] = await Promise.all([
      api.load(`jobs/${id}`), api.load('visits', { job_id: id, per_page: 50 }),
      api.load(`jobs/${id}/photos`, { per_page: 200 }), api.load('categories', { per_page: 200 }).catch(() => ({ data: { items: [] } })),
      // The engineer's latest visits: one still open at another job is said before a check-in.
      api.load('visits', { engineer_id: ctx.user.id, per_page: 20 }).catch(() => ({ data: { items: [] } })),
    ]);
    s.job = job.data;
    s.visits = visits.data.items;
    s.mine = mine.data.items;
    s.photos = photos.data.items;
    s.category = categories.data.items.find((c) => c.key === s.job.category) || null;
    s.stale = job.stale || visits.stale || photos.stale;
    if (!s.site || s.site.id !== s.job.site_id) s.site = (await api.load(`sites/${s.job.site_id}`)).data;
  }

  // Sections, each redrawn on its own so that typing in the close form is never lost.
  const head = h('section', {});
  const checkSection = h('section', { class: 'card', 'aria-labelledby': 'check-h' });
  const photoSection = h('section', { class: 'card', 'aria-labelledby': 'photos-h' });
  const closeSection = h('section', { class: 'card', 'aria-labelledby': 'close-h' });
  const geo = { accuracy: h('strong', {}, '—'), toSite: h('strong', {}, '—'), note: h('p', { class: 'meta', role: 'status' }, t('job.locating')) };
  // Before a check-in that will be flagged: what is wrong, and an optional reason (kept while the fix moves).
  const warnBox = h('div', { class: 'card card-warn check-warning', role: 'status', hidden: true, 'data-testid': 'check-warning' });
  const reasonInput = h('input', { class: 'input', type: 'text', name: 'check_in_note', maxlength: 500, enterkeyhint: 'done',
    autocomplete: 'off', oninput: (ev) => { s.reason = ev.currentTarget.value.slice(0, 500); } });
  const reasonField = field(t('job.warn_reason'), reasonInput);
  const nextBox = h('section', { class: 'next-step', hidden: true });
  const sigBox = h('div', { class: 'section signature' });
  const col1 = h('div', {}), col2 = h('div', {});
  const progressBars = new Map();

  clear(ctx.main, loading());
  try {
    await loadAll();
  } catch (error) {
    clear(ctx.main, errorState(error.status === 404 ? { detail: t('job.not_found'), code: 'NOT_FOUND' } : error, () => ctx.rerender()));
    return;
  }
  ctx.setTitle(s.job.title);
  clear(ctx.main, h('div', { class: 'cols-2' }, col1, col2));
  // Before the work: the job, then the check-in. After the check-out (or once closed) the
  // close comes first: the outcome, photos and the close form on top, the job below.
  let arranged = null;
  function arrange(phase) {
    if (phase === arranged) return;
    // Moved on by an action (a check-out, the close): show the new first step from the top.
    if (arranged !== null) window.scrollTo({ top: 0 });
    arranged = phase;
    if (phase === 'work') { col1.replaceChildren(head, checkSection); col2.replaceChildren(photoSection, closeSection); }
    else if (phase === 'after') { col1.replaceChildren(nextBox, photoSection, closeSection); col2.replaceChildren(head, checkSection); }
    else { col1.replaceChildren(closeSection, photoSection); col2.replaceChildren(head, checkSection); }
  }

  // ---- Live position: high accuracy, never a cached fix ----
  function showFix() {
    if (s.fixError && !s.fix) { geo.note.textContent = t('job.no_position'); return; }
    if (!s.fix) return;
    geo.accuracy.textContent = `±${distance(s.fix.accuracy_m)}`;
    const d = metresBetween(s.fix, s.site);
    geo.toSite.textContent = distance(d);
    geo.note.textContent = d <= s.site.radius_m + Math.min(s.fix.accuracy_m, 100) ? t('job.inside') : t('job.outside');
    drawWarning();
  }
  // What the server will flag if the engineer checks in now (verification.md's fence, the
  // 100 m accuracy line, a visit open elsewhere): said before the tap, never a block.
  function checkInWarnings() {
    const out = [];
    if (s.fix) {
      const d = metresBetween(s.fix, s.site);
      if (d > s.site.radius_m + Math.min(s.fix.accuracy_m, 100)) out.push(t('job.warn_far', { distance: distance(d), radius: distance(s.site.radius_m) }));
      if (s.fix.accuracy_m > 100) out.push(t('job.warn_accuracy', { accuracy: distance(s.fix.accuracy_m) }));
    }
    for (const v of s.openElsewhere) out.push(t('job.warn_open', { title: v.visit && v.visit.job ? v.visit.job.title : `#${v.job_id}` }));
    return out;
  }
  const warnList = h('ul', {});
  let warned = '';
  function drawWarning() {
    const warnings = s.canCheckIn ? checkInWarnings() : [];
    warnBox.hidden = !warnings.length;
    // Only the sentences change as the fix moves: the reason being typed keeps its focus.
    if (warnings.join('\n') === warned) return;
    warned = warnings.join('\n');
    warnList.replaceChildren(...warnings.map((w) => h('li', {}, w)));
    if (!warnBox.firstChild) warnBox.append(h('strong', {}, t('job.warn_title')), warnList, reasonField);
  }
  if (navigator.geolocation) {
    const watch = navigator.geolocation.watchPosition(
      (p) => { s.fix = fixOf(p); s.fixError = null; showFix(); },
      (e) => { s.fixError = e; showFix(); },
      { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 });
    ctx.onCleanup(() => navigator.geolocation.clearWatch(watch));
  } else { s.fixError = new Error('none'); }

  // ---- Header: customer, address, contact ----
  function drawHead() {
    const j = s.job, site = s.site;
    const contact = j.first_contact_at
      ? h('p', { class: 'meta' }, t('job.contacted', { when: dateTime(j.first_contact_at) }))
      : queue.pending((e) => e.kind === 'contact' && e.job_id === id).length ? chip(t('outbox.waiting'), 'warn')
          : j.status === 'closed' || j.status === 'cancelled' ? null
            : button(t('job.contact'), () => act({ kind: 'contact', path: `jobs/${id}/contact`, job_id: id, job_title: j.title, json: { at: queue.nowIso() } }, t('job.contact_saved')), { kind: 'block' });
    clear(head, staleNote(s.stale), h('div', { class: 'card' },
      h('div', { class: 'chips' }, chip(word('status', j.status), j.status === 'closed' ? 'ok' : 'info'),
        chip(word('priority', j.priority), priorityTone(j.priority)), chip(word('category', j.category))),
      j.description ? h('p', {}, j.description) : null,
      h('dl', { class: 'kv' },
        h('dt', {}, t('job.customer')), h('dd', {}, site.customer_name),
        h('dt', {}, t('job.site')), h('dd', {}, site.name),
        h('dt', {}, t('job.address')), h('dd', { class: 'address-text' }, site.address),
        site.contact_name || site.contact_phone ? [h('dt', {}, t('job.contact_person')), h('dd', {}, site.contact_name || site.contact_phone)] : null),
      h('div', { class: 'btn-row' },
        mapLinks(site).map((m) => h('a', { class: 'btn', href: m.href, 'data-map': m.href.split(':')[0] }, t(m.label))),
        button(t('job.copy_address'), async () => { if (await copyText(site.address)) toast(t('job.address_copied'), 'ok'); }),
        site.contact_phone ? h('a', { class: 'btn', href: telHref(site.contact_phone) },
          t('job.call', { name: site.contact_name || site.contact_phone })) : null),
      contact));
  }

  // ---- Check-in / check-out ----
  async function drawCheck() {
    const allOpen = await openVisits(s.mine.concat(s.visits.filter((v) => !s.mine.some((m) => m.id === v.id))));
    const open = allOpen.find((v) => v.job_id === id);
    s.openElsewhere = allOpen.filter((v) => v.job_id !== id);
    const closed = s.job.status === 'closed' || s.job.status === 'cancelled';
    const pendingOut = queue.pending((e) => e.kind === 'checkout' && e.job_id === id && e.state !== 'refused');
    const lastOut = s.visits.filter((v) => v.check_out).map((v) => v.check_out.client_time)
      .concat(pendingOut.map((e) => e.json.client_time)).sort().pop();
    // After a check-out the next step is the close: no big "Check in" under the thumb.
    const after = !closed && !open && Boolean(lastOut);
    s.canCheckIn = !closed && !open;
    arrange(closed ? 'closed' : after ? 'after' : 'work');
    nextBox.hidden = !after;
    if (after) {
      clear(nextBox, s.outcome || h('div', { class: 'card card-ok', role: 'status' }, h('strong', {}, t('job.checked_out_at', { time: time(lastOut) }))),
        h('p', { class: 'meta' }, t('job.next_close')));
    }
    const rows = s.visits.map((v) => h('li', { class: 'list-row' },
      h('div', { class: 'grow' },
        h('div', {}, t('job.visit_row', { start: dateTime(v.check_in.client_time), end: v.check_out ? time(v.check_out.client_time) : t('job.visit_open') })),
        v.flags.length ? h('ul', { class: 'flags' }, v.flags.map((f) => h('li', {}, flagText(f, fixOfFlag(v, f), { decided: isDecided(v), checkedOut: Boolean(v.check_out) })))) : null,
        v.decision_note ? h('p', { class: 'meta' }, v.decision_note) : null,
        v.status === 'rejected' && !v.disputed_at ? h('a', { href: '#/visits/rejected' }, t('job.dispute_link')) : null),
      chip(word('visit', v.status), visitTone(v.status))));
    const pendingRows = queue.pending((e) => e.job_id === id && (e.kind === 'checkin' || e.kind === 'checkout')).map((e) =>
      h('li', { class: 'list-row' }, h('div', { class: 'grow' }, t(`action.${e.kind}`), ' · ', time(e.json.client_time)),
        chip(e.state === 'refused' ? t('outbox.refused') : t('outbox.waiting'), e.state === 'refused' ? 'bad' : 'warn')));
    // One tap sends; a second tap of a double tap lands on nothing: the button is disabled
    // from the first tap until the answer or the outbox has the action, and the button drawn
    // after it ignores taps for a moment.
    const action = closed ? null : h('button', {
      type: 'button', class: ['btn', 'btn-big', 'btn-block', after ? '' : 'btn-primary', open && 'btn-ok'], 'data-testid': 'check-button',
      onclick: (ev) => { if (!s.busy && Date.now() >= s.armedAt) checkInOrOut(ev.currentTarget, open); },
    }, open ? t('job.check_out') : after ? t('job.check_in_again') : t('job.check_in'));
    const visitsList = [rows.length || pendingRows.length ? h('h3', { class: 'section-title' }, t('job.visits')) : null,
      h('ul', { class: 'list' }, rows, pendingRows),
      h('a', { class: 'btn btn-block', href: '#/visits' }, t('job.my_visits'))];
    clear(checkSection,
      h('h2', { id: 'check-h' }, open ? t('job.checked_in_since', { time: time(open.since) }) : after ? t('job.checked_out_at', { time: time(lastOut) }) : t('job.position')),
      closed ? null : h('div', { class: 'geo' },
        h('div', { class: 'geo-cell' }, h('span', { class: 'meta' }, t('job.accuracy')), geo.accuracy),
        h('div', { class: 'geo-cell' }, h('span', { class: 'meta' }, t('job.to_site')), geo.toSite)),
      closed ? null : geo.note,
      // Before the work: the button under the position; after a check-out: below the visits.
      after ? null : [warnBox, action, s.outcome],
      visitsList,
      after ? [warnBox, action] : null);
    showFix();
  }

  async function checkInOrOut(btn, open) {
    btn.disabled = true;
    s.busy = true;
    try {
      let fix = s.fix;
      if (!fix || Date.now() - fix.at > 60000) {
        try { fix = fixOf(await freshPositionRaw()); } catch (e) { fix = s.fix; }
      }
      if (!fix) { s.outcome = h('p', { class: 'field-error', role: 'alert' }, t('job.no_position')); await drawCheck(); return; }
      const body = { lat: fix.lat, lon: fix.lon, accuracy_m: fix.accuracy_m, client_time: queue.nowIso() };
      const action = open
        ? { kind: 'checkout', path: `visits/${open.ref}/check-out`, json: body, visit_ref: open.ref, job_id: id, job_title: s.job.title }
        : { kind: 'checkin', path: 'visits/check-in', json: checkInBody(body), job_id: id, job_title: s.job.title };
      s.outcome = await outcomeOf(action, open ? t('job.checked_out') : t('job.checked_in'));
      if (!open) { s.reason = ''; reasonInput.value = ''; }
      s.armedAt = Date.now() + 1200;
      await reload();
    } finally { btn.disabled = false; s.busy = false; }
  }
  // The check-in's body: the one place it is built. The reason typed under a warning
  // (s.reason, ≤ 500 characters) goes as `note`, stored as the visit's `check_in_note`
  // and shown to the supervisor beside the flags; no reason, no field.
  function checkInBody(position) {
    const note = (s.reason || '').trim().slice(0, 500);
    return note ? { job_id: id, ...position, note } : { job_id: id, ...position };
  }
  function freshPositionRaw() {
    return new Promise((resolve, reject) => navigator.geolocation.getCurrentPosition(resolve, reject,
      { enableHighAccuracy: true, maximumAge: 0, timeout: 15000 }));
  }

  // Sends an action; returns what to show: the flags in plain words, "waiting", or the refusal.
  async function outcomeOf(action, doneText) {
    try {
      const r = await queue.submit(action);
      if (r.status === 'queued') return h('p', { class: 'banner banner-waiting', role: 'status' }, t('outbox.saved_offline'));
      const visit = r.body;
      const fix = action.kind === 'checkout' ? visit.check_out : visit.check_in;
      const flags = (fix && fix.flags) || [];
      if (!flags.length) return h('div', { class: 'card card-ok', role: 'status' }, h('strong', {}, doneText), ' ', t('job.no_flags'));
      return h('div', { class: 'card card-warn', role: 'alert' }, h('strong', {}, doneText),
        h('ul', { class: 'flags' }, flags.map((f) => h('li', {}, flagText(f, fix)))));
    } catch (error) {
      return h('p', { class: 'card card-bad', role: 'alert' }, problemText(error));
    }
  }

  async function act(action, doneText) {
    try {
      const r = await queue.submit(action);
      toast(r.status === 'sent' ? doneText : t('outbox.saved_offline'), r.status === 'sent' ? 'ok' : '');
    } catch (error) { toast(problemText(error), 'bad', 6000); }
    await reload();
  }

  // ---- Photos by kind ----
  function drawPhotos() {
    progressBars.clear();
    const pending = queue.pending((e) => e.kind === 'photo' && e.job_id === id);
    const strips = KINDS.concat(s.photos.some((p) => p.kind === 'signature') ? ['signature'] : []).map((kind) => {
      const items = s.photos.filter((p) => p.kind === kind).map((p, n) => h('li', { class: 'photo' },
        h('a', { href: p.image_url, target: '_blank', rel: 'noopener' },
          h('img', { src: p.thumb_url, alt: t('job.photo_alt', { kind: t(`kind.${kind}`), n: n + 1 }), loading: 'lazy', width: 96, height: 96 })),
        p.flags.length ? chip(t('job.photo_flags'), 'warn') : null));
      const waiting = pending.filter((e) => e.form.fields.kind === kind).map((e) => {
        const u = URL.createObjectURL(e.form.file);
        urls.push(u);
        const bar = h('progress', { max: 100, value: 0, 'aria-label': t('job.uploading', { pct: 0 }) });
        progressBars.set(e.key, bar);
        return h('li', { class: 'photo photo-pending' }, h('img', { src: u, alt: t('outbox.waiting'), width: 96, height: 96 }),
          e.state === 'refused'
            ? [chip(t('outbox.refused'), 'bad'), h('p', { class: 'field-error' }, problemText(e.error)), button(t('common.retry'), () => queue.retry(e.seq))]
            : [bar, chip(t('outbox.waiting'), 'warn')]);
      });
      if (!items.length && !waiting.length) return null;
      return h('div', {}, h('h3', { class: 'section-title' }, t(`kind.${kind}`)), h('ul', { class: 'photos' }, items, waiting));
    }).filter(Boolean);
    const kindName = `kind-${id}`;
    // The engineer's choice is kept; until then "after" once work has begun (a before photo,
    // a visit, a check-out waiting on the phone), else "before".
    const begun = s.photos.some((p) => p.kind === 'before') || s.visits.length
      || queue.pending((e) => e.job_id === id && (e.kind === 'checkin' || e.kind === 'checkout')).length;
    const chosen = s.kindChosen || (begun ? 'after' : 'before');
    const kinds = h('fieldset', {}, h('legend', {}, t('job.kind')), h('div', { class: 'radio-row' },
      KINDS.map((k) => h('label', {}, h('input', { type: 'radio', name: kindName, value: k, checked: k === chosen,
        onchange: () => { s.kindChosen = k; } }), t(`kind.${k}`)))));
    const input = (label, capture) => h('label', { class: 'btn file-btn' }, label,
      h('input', { type: 'file', accept: 'image/*', capture: capture ? 'environment' : null, 'aria-label': label,
        onchange: (ev) => upload(ev.currentTarget) }));
    const closed = s.job.status === 'closed' || s.job.status === 'cancelled';
    clear(photoSection, h('h2', { id: 'photos-h' }, t('job.photos')),
      strips.length ? strips : h('p', { class: 'meta' }, t('job.no_photos')),
      closed ? null : [kinds, h('div', { class: 'btn-row' }, input(t('job.take_photo'), true), input(t('job.pick_photo'), false))]);
  }

  async function upload(inputEl) {
    const file = inputEl.files && inputEl.files[0];
    if (!file) return;
    const kind = photoSection.querySelector(`input[name="kind-${id}"]:checked`)?.value || 'before';
    inputEl.value = '';
    const { blob, shrunk } = await prepare(file);
    if (shrunk) toast(t('job.photo_shrunk'));
    const name = (file.name || 'photo').replace(/\.[^.]*$/, '') + (blob === file ? (file.name.match(/\.[^.]*$/)?.[0] || '.jpg') : '.jpg');
    const action = { kind: 'photo', path: `jobs/${id}/photos`, job_id: id, job_title: s.job.title, client_time: queue.nowIso(), form: { fields: { kind }, file: blob, filename: name } };
    const submitted = queue.submit(action);
    setTimeout(drawPhotos, 0); // show it at once, with its progress bar
    try {
      const r = await submitted;
      toast(r.status === 'sent' ? t('job.photo_saved') : t('job.photo_waiting'), r.status === 'sent' ? 'ok' : '');
    } catch (error) { toast(problemText(error), 'bad', 6000); }
    await reload();
  }

  // ---- The customer's signature (a category with signature_required): a PNG photo of kind
  // `signature`, through the photo outbox like any photo ----
  let signing = false; // "Sign again" pressed: the pad stays until saved
  let sigDrawn = null;
  function drawSignature() {
    const j = s.job;
    const stored = s.photos.filter((p) => p.kind === 'signature');
    const waiting = queue.pending((e) => e.kind === 'photo' && e.job_id === id && e.form.fields.kind === 'signature' && e.state !== 'refused');
    // Redrawn only when its state changes: a signature being drawn is never wiped by a reload.
    const drawn = `${j.status}/${s.category && s.category.signature_required}/${stored.length}/${waiting.length}/${signing}`;
    if (drawn === sigDrawn) return;
    sigDrawn = drawn;
    if (!(s.category && s.category.signature_required) || j.status === 'closed' || j.status === 'cancelled') { clear(sigBox); sigBox.hidden = true; return; }
    sigBox.hidden = false;
    const heading = h('h3', { id: 'sig-h' }, t('job.signature'));
    if ((stored.length || waiting.length) && !signing) {
      let src = stored.length ? stored[stored.length - 1].thumb_url : null;
      if (!src) { src = URL.createObjectURL(waiting[waiting.length - 1].form.file); urls.push(src); }
      clear(sigBox, heading, h('div', { class: 'chips' }, chip(`✓ ${t('job.signature_done')}`, 'ok'), waiting.length ? chip(t('outbox.waiting'), 'warn') : null),
        h('img', { class: 'sig-img', src, alt: t('job.signature_alt'), width: 200, height: 100 }),
        button(t('job.signature_again'), () => { signing = true; drawSignature(); }));
      return;
    }
    const pad = signaturePad(t('job.signature_pad'));
    const message = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const save = button(t('job.signature_save'), async () => {
      if (pad.blank) { message.textContent = t('job.signature_empty'); message.hidden = false; return; }
      save.disabled = true;
      const blob = await pad.toBlob();
      const submitted = queue.submit({ kind: 'photo', path: `jobs/${id}/photos`, job_id: id, job_title: j.title, client_time: queue.nowIso(),
        form: { fields: { kind: 'signature' }, file: blob, filename: 'signature.png' } });
      signing = false;
      setTimeout(drawSignature, 0);
      try {
        const r = await submitted;
        toast(r.status === 'sent' ? t('job.signature_saved') : t('job.signature_waiting'), r.status === 'sent' ? 'ok' : '');
      } catch (error) { toast(problemText(error), 'bad', 6000); }
      await reload();
    }, { kind: 'primary' });
    clear(sigBox, heading, h('p', { class: 'meta' }, t('job.signature_help')), pad.canvas, message,
      h('div', { class: 'btn-row' }, button(t('job.signature_clear'), () => { pad.clear(); message.hidden = true; }), save));
  }

  // ---- Close form, then the customer's rating link ----
  let closeDrawn = null;
  function drawClose() {
    const j = s.job;
    const pendingClose = queue.pending((e) => e.kind === 'close' && e.job_id === id && e.state !== 'refused');
    // Redrawn only when its state changes: what is typed in the form is never lost.
    const drawn = `${j.status}/${pendingClose.length}/${s.category ? s.category.key : ''}/${s.feedback ? 1 : 0}`;
    if (drawn === closeDrawn) return;
    closeDrawn = drawn;
    if (j.status === 'closed') {
      clear(closeSection, h('h2', { id: 'close-h' }, t('job.closed', { when: dateTime(j.closed_at) })),
        h('dl', { class: 'kv' }, h('dt', {}, t('job.resolution_was')), h('dd', {}, j.resolution || '—'),
          h('dt', {}, t('job.fixed')), h('dd', {}, j.fixed ? t('job.fixed_yes') : t('job.fixed_no'))),
        feedbackBlock(), h('a', { class: 'btn btn-block', href: `#/knowledge/new/${id}` }, t('job.case')));
      return;
    }
    if (j.status === 'cancelled') { clear(closeSection); closeSection.hidden = true; return; }
    if (pendingClose.length) {
      clear(closeSection, h('h2', { id: 'close-h' }, t('job.close')), h('p', { class: 'banner banner-waiting', role: 'status' }, t('job.closed_waiting')));
      return;
    }
    const items = (s.category && s.category.checklist) || ['ppe_worn', 'power_isolated', 'area_cleaned', 'customer_briefed'];
    const resolution = h('textarea', { class: 'textarea', name: 'resolution', required: true });
    const fixedName = `fixed-${id}`;
    const fixed = h('fieldset', {}, h('legend', {}, t('job.fixed')), h('div', { class: 'radio-row' },
      h('label', {}, h('input', { type: 'radio', name: 'fixed', value: 'yes' }), t('common.yes')),
      h('label', {}, h('input', { type: 'radio', name: 'fixed', value: 'no' }), t('common.no'))),
    h('p', { class: 'field-error', id: `${fixedName}-error`, hidden: true }));
    const checks = h('fieldset', {}, h('legend', {}, t('job.checklist')),
      items.map((key) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: `check.${key}`, value: key }), checkLabel(key))));
    const message = h('div', { role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-big btn-block' }, t('job.close_submit'));
    const form = h('form', { class: 'form', novalidate: true, onsubmit: async (ev) => {
      ev.preventDefault();
      const fixedValue = form.querySelector('input[name="fixed"]:checked')?.value;
      const problems = [];
      if (!resolution.value.trim()) problems.push(t('job.close_need_resolution'));
      if (!fixedValue) problems.push(t('job.close_need_fixed'));
      const afterPhotos = s.photos.filter((p) => p.kind === 'after').length
        + queue.pending((e) => e.kind === 'photo' && e.job_id === id && e.state !== 'refused' && e.form.fields.kind === 'after').length;
      if (!afterPhotos) problems.push(t('job.close_need_after'));
      const signed = s.photos.some((p) => p.kind === 'signature')
        || queue.pending((e) => e.kind === 'photo' && e.job_id === id && e.state !== 'refused' && e.form.fields.kind === 'signature').length;
      if (s.category && s.category.signature_required && !signed) problems.push(t('job.close_need_signature'));
      const open = (await openVisits(s.visits)).some((v) => v.job_id === id);
      const checkedOut = s.visits.some((v) => v.check_out) || queue.pending((e) => e.kind === 'checkout' && e.job_id === id && e.state !== 'refused').length;
      if (j.mode === 'field' && (open || !checkedOut)) problems.push(t('job.close_need_checkout'));
      if (problems.length) { clear(message, h('ul', { class: 'field-error' }, problems.map((p) => h('li', {}, p)))); return; }
      const checklist = Object.fromEntries(items.map((key) => [key, form.querySelector(`input[name="check.${key}"]`).checked]));
      submit.disabled = true;
      try {
        const r = await queue.submit({ kind: 'close', path: `jobs/${id}/close`, job_id: id, job_title: j.title,
          json: { resolution: resolution.value.trim(), fixed: fixedValue === 'yes', checklist, client_time: queue.nowIso() } });
        toast(r.status === 'sent' ? t('job.closed_ok') : t('outbox.saved_offline'), r.status === 'sent' ? 'ok' : '');
        await reload();
      } catch (error) {
        clear(message, h('p', { class: 'field-error' }, problemText(error)));
        if (error.errors) showFieldErrors(form, error.errors);
        submit.disabled = false;
      }
    } }, field(t('job.resolution'), resolution), fixed, checks, message, submit);
    clear(closeSection, h('h2', { id: 'close-h' }, t('job.close')), sigBox, form);
  }

  function feedbackBlock() {
    const box = h('div', { class: 'section' }, h('h3', {}, t('job.feedback')));
    const show = async (link) => {
      const img = h('img', { class: 'qr', alt: t('job.qr_alt'), width: 220, height: 220 });
      const { default: qrcode } = await import('../../vendor/qrcode-generator-2.0.4.mjs');
      const qr = qrcode(0, 'M');
      qr.addData(link.url);
      qr.make();
      img.src = qr.createDataURL(6, 3);
      clear(box, h('h3', {}, t('job.feedback')), h('p', {}, t('job.feedback_help')), img,
        h('p', { class: 'link-box' }, h('a', { href: link.url }, link.url)),
        h('p', { class: 'meta' }, t('job.feedback_until', { when: dateTime(link.expires_at) })),
        h('div', { class: 'btn-row' },
          button(t('job.copy'), async () => { try { await navigator.clipboard.writeText(link.url); toast(t('job.copied'), 'ok'); } catch { /* denied */ } }),
          navigator.share ? button(t('job.share'), () => navigator.share({ url: link.url, title: s.job.title }).catch(() => {})) : null));
    };
    if (s.feedback) { show(s.feedback); return box; }
    box.append(button(t('job.feedback_make'), async (ev) => {
      ev.currentTarget.disabled = true;
      try {
        const r = await queue.submit({ kind: 'feedback', label: t('job.feedback'), path: `jobs/${id}/feedback-link`, job_id: id, json: {} });
        if (r.status === 'sent') { s.feedback = r.body; await show(r.body); } else toast(t('outbox.saved_offline'));
      } catch (error) { toast(problemText(error), 'bad', 6000); ev.currentTarget.disabled = false; }
    }, { kind: 'primary block' }));
    return box;
  }

  async function reload() {
    try { await loadAll(); } catch (e) { /* keep what is shown */ }
    if (!ctx.isCurrent()) return;
    drawHead();
    await drawCheck();
    drawPhotos();
    drawClose();
    drawSignature();
  }

  drawHead();
  await drawCheck();
  drawPhotos();
  drawClose();
  drawSignature();

  // Progress of uploads, and redraws when an action of this job is sent or refused.
  let last = queue.current().waiting + queue.current().refused;
  let reloadLater = null;
  ctx.onCleanup(queue.subscribe((state) => {
    for (const [key, bar] of progressBars) {
      const p = queue.progressOf(key);
      if (p && p.total) {
        const pct = Math.round((100 * p.loaded) / p.total);
        bar.value = pct;
        bar.setAttribute('aria-label', t('job.uploading', { pct }));
      }
    }
    const now = state.waiting + state.refused;
    if (now === last || !ctx.isCurrent()) return;
    last = now;
    // Once the outbox has been still for a moment: a replay reloads once, not per action.
    clearTimeout(reloadLater);
    reloadLater = setTimeout(() => { if (ctx.isCurrent()) reload(); }, 500);
  }));
  ctx.onCleanup(() => clearTimeout(reloadLater));
}
