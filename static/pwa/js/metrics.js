// The KPI metrics and their dimensions: their names in both languages, and the lists as
// the server defines them (GET kpi/metrics: kpi.md's table, app/domain/kpi.py), read once
// per screen and kept for offline use like any other read.
import { register, word } from './i18n.js';
import * as api from './api.js';

register({
  en: {
    'metric.first_contact_minutes': 'First contact', 'metric.arrival_minutes': 'Arrival time', 'metric.dispatch_minutes': 'Dispatch time',
    'metric.service_minutes': 'Time on site', 'metric.first_time_fix_rate': 'First-time fix', 'metric.repeat_repair_rate': 'Repeat repairs',
    'metric.nps': 'NPS', 'metric.complaints': 'Complaints', 'metric.trainings_attended': 'Trainings',
    'metric.knowledge_items': 'Approved cases', 'metric.case_quality': 'Case quality', 'metric.checklist_completion_rate': 'Checklists complete',
    'metric.safety_incidents': 'Safety incidents', 'metric.process_violations': 'Process violations', 'metric.false_reports': 'False reports',
    'dimension.response': 'Response', 'dimension.efficiency': 'Efficiency', 'dimension.satisfaction': 'Satisfaction',
    'dimension.knowledge': 'Knowledge', 'dimension.compliance': 'Compliance',
  },
  'zh-CN': {
    'metric.first_contact_minutes': '首次联系客户时间', 'metric.arrival_minutes': '上门等待时长', 'metric.dispatch_minutes': '受理到派单时间',
    'metric.service_minutes': '单次服务耗时', 'metric.first_time_fix_rate': '首次修复成功率', 'metric.repeat_repair_rate': '返修率',
    'metric.nps': 'NPS', 'metric.complaints': '投诉次数', 'metric.trainings_attended': '培训次数',
    'metric.knowledge_items': '通过的案例', 'metric.case_quality': '案例分享质量', 'metric.checklist_completion_rate': '检查清单完成率',
    'metric.safety_incidents': '安全事故', 'metric.process_violations': '操作违规', 'metric.false_reports': '虚假上报',
    'dimension.response': '响应', 'dimension.efficiency': '效率', 'dimension.satisfaction': '满意度',
    'dimension.knowledge': '知识贡献', 'dimension.compliance': '合规',
  },
});

export const metricName = (key) => word('metric', key);
export const dimensionName = (dimension) => word('dimension', dimension);

// {dimensions: ['response', …], items: [{key, dimension, unit, better, kind}, …]}, in order.
// Offline with no copy kept yet: empty lists (a screen then shows what its own answer holds).
export async function metricDefinitions() {
  try {
    return (await api.load('kpi/metrics')).data;
  } catch (error) {
    if (!error.network) throw error;
    return { dimensions: [], items: [] };
  }
}
