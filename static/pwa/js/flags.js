// The verification flags (verification.md) in plain words, for engineers and supervisors.
import { t, register, distance } from './i18n.js';
import { h } from './ui.js';

register({
  en: {
    'flag.OUTSIDE_GEOFENCE': 'You are {distance} from the site — your supervisor will review this visit.',
    'flag.OUTSIDE_GEOFENCE.other': 'Checked in {distance} from the site (outside its area).',
    'flag.LOW_ACCURACY': 'The position was imprecise (±{accuracy}) — your supervisor will review this visit.',
    'flag.LOW_ACCURACY.other': 'The position was imprecise (±{accuracy}).',
    'flag.MOCK_LOCATION': 'The position came from a mock location app.',
    'flag.IMPOSSIBLE_TRAVEL': 'The distance from your previous check-in or check-out is too far to travel in that time.',
    'flag.DUPLICATE_COORDINATES': 'Exactly the same coordinates as an earlier check-in — real positions vary a little.',
    'flag.CLOCK_SKEW': 'The phone’s clock is ahead of the server’s.',
    'flag.LATE_SYNC': 'Sent more than 6 hours after it was made.',
    'flag.OVERLAPPING_VISIT': 'Another visit at a different site was still open.',
    'flag.SHORT_VISIT': 'The visit lasted less than 5 minutes.',
    'flag.NO_CHECKOUT': 'The visit was never checked out.',
    'flag.DUPLICATE_PHOTO': 'This photo (or a near copy) is attached to another job.',
    'flag.PHOTO_LOCATION_MISMATCH': 'The photo was taken far from the site.',
    'flag.PHOTO_TIME_MISMATCH': 'The photo was taken outside the visit’s time.',
    'flag.review': 'Your supervisor will review this visit.',
    'flag.OUTSIDE_GEOFENCE.decided': 'You were {distance} from the site.',
    'flag.NO_CHECKOUT.late': 'Still open when the next check-in was made (checked out later).',
    'flag.LOW_ACCURACY.decided': 'The position was imprecise (±{accuracy}).',
    'flag.OUTSIDE_GEOFENCE.at': '{event} was {distance} from the site, outside its {radius} area.',
    'flag.LOW_ACCURACY.at': '{event} position was imprecise (±{accuracy}).',
    'flag.OUTSIDE_GEOFENCE.short': 'Outside the site', 'flag.LOW_ACCURACY.short': 'Imprecise position',
    'flag.MOCK_LOCATION.short': 'Mock location', 'flag.IMPOSSIBLE_TRAVEL.short': 'Impossible travel',
    'flag.DUPLICATE_COORDINATES.short': 'Repeated coordinates', 'flag.CLOCK_SKEW.short': 'Clock ahead',
    'flag.LATE_SYNC.short': 'Sent late', 'flag.OVERLAPPING_VISIT.short': 'Overlapping visit',
    'flag.SHORT_VISIT.short': 'Short visit', 'flag.NO_CHECKOUT.short': 'No check-out',
    'flag.DUPLICATE_PHOTO.short': 'Duplicate photo', 'flag.PHOTO_LOCATION_MISMATCH.short': 'Photo elsewhere',
    'flag.PHOTO_TIME_MISMATCH.short': 'Photo at another time',
  },
  'zh-CN': {
    'flag.OUTSIDE_GEOFENCE': '您距离现场 {distance} —— 主管将审核此次上门。',
    'flag.OUTSIDE_GEOFENCE.other': '签到位置距离现场 {distance}（在现场范围外）。',
    'flag.LOW_ACCURACY': '定位精度较差（±{accuracy}）—— 主管将审核此次上门。',
    'flag.LOW_ACCURACY.other': '定位精度较差（±{accuracy}）。',
    'flag.MOCK_LOCATION': '位置来自模拟定位应用。',
    'flag.IMPOSSIBLE_TRAVEL': '与上一次签到或签退的距离在这段时间内不可能到达。',
    'flag.DUPLICATE_COORDINATES': '坐标与之前某次签到完全相同 —— 真实定位总会略有变化。',
    'flag.CLOCK_SKEW': '手机时间比服务器快。',
    'flag.LATE_SYNC': '操作后超过 6 小时才发送。',
    'flag.OVERLAPPING_VISIT': '另一现场的上门记录仍未签退。',
    'flag.SHORT_VISIT': '上门时间不足 5 分钟。',
    'flag.NO_CHECKOUT': '此次上门没有签退。',
    'flag.DUPLICATE_PHOTO': '此照片（或几乎相同的照片）已用于另一个工单。',
    'flag.PHOTO_LOCATION_MISMATCH': '照片拍摄地点远离现场。',
    'flag.PHOTO_TIME_MISMATCH': '照片拍摄时间不在上门时间范围内。',
    'flag.review': '主管将审核此次上门。',
    'flag.OUTSIDE_GEOFENCE.decided': '您当时距离现场 {distance}。',
    'flag.NO_CHECKOUT.late': '下一次签到时此次上门仍未签退（之后才签退）。',
    'flag.LOW_ACCURACY.decided': '定位精度较差（±{accuracy}）。',
    'flag.OUTSIDE_GEOFENCE.at': '{event}位置距离现场 {distance}，在 {radius} 现场范围外。',
    'flag.LOW_ACCURACY.at': '{event}定位精度较差（±{accuracy}）。',
    'flag.OUTSIDE_GEOFENCE.short': '不在现场范围', 'flag.LOW_ACCURACY.short': '定位不准',
    'flag.MOCK_LOCATION.short': '模拟定位', 'flag.IMPOSSIBLE_TRAVEL.short': '不可能的移动',
    'flag.DUPLICATE_COORDINATES.short': '坐标重复', 'flag.CLOCK_SKEW.short': '时间超前',
    'flag.LATE_SYNC.short': '延迟上传', 'flag.OVERLAPPING_VISIT.short': '上门重叠',
    'flag.SHORT_VISIT.short': '上门过短', 'flag.NO_CHECKOUT.short': '未签退',
    'flag.DUPLICATE_PHOTO.short': '重复照片', 'flag.PHOTO_LOCATION_MISMATCH.short': '照片地点不符',
    'flag.PHOTO_TIME_MISMATCH.short': '照片时间不符',
  },
});

