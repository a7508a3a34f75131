// Strings in English and Simplified Chinese. Each module registers its own strings with
// register({en: {...}, 'zh-CN': {...}}); t('key', {n: 2}) fills {n}-style placeholders.
// A value may be {one: '...', other: '...'} and is then chosen with Intl.PluralRules by `n`.

export const LOCALES = ['en', 'zh-CN'];
const STORE_KEY = 'fieldproof.locale';
const strings = { en: {}, 'zh-CN': {} };
const listeners = new Set();
let current = pickLocale();

function pickLocale() {
  let saved = null;
  try { saved = localStorage.getItem(STORE_KEY); } catch { /* storage blocked */ }
  if (LOCALES.includes(saved)) return saved;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of wanted) {
    if (/^zh\b/i.test(tag)) return 'zh-CN';
    if (/^en\b/i.test(tag)) return 'en';
  }
  return 'en';
}

export function register(table) {
  for (const [locale, entries] of Object.entries(table)) {
    strings[locale] = Object.assign(strings[locale] || {}, entries);
  }
}

export function locale() { return current; }

export function setLocale(next, { save = true } = {}) {
  if (!LOCALES.includes(next)) return;
  current = next;
  if (save) { try { localStorage.setItem(STORE_KEY, next); } catch { /* ignore */ } }
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

export function onLocaleChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

export function has(key) { return key in (strings[current] || {}) || key in strings.en; }

export function t(key, vars = {}) {
  let value = strings[current]?.[key] ?? strings.en[key];
  if (value === undefined) return key;
  if (typeof value === 'object') {
    const rule = intl(Intl.PluralRules, current).select(Number(vars.n ?? 0));
    value = value[rule] ?? value.other;
  }
  return value.replace(/\{(\w+)\}/g, (m, name) => {
    if (!(name in vars)) return m;
    const v = vars[name];
    return typeof v === 'number' ? num(v) : String(v);
  });
}

// A code's words (word('role', 'engineer') → t('role.engineer')), or the code itself when
// no words are registered for it.
export function word(prefix, key) { const k = `${prefix}.${key}`; const s = t(k); return s === k ? key : s; }

// Numbers, dates and times in the chosen locale. A formatter is costly to make (tens of
// milliseconds on a slow phone) and a screen formats hundreds of values: one per settings.
const formatters = new Map();
function intl(Kind, loc, options = {}) {
  const key = `${Kind.name} ${loc} ${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) { f = new Kind(loc, options); formatters.set(key, f); }
  return f;
}
export function num(value, options = {}) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  // Whole numbers below 1000 are plain digits in both languages: no formatter to build
  // (the first one costs a slow phone a noticeable pause at start).
  if (Number.isInteger(value) && Math.abs(value) < 1000
      && Object.keys(options).every((k) => k === 'maximumFractionDigits')) return String(value);
  return intl(Intl.NumberFormat, current, { maximumFractionDigits: 1, ...options }).format(value);
}
export function date(value, options = { dateStyle: 'medium' }) {
  if (!value) return '—';
  return intl(Intl.DateTimeFormat, current, options).format(new Date(value));
}
export function dateTime(value) { return date(value, { dateStyle: 'medium', timeStyle: 'short' }); }
export function time(value) { return date(value, { timeStyle: 'short' }); }
export function distance(metres) {
  if (metres === null || metres === undefined) return '—';
  return metres >= 1000 ? t('unit.km', { n: num(metres / 1000, { maximumFractionDigits: 1 }) })
    : t('unit.m', { n: num(Math.round(metres), { maximumFractionDigits: 0 }) });
}
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (x) => String(x).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

register({
  en: {
    'app.name': 'FieldProof',
    'unit.km': '{n} km', 'unit.m': '{n} m',
    'common.loading': 'Loading…', 'common.retry': 'Try again', 'common.back': 'Back',
    'common.cancel': 'Cancel', 'common.save': 'Save', 'common.send': 'Send', 'common.dismiss': 'Dismiss',
    'common.close': 'Close', 'common.yes': 'Yes', 'common.no': 'No', 'common.empty': 'Nothing here yet.',
    'common.error': 'Something went wrong.', 'common.offline_stale': 'Offline: showing what was last loaded.',
    'common.offline_nodata': 'You are offline and this screen has not been loaded before.',
    'common.more': 'More', 'common.skip': 'Skip to content',
    'nav.main': 'Main', 'tab.today': 'Today', 'tab.kpis': 'KPIs', 'tab.knowledge': 'Knowledge', 'tab.me': 'Me',
    'tab.queue': 'Queue', 'tab.dispatch': 'Dispatch', 'tab.team': 'Team', 'tab.alerts': 'Alerts', 'tab.reviews': 'Reviews',
    'signin.title': 'Sign in', 'signin.email': 'Email', 'signin.password': 'Password',
    'signin.submit': 'Sign in', 'signin.offline': 'Signing in needs a network connection.',
    'signin.failed': 'Wrong email or password.',
    'banner.offline': 'You are offline. Actions are kept on this phone and sent when the network returns.',
    'banner.waiting': { one: '{n} action waiting to send', other: '{n} actions waiting to send' },
    'banner.refused': { one: '{n} action was refused', other: '{n} actions were refused' },
    'banner.send_now': 'Send now', 'banner.show': 'Show',
    'outbox.waiting': 'Waiting to send', 'outbox.sending': 'Sending…', 'outbox.refused': 'Refused',
    'outbox.sent': 'Sent', 'outbox.saved_offline': 'Saved on this phone: waiting to send.',
    'outbox.none': 'Every action has been sent.',
    'outbox.dependency': 'An earlier action it depends on was refused.',
    'action.checkin': 'Check-in', 'action.checkout': 'Check-out', 'action.contact': 'Customer contact',
    'action.photo': 'Photo', 'action.close': 'Close job', 'action.case': 'Knowledge case',
    'action.other': 'Action', 'action.ack': 'Review acknowledged', 'action.item': 'Action item', 'action.dispute': 'Dispute of a visit',
    'error.network': 'No network: kept and will be sent later.',
    'error.UNAUTHORIZED': 'Please sign in again.', 'error.INVALID_CREDENTIALS': 'Wrong email or password.',
    'error.FORBIDDEN': 'Your role may not do this.', 'error.CSRF_FAILED': 'The session expired; please try again.',
    'error.ACCOUNT_DISABLED': 'This account is disabled.', 'error.NOT_FOUND': 'Not found, or not yours to see.',
    'error.METHOD_NOT_ALLOWED': 'Not allowed.', 'error.MALFORMED_REQUEST': 'The request was malformed.',
    'error.CONFLICT': 'Someone changed this meanwhile.', 'error.JOB_CLOSED': 'This job is already closed.',
    'error.CLOSE_REQUIREMENTS_UNMET': 'The job cannot be closed yet: it needs an after photo and a checked-out visit.',
    'error.CLOSE_REQUIREMENTS_UNMET.some': 'The job cannot be closed yet: {list}.', 'missing.AFTER_PHOTO': 'an “after” photo',
    'missing.CHECKED_OUT_VISIT': 'a checked-out visit', 'missing.SIGNATURE': 'the customer’s signature', 'missing.CHECKLIST': 'the checklist item “{item}”',
    'error.VISIT_CLOSED': 'This visit is already checked out.', 'error.VISIT_ALREADY_OPEN': 'You are already checked in on this job.',
    'error.ALREADY_DISPUTED': 'You have already disputed this.', 'error.DECISION_FINAL': 'The decision is final.',
    'error.PERIOD_NOT_ENDED': 'The month has not ended yet.', 'error.PERIOD_ALREADY_CLOSED': 'The month is already closed.',
    'error.IDEMPOTENCY_IN_PROGRESS': 'Still being processed; it will be retried.',
    'error.LINK_USED': 'This link has already been used.', 'error.LINK_EXPIRED': 'This link has expired.',
    'error.PAYLOAD_TOO_LARGE': 'The file is too large.', 'error.UNSUPPORTED_MEDIA_TYPE': 'This file type is not accepted.',
    'error.VALIDATION_ERROR': 'Some fields need attention.', 'error.IMAGE_TOO_LARGE': 'The picture has too many pixels.',
    'error.IMAGE_INVALID': 'The picture could not be read.',
    'error.OFFLINE_ACTION_TOO_OLD': 'This action was kept offline for too long (over 72 hours) and was refused.',
    'error.IDEMPOTENCY_KEY_REUSED': 'This action conflicts with another one sent with the same key.',
    'error.RATE_LIMITED': 'Too many attempts; wait a little and try again.', 'error.INTERNAL_ERROR': 'The server had a problem.',
    'error.GONE': 'No longer available.',
  },
  'zh-CN': {
    'app.name': 'FieldProof',
    'unit.km': '{n} 公里', 'unit.m': '{n} 米',
    'common.loading': '加载中…', 'common.retry': '重试', 'common.back': '返回',
    'common.cancel': '取消', 'common.save': '保存', 'common.send': '发送', 'common.dismiss': '忽略',
    'common.close': '关闭', 'common.yes': '是', 'common.no': '否', 'common.empty': '暂无内容。',
    'common.error': '出错了。', 'common.offline_stale': '离线：显示的是上次加载的内容。',
    'common.offline_nodata': '当前离线，且此页面此前未加载过。',
    'common.more': '更多', 'common.skip': '跳到正文',
    'nav.main': '主导航', 'tab.today': '今日', 'tab.kpis': '绩效', 'tab.knowledge': '知识库', 'tab.me': '我的',
    'tab.queue': '待审核', 'tab.dispatch': '派单', 'tab.team': '团队', 'tab.alerts': '预警', 'tab.reviews': '面谈',
    'signin.title': '登录', 'signin.email': '邮箱', 'signin.password': '密码',
    'signin.submit': '登录', 'signin.offline': '登录需要网络连接。', 'signin.failed': '邮箱或密码错误。',
    'banner.offline': '当前离线。操作会保存在手机上，网络恢复后自动发送。',
    'banner.waiting': { other: '{n} 项操作等待发送' },
    'banner.refused': { other: '{n} 项操作被拒绝' },
    'banner.send_now': '立即发送', 'banner.show': '查看',
    'outbox.waiting': '等待发送', 'outbox.sending': '发送中…', 'outbox.refused': '被拒绝',
    'outbox.sent': '已发送', 'outbox.saved_offline': '已保存在手机上：等待发送。',
    'outbox.none': '所有操作均已发送。',
    'outbox.dependency': '它所依赖的前一项操作被拒绝。',
    'action.checkin': '签到', 'action.checkout': '签退', 'action.contact': '联系客户',
    'action.photo': '照片', 'action.close': '关闭工单', 'action.case': '知识案例',
    'action.other': '操作', 'action.ack': '确认面谈', 'action.item': '行动项', 'action.dispute': '上门申诉',
    'error.network': '无网络：已保存，稍后发送。',
    'error.UNAUTHORIZED': '请重新登录。', 'error.INVALID_CREDENTIALS': '邮箱或密码错误。',
    'error.FORBIDDEN': '您的角色无权执行此操作。', 'error.CSRF_FAILED': '会话已过期，请重试。',
    'error.ACCOUNT_DISABLED': '此账号已停用。', 'error.NOT_FOUND': '未找到，或您无权查看。',
    'error.METHOD_NOT_ALLOWED': '不允许此操作。', 'error.MALFORMED_REQUEST': '请求格式错误。',
    'error.CONFLICT': '此内容已被他人修改。', 'error.JOB_CLOSED': '该工单已关闭。',
    'error.CLOSE_REQUIREMENTS_UNMET': '暂不能关闭：需要至少一张完工照片和一次已签退的上门记录。',
    'error.CLOSE_REQUIREMENTS_UNMET.some': '暂不能关闭：缺少{list}。', 'missing.AFTER_PHOTO': '“维修后”照片',
    'missing.CHECKED_OUT_VISIT': '已签退的上门记录', 'missing.SIGNATURE': '客户签名', 'missing.CHECKLIST': '检查项“{item}”',
    'error.VISIT_CLOSED': '此次上门已签退。', 'error.VISIT_ALREADY_OPEN': '您已在此工单签到。',
    'error.ALREADY_DISPUTED': '您已申诉过。', 'error.DECISION_FINAL': '该决定为最终决定。',
    'error.PERIOD_NOT_ENDED': '本月尚未结束。', 'error.PERIOD_ALREADY_CLOSED': '该月已结账。',
    'error.IDEMPOTENCY_IN_PROGRESS': '仍在处理中，稍后重试。',
    'error.LINK_USED': '此链接已使用过。', 'error.LINK_EXPIRED': '此链接已过期。',
    'error.PAYLOAD_TOO_LARGE': '文件太大。', 'error.UNSUPPORTED_MEDIA_TYPE': '不支持此文件类型。',
    'error.VALIDATION_ERROR': '部分字段需要修改。', 'error.IMAGE_TOO_LARGE': '图片像素过多。',
    'error.IMAGE_INVALID': '无法读取该图片。',
    'error.OFFLINE_ACTION_TOO_OLD': '此操作离线保存超过 72 小时，已被拒绝。',
    'error.IDEMPOTENCY_KEY_REUSED': '此操作与另一项使用相同标识的操作冲突。',
    'error.RATE_LIMITED': '尝试次数过多，请稍后再试。', 'error.INTERNAL_ERROR': '服务器出现问题。',
    'error.GONE': '已不可用。',
  },
});

// The server's problem as a sentence in the user's language (its detail when the code is unknown).
export function problemText(error) {
  if (!error) return t('common.error');
  if (error.network) return t('error.network');
  const key = `error.${error.code}`;
  if (error.code === 'CLOSE_REQUIREMENTS_UNMET') {
    const missing = missingCodes(error);
    if (missing.length) return t(`${key}.some`, { list: missing.map(missingText).join(current === 'en' ? ', ' : '、') });
  }
  return has(key) ? t(key) : (error.detail || t('common.error'));
}
// What a refused close misses, as codes: the problem's `missing`, else the keys of its `errors`.
const ERROR_KEY_CODES = { after_photo: 'AFTER_PHOTO', visit: 'CHECKED_OUT_VISIT', signature: 'SIGNATURE' };
function missingCodes(error) {
  if (error.missing) return error.missing;
  return Object.keys(error.errors || {}).map((k) => ERROR_KEY_CODES[k]).filter(Boolean);
}
function missingText(code) {
  const [kind, item] = String(code).split(':');
  const k = `missing.${kind}`;
  if (!has(k)) return code;
  const itemKey = `check.${item}`;
  return t(k, { item: item ? (has(itemKey) ? t(itemKey) : item.replace(/_/g, ' ')) : '' });
}
