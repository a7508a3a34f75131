// What the engineer's screens share: the position, distances, the open visit, job words.
import { register } from './i18n.js';
import * as api from './api.js';
import * as queue from './outbox-client.js';

register({
  en: {
    'priority.low': 'Low', 'priority.normal': 'Normal', 'priority.high': 'High', 'priority.urgent': 'Urgent',
    'status.new': 'New', 'status.assigned': 'Assigned', 'status.in_progress': 'In progress',
    'status.closed': 'Closed', 'status.cancelled': 'Cancelled',
    'visit.verified': 'Verified', 'visit.flagged': 'Under review', 'visit.approved': 'Approved',
    'visit.rejected': 'Rejected', 'visit.disputed': 'Disputed',
    'category.hvac': 'HVAC', 'category.electrical': 'Electrical', 'category.plumbing': 'Plumbing',
    'category.appliance': 'Appliance', 'category.network': 'Network',
  },
  'zh-CN': {
    'priority.low': '低', 'priority.normal': '普通', 'priority.high': '高', 'priority.urgent': '紧急',
    'status.new': '新建', 'status.assigned': '已派单', 'status.in_progress': '处理中',
    'status.closed': '已关闭', 'status.cancelled': '已取消',
    'visit.verified': '已核实', 'visit.flagged': '待审核', 'visit.approved': '已批准',
    'visit.rejected': '已驳回', 'visit.disputed': '申诉中',
    'category.hvac': '暖通空调', 'category.electrical': '电气', 'category.plumbing': '水暖',
    'category.appliance': '电器', 'category.network': '网络',
  },
});

export const PRIORITY_ORDER = { urgent: 0, high: 1, normal: 2, low: 3 };
export const priorityTone = (p) => ({ urgent: 'bad', high: 'warn' }[p] || '');
export const visitTone = (s) => ({ verified: 'ok', approved: 'ok', flagged: 'warn', disputed: 'warn', rejected: 'bad' }[s] || '');
export { word } from './i18n.js';

// Geodesic distance on a sphere (metres): enough to order jobs and to show the distance.
export function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(x)));
}

export function fixOf(position) {
  return { lat: position.coords.latitude, lon: position.coords.longitude, accuracy_m: Math.max(position.coords.accuracy || 1, 0.1), at: position.timestamp || Date.now() };
}

// One position (quick, may be a recent one): for ordering the list.
export function roughPosition(timeout = 4000) {
  return new Promise((resolve) => {
    if (!navigator.geolocation) { resolve(null); return; }
    navigator.geolocation.getCurrentPosition((p) => resolve(fixOf(p)), () => resolve(null),
      { enableHighAccuracy: false, maximumAge: 120000, timeout });
  });
}

// A fresh high-accuracy position for a check-in or check-out.
export function freshPosition(timeout = 15000) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error('no geolocation')); return; }
    navigator.geolocation.getCurrentPosition((p) => resolve(fixOf(p)), reject,
      { enableHighAccuracy: true, maximumAge: 0, timeout });
  });
}

// Sites by id, each loaded once per screen (offline: the last copy).
export async function sitesFor(ids) {
  const unique = [...new Set(ids)];
  const pairs = await Promise.all(unique.map(async (id) => {
    try { return [id, (await api.load(`sites/${id}`)).data]; } catch (e) { return [id, null]; }
  }));
  return Object.fromEntries(pairs);
}

// The engineer's open visits: from the server, plus check-ins waiting in the outbox, less
// check-outs waiting there. Each {id | key, job_id, since, pending}.
export async function openVisits(serverVisits) {
  const waiting = queue.pending((e) => e.state !== 'refused');
  const checkedOut = new Set();
  for (const e of waiting.filter((x) => x.kind === 'checkout')) {
    checkedOut.add(e.visit_ref);
    const m = /^\{\{([A-Za-z0-9-]+)\.id\}\}$/.exec(e.visit_ref);
    const answer = m ? await queue.result(m[1]) : undefined;
    if (answer) checkedOut.add(String(answer.id)); // the check-in has been sent meanwhile
  }
  const open = serverVisits.filter((v) => !v.check_out && !checkedOut.has(String(v.id)))
    .map((v) => ({ id: v.id, ref: String(v.id), job_id: v.job_id, since: v.check_in.client_time, pending: false, visit: v }));
  for (const e of waiting.filter((x) => x.kind === 'checkin')) {
    if (!checkedOut.has(`{{${e.key}.id}}`)) open.push({ id: null, ref: `{{${e.key}.id}}`, job_id: e.job_id, since: e.json.client_time, pending: true });
  }
  return open;
}

export function todayIso() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

// A phone number as a tel: link: its digits and a leading +, whatever was typed between
// them (spaces, dashes, brackets), so that every screen dials the same number the same way.
export function telHref(phone) {
  const text = String(phone).trim();
  return `tel:${text.startsWith('+') ? '+' : ''}${text.replace(/\D/g, '')}`;
}