// Each flag as a small sign (its short words are the label), in the queue's order.
const ICONS = {
  OUTSIDE_GEOFENCE: '◎', LOW_ACCURACY: '±', MOCK_LOCATION: '⚠', IMPOSSIBLE_TRAVEL: '⇢',
  DUPLICATE_COORDINATES: '≡', CLOCK_SKEW: '◷', LATE_SYNC: '↻', OVERLAPPING_VISIT: '∩',
  SHORT_VISIT: '↯', NO_CHECKOUT: '∅', DUPLICATE_PHOTO: '❐', PHOTO_LOCATION_MISMATCH: '⌖',
  PHOTO_TIME_MISMATCH: '◴',
};
export const FLAGS = Object.keys(ICONS);
// Flags about how far or how precise a fix was (their sentences name the distance).
export const POSITION_FLAGS = new Set(['OUTSIDE_GEOFENCE', 'LOW_ACCURACY']);
// Flags about where a fix was (drawn as a red ring on a diagram), not about its time.
export const PLACE_FLAGS = new Set([...POSITION_FLAGS, 'MOCK_LOCATION', 'IMPOSSIBLE_TRAVEL', 'DUPLICATE_COORDINATES']);

// A flag in two or three words ("Outside the site"), for filters, chips and signs.
export function flagShort(flag) {
  const key = `flag.${flag}.short`;
  const text = t(key);
  return text === key ? flag : text;
}

// The flags as signs, each labelled with its short words.
export function flagIcons(flags) {
  return h('span', { class: 'vq-icons' }, (flags || []).map((f) => h('span', {
    class: 'vq-icon', role: 'img', 'aria-label': flagShort(f), title: flagShort(f),
  }, h('span', { 'aria-hidden': 'true' }, ICONS[f] || '!'), h('span', { class: 'vq-icon-text', 'aria-hidden': 'true' }, flagShort(f)))));
}

// flagText('OUTSIDE_GEOFENCE', {distance_m: 2300, accuracy_m: 12}, {self: true}) → a sentence.
// `self` (default true) speaks to the engineer ("You are …"); false describes it for a supervisor.
// `at` ({event, radius_m}, with `self` false): a position flag said about the event that
// raised it ("Check-in was 2.3 km from the site, outside its 150 m area.").
// `decided`: the supervisor has decided the visit, so no sentence says they "will review" it.
// `checkedOut`: the visit has a check-out, so NO_CHECKOUT says it came late, not never.
export function flagText(flag, fix = {}, { self = true, decided = false, checkedOut = false, at = null } = {}) {
  const vars = { distance: distance(fix.distance_m), accuracy: distance(fix.accuracy_m) };
  const key = `flag.${flag}`;
  const spatial = POSITION_FLAGS.has(flag);
  if (!self && spatial && at) return t(`${key}.at`, { ...vars, event: at.event, radius: distance(at.radius_m) });
  if (!self && spatial) return t(`${key}.other`, vars);
  if (decided && spatial) return t(`${key}.decided`, vars);
  if (checkedOut && flag === 'NO_CHECKOUT') return t(`${key}.late`, vars);
  const text = t(key, vars);
  return text === key ? flag : text;
}

// Has a supervisor decided this visit (approved, rejected, or a dispute answered)?
export const isDecided = (visit) => Boolean(visit.decided_at) || ['approved', 'rejected'].includes(visit.status);

// Which fix a visit's flag belongs to (the check-out's own flags, else the check-in).
export const fixOfFlag = (visit, flag) => (visit.check_out && (visit.check_out.flags || []).includes(flag) ? visit.check_out : visit.check_in);
